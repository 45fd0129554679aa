// Where the CLI's commands go and what it says when that fails: the local stack from stack.json (which file,
// what a half-written one lacks, the stack's virtual clock), Azure from options or the azd environment (the
// function key looked up with az only when the API is called), and every refusal as a message that names the
// key's source and the remedy without printing the key. The app is a real HTTP server on loopback here.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveAzureTarget } from '../../../cli/azure.js';
import { CommandFailedError, type CommandRunner } from '../../../cli/commandRunner.js';
import { CliError, EXIT } from '../../../cli/errors.js';
import { readStackFile, resolveLocalTarget, stackClock, stackFilePath } from '../../../cli/localStack.js';
import { storageFailure } from '../../../cli/storage.js';
import { explicitFunctionKey } from '../../../cli/target.js';
import { cli } from './io.js';

const dir = mkdtempSync(join(tmpdir(), 'gemflow-cli-targets-'));
const GOOD_KEY = 'local-function-key-0123456789';
let server: Server;
let appUrl: string;
let closedUrl: string;
const seenKeys: (string | undefined)[] = [];

/** A stand-in app that accepts only GOOD_KEY, answering 401 with an empty body otherwise (as the host does). */
beforeAll(async () => {
  server = createServer((req, res) => {
    seenKeys.push(req.headers['x-functions-key'] as string | undefined);
    if (req.headers['x-functions-key'] !== GOOD_KEY) return void res.writeHead(401).end();
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end('{"error":{"code":"NotFound","message":"no match"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise((resolve) => closed.close(resolve));
});

afterAll(() => server?.close());

function writeStack(name: string, fields: Record<string, unknown>): string {
  const caFile = join(dir, 'ca-bundle.pem');
  writeFileSync(caFile, '');
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      functionsBaseUrl: appUrl,
      functionKey: GOOD_KEY,
      storageConnectionString: 'UseDevelopmentStorage=true',
      inboxContainer: 'inbox',
      outboxContainer: 'outbox',
      caFile,
      timeScale: 600,
      epochMs: 1_000_000,
      virtualEpochMs: 5_000_000,
      ...fields,
    }),
  );
  return file;
}

const context = (run: CommandRunner = async () => ({ stdout: '' })) => ({ env: {}, cwd: dir, run });

