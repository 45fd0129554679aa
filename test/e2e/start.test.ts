// `npm start` end to end, driven only over HTTP and through .local/stack.json: the stack and the host child
// come up, stack.json describes them, the app answers, a killed host is started again on the same URL, and
// Ctrl-C leaves no process behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustCaBundle } from '../../cli/localStack.js';
import { roadMatchingSample } from '../../local/standins/samples.js';
import { tempDir, waitFor } from '../contract/host/helpers.js';

const repoRoot = resolve(__dirname, '../..');
const localDir = tempDir('start');
const httpDir = tempDir('start-http');

interface StackJson {
  functionsBaseUrl?: string;
  storageConnectionString: string;
  inboxContainer: string;
  caFile: string;
  functionKey: string;
  masterKey: string;
  systemKey: string;
  eventGridKey: string;
  hostPid: number;
  timeScale: number;
  functions: { name: string; trigger: string }[];
  pids: { stack: number; azurite: number };
}

let child: ChildProcess;
let exited: Promise<number | null>;
let stack: StackJson;
let output = '';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  child = spawn(process.execPath, [join(repoRoot, 'dist/local/start.js')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      GEMFLOW_LOCAL_DIR: localDir,
      GEMFLOW_TIME_SCALE: '60',
      GEMFLOW_HTTP_ENV_DIR: httpDir,
      // As scripts/start.js passes them: the banner's "ready in" counts from before the build.
      GEMFLOW_LAUNCHED_AT_MS: String(Date.now() - 60_000),
      GEMFLOW_BUILD_MS: '1234',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  exited = new Promise((r) => child.once('exit', (code) => r(code)));
  stack = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
      const file = join(localDir, 'stack.json');
      if (!existsSync(file)) return undefined;
      const json = JSON.parse(readFileSync(file, 'utf8')) as StackJson;
      return json.functionsBaseUrl ? json : undefined;
    },
    'stack.json with functionsBaseUrl',
    90_000,
  );
}, 150_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await exited;
  }
});

describe('npm start', () => {
  it('describes the running host in stack.json', () => {
    expect(stack.functionsBaseUrl).toMatch(/^http:\/\/localhost:\d+$/);
    expect(stack.timeScale).toBe(60);
    expect(stack.functions.length).toBeGreaterThan(0);
    for (const key of [stack.functionKey, stack.systemKey, stack.eventGridKey, stack.masterKey])
      expect(key).toMatch(/^[\w-]{20,}$/);
    expect(stack.eventGridKey).not.toBe(stack.systemKey);
    expect(alive(stack.hostPid)).toBe(true);
  });

  it('serves health and the admin status with the master key', async () => {
    expect((await fetch(`${stack.functionsBaseUrl}/`)).status).toBe(200);
    const status = await fetch(`${stack.functionsBaseUrl}/admin/host/status`, {
      headers: { 'x-functions-key': stack.masterKey },
    });
    expect(await status.json()).toMatchObject({ state: 'Running' });
  });

  it('serves the app: health is anonymous, matches need the function key and get field errors', async () => {
    const health = await fetch(`${stack.functionsBaseUrl}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'alive' });
    expect((await fetch(`${stack.functionsBaseUrl}/api/matches`)).status).toBe(401);
    const list = await fetch(`${stack.functionsBaseUrl}/api/matches`, {
      headers: { 'x-functions-key': stack.functionKey },
    });
    expect(list.status).toBe(200);
    const start = await fetch(`${stack.functionsBaseUrl}/api/matches`, {
      method: 'POST',
      headers: { 'x-functions-key': stack.functionKey, 'content-type': 'application/json' },
      body: JSON.stringify({ inboxBlob: 'not-uploaded.parquet' }),
    });
    expect(start.status).toBe(400);
    expect(JSON.stringify(await start.json())).toContain('inboxBlob');
  });

  it("prints a banner whose ready time counts the build, and writes requests.http's variables", () => {
    const ready = /gem-flow is running locally \(ready in (\d+) ms, build 1234 ms included\)/.exec(output);
    expect(ready, output).not.toBeNull();
    expect(Number(ready![1])).toBeGreaterThanOrEqual(60_000);
    expect(readFileSync(join(httpDir, '.env'), 'utf8')).toContain(
      `GEMFLOW_BASE_URL=${stack.functionsBaseUrl}\nGEMFLOW_FUNCTION_KEY=${stack.functionKey}\n`,
    );
    const jetbrains = JSON.parse(readFileSync(join(httpDir, 'http-client.private.env.json'), 'utf8'));
    expect(jetbrains).toEqual({
      local: { GEMFLOW_BASE_URL: stack.functionsBaseUrl, GEMFLOW_FUNCTION_KEY: stack.functionKey },
    });
    expect(statSync(join(httpDir, '.env')).mode & 0o077).toBe(0);
  });

  it('says what a match does: a line per phase and one at its end', async () => {
    // This stack has a CA of its own (under its local dir), as a user's npm start has.
    trustCaBundle(readFileSync(stack.caFile, 'utf8'));
    const inbox = BlobServiceClient.fromConnectionString(stack.storageConnectionString).getContainerClient(
      stack.inboxContainer,
    );
    const bytes = roadMatchingSample('duplicate-ids', { rows: 20, seed: 5 });
    await inbox.getBlockBlobClient('talk.parquet').uploadData(bytes);
    const end = await waitFor(
      () => /\[match\] (match-[0-9a-f]+) ended invalid-input[^\n]*/.exec(output) ?? undefined,
      'the end line of the match',
      60_000,
    );
    expect(output).toContain(`[match] ${end[1]} validating`);
    expect(end[0]).toMatch(/outputs in the outbox under \S+\/ \(validation\.json\)/);
  });

  it('starts a killed host again on the same URL and state, saying so in one line', async () => {
    const killed = stack.hostPid;
    process.kill(killed, 'SIGKILL');
    const restarted = await waitFor(
      () => {
        const json = JSON.parse(readFileSync(join(localDir, 'stack.json'), 'utf8')) as StackJson;
        return json.hostPid !== killed ? json : undefined;
      },
      'stack.json with the restarted host',
      60_000,
    );
    expect(output).toContain(
      'The Functions host exited unexpectedly (signal SIGKILL); restarting it in 1 s on the same port and state (restart 1 of at most 5 in 10 min).',
    );
    expect(restarted.functionsBaseUrl).toBe(stack.functionsBaseUrl);
    expect(alive(restarted.hostPid)).toBe(true);
    // The same keys still work: the host state under .local/host is the same.
    const list = await fetch(`${stack.functionsBaseUrl}/api/matches`, {
      headers: { 'x-functions-key': stack.functionKey },
    });
    expect(list.status).toBe(200);
    expect(readFileSync(join(localDir, 'host', 'host.log'), 'utf8')).toContain('restarting it in 1 s');
    stack = restarted;
  });

  it('stops the host and the stack on SIGINT, leaving no process behind', async () => {
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(alive(stack.hostPid)).toBe(false);
    expect(alive(stack.pids.azurite)).toBe(false);
  });
});