async function failure(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe('the local stack as a target', () => {
  it('finds stack.json from --stack, then GEMFLOW_STACK, then GEMFLOW_LOCAL_DIR, then the repository', () => {
    const env = { GEMFLOW_STACK: 'a/stack.json', GEMFLOW_LOCAL_DIR: '/b' };
    expect(stackFilePath({ stack: 'x.json' }, env, '/cwd')).toBe('/cwd/x.json');
    expect(stackFilePath({}, env, '/cwd')).toBe('/cwd/a/stack.json');
    expect(stackFilePath({}, { GEMFLOW_LOCAL_DIR: '/b' }, '/cwd')).toBe('/b/stack.json');
    expect(stackFilePath({}, {}, '/cwd')).toBe(join(__dirname, '..', '..', '..', '.local', 'stack.json'));
  });

  it('says to run npm start when there is no stack.json, and what a malformed one lacks', async () => {
    const missing = await failure(
      resolveLocalTarget({ stack: join(dir, 'none.json') }, undefined, context()),
    );
    expect(missing).toMatchObject({ code: 'StackNotFound', exitCode: EXIT.connection });
    expect(missing.remedy).toContain('`npm start`');
    const invalid = writeStack('invalid', { storageConnectionString: 3, inboxContainer: undefined });
    expect(() => readStackFile(invalid)).toThrow(
      /lacks or has malformed: storageConnectionString, inboxContainer\./,
    );
  });

  it('says the stack is still starting when the host has not added its URL and key yet', async () => {
    const starting = writeStack('starting', { functionsBaseUrl: undefined, functionKey: undefined });
    const error = await failure(resolveLocalTarget({ stack: starting }, undefined, context()));
    expect(error.code).toBe('StackStarting');
    expect(error.remedy).toContain('ready line');
  });

  it("runs on the stack's virtual clock", () => {
    const clock = stackClock({ timeScale: 600, epochMs: Date.now() - 1000, virtualEpochMs: 0 });
    expect(clock.scale).toBe(600);
    expect(clock.now()).toBeGreaterThanOrEqual(600_000);
    expect(clock.now()).toBeLessThan(700_000);
  });

  it('a refused key names where it came from and what to do, and never the key', async () => {
    const file = writeStack('wrong-key', {});
    const fromStack = await resolveLocalTarget(
      { stack: writeStack('stale', { functionKey: 'stale-key-from-an-earlier-run' }) },
      undefined,
      context(),
    );
    const stale = await failure(fromStack.app.getMatch('match-x'));
    expect(stale).toMatchObject({ code: 'FunctionKeyRefused', exitCode: EXIT.connection });
    expect(stale.summary).toBe(
      `The app at ${appUrl} refused the function key (401); the key came from functionKey in ${join(dir, 'stale.json')}.`,
    );
    expect(stale.remedy).toContain('restart `npm start`');
    expect(stale.message).not.toContain('stale-key-from-an-earlier-run');

    const explicit = explicitFunctionKey({ key: 'typed-wrong-key' }, {});
    const target = await resolveLocalTarget({ stack: file }, explicit, context());
    const typed = await failure(target.app.getMatch('match-x'));
    expect(typed.summary).toContain('the key came from --key.');
    expect(typed.remedy).toBe(`The local stack's key is functionKey in ${file}: drop --key to use it.`);
    expect(typed.message).not.toContain('typed-wrong-key');
    expect(seenKeys).toContain('typed-wrong-key');
  });

  it('the right key reaches the app (a 404 is "no such match", not an error)', async () => {
    const target = await resolveLocalTarget({ stack: writeStack('right', {}) }, undefined, context());
    await expect(target.app.getMatch('match-x')).resolves.toBeUndefined();
  });

  it('nothing listening is "start the stack", through the whole CLI as through the client', async () => {
    const file = writeStack('stopped', { functionsBaseUrl: closedUrl });
    const run = await cli(['--stack', file, 'list'], { fetch });
    expect(run.code).toBe(EXIT.connection);
    expect(run.stderr).toContain(`error: Nothing answers at ${closedUrl} (ECONNREFUSED).`);
    expect(run.stderr).toContain('what to do: Start the local stack with `npm start`');
  });

  it('the key precedence is --key, then GEMFLOW_FUNCTION_KEY, then the target', () => {
    expect(explicitFunctionKey({ key: 'a' }, { GEMFLOW_FUNCTION_KEY: 'b' })).toEqual({
      key: 'a',
      origin: '--key',
    });
    expect(explicitFunctionKey({}, { GEMFLOW_FUNCTION_KEY: 'b' })).toEqual({
      key: 'b',
      origin: 'GEMFLOW_FUNCTION_KEY',
    });
    expect(explicitFunctionKey({}, {})).toBeUndefined();
  });
});

describe('Azure as a target', () => {
  const azdValues = () => ({
    SERVICE_API_URI: appUrl,
    AZURE_STORAGE_ACCOUNT_NAME: 'stgemflow',
    INBOX_CONTAINER: 'inbox-x',
    OUTBOX_CONTAINER: 'outbox-x',
    AZURE_RESOURCE_GROUP: 'rg-gemflow',
    AZURE_FUNCTION_APP_NAME: 'func-gemflow',
  });

  function runner(key: string) {
    const calls: string[] = [];
    const run: CommandRunner = async (file, args) => {
      calls.push(`${file} ${args.join(' ')}`);
      if (file === 'azd') return { stdout: JSON.stringify(azdValues()) };
      if (file === 'az') return { stdout: `${key}\n` };
      throw new Error(file);
    };
    return { run, calls };
  }

  it('reads the app, storage and containers from the azd environment, and the key from az only when the API is called', async () => {
    const { run, calls } = runner(GOOD_KEY);
    const target = await resolveAzureTarget({ azd: true }, undefined, context(run));
    expect(target).toMatchObject({
      kind: 'azure',
      description: `the app at ${appUrl} (storage account stgemflow)`,
    });
    expect(target.inbox.url).toBe('https://stgemflow.blob.core.windows.net/inbox-x');
    expect(target.outbox.containerName).toBe('outbox-x');
    expect(calls).toEqual(['azd env get-values --output json --no-prompt']);
    await expect(target.app.getMatch('match-x')).resolves.toBeUndefined();
    expect(calls[1]).toBe(
      'az functionapp keys list --resource-group rg-gemflow --name func-gemflow --query functionKeys.default -o tsv',
    );
  });

  it('a refused key says how to get the current one, without printing either', async () => {
    const { run } = runner('rotated-away-key');
    const target = await resolveAzureTarget({ azd: true }, undefined, context(run));
    const error = await failure(target.app.getMatch('match-x'));
    expect(error.code).toBe('FunctionKeyRefused');
    expect(error.remedy).toBe(
      "Get the app's current key with `az functionapp keys list --resource-group rg-gemflow --name func-gemflow --query functionKeys.default -o tsv` and pass it as --key (or GEMFLOW_FUNCTION_KEY).",
    );
    expect(error.message).not.toContain('rotated-away-key');
  });

  it('without azd installed, or without an app URL, says what to pass instead', async () => {
    const missing: CommandRunner = async (file) => {
      throw new CommandFailedError(file, true, '');
    };
    const noAzd = await failure(resolveAzureTarget({ azd: true }, undefined, context(missing)));
    expect(noAzd.summary).toContain('(azd) is not installed');
    expect(noAzd.remedy).toContain('--app-url and --storage-account');
    const noUrl = await failure(resolveAzureTarget({ storageAccount: 'x' }, undefined, context()));
    expect(noUrl).toMatchObject({ exitCode: EXIT.usage, summary: 'No app URL for Azure.' });
  });
});

describe('storage failures', () => {
  const local = { kind: 'local' as const, unreachableRemedy: 'start it' };
  const azure = { kind: 'azure' as const, unreachableRemedy: 'deploy it' };

  it('say what to do for a refusal, a missing sign-in, a refused name and no answer', () => {
    const refused = new RestError('denied', { statusCode: 403, code: 'AuthorizationPermissionMismatch' });
    expect(storageFailure(refused, 'upload x', azure).remedy).toContain('Storage Blob Data Contributor');
    expect(storageFailure(refused, 'upload x', local).remedy).toContain('restart `npm start`');
    const signIn = Object.assign(new Error('no credential'), { name: 'CredentialUnavailableError' });
    expect(storageFailure(signIn, 'upload x', azure)).toMatchObject({
      code: 'NotSignedIn',
      remedy: expect.stringContaining('az login'),
    });
    const name = new RestError('bad', { statusCode: 400, code: 'InvalidResourceName' });
    expect(storageFailure(name, 'upload x', azure)).toMatchObject({
      exitCode: EXIT.usage,
      code: 'StorageRefusedName',
    });
    const down = new RestError('connect ECONNREFUSED 127.0.0.1:10000', { code: 'REQUEST_SEND_ERROR' });
    expect(storageFailure(down, 'upload x', local)).toMatchObject({
      exitCode: EXIT.connection,
      remedy: 'start it',
    });
  });
});
