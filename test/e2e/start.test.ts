// `npm start` end to end, driven only over HTTP and through .local/stack.json: the stack and the host child
// come up, stack.json describes them, the app answers, and Ctrl-C leaves no process behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureApp, tempDir, waitFor } from '../contract/host/helpers.js';

const repoRoot = resolve(__dirname, '../..');
const localDir = tempDir('start');
let realApp = false;

interface StackJson {
  functionsBaseUrl?: string;
  functionKey: string;
  masterKey: string;
  systemKey: string;
  hostPid: number;
  timeScale: number;
  functions: { name: string; trigger: string }[];
  pids: { stack: number; azurite: number };
}

let child: ChildProcess;
let exited: Promise<number | null>;
let stack: StackJson;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  realApp = existsSync(join(repoRoot, 'dist/functions/index.js'));
  // Without the built app, the launcher runs the host's fixture app, so everything but the app part is tested.
  const appEnv = realApp
    ? {}
    : {
        GEMFLOW_APP_ROOT: fixtureApp,
        FIXTURE_OUT_DIR: localDir,
        FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *',
        FIXTURE_CONTAINER: 'inbox',
      };
  child = spawn(process.execPath, [join(repoRoot, 'dist/local/start.js')], {
    cwd: repoRoot,
    env: { ...process.env, GEMFLOW_LOCAL_DIR: localDir, GEMFLOW_TIME_SCALE: '60', ...appEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
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
    for (const key of [stack.functionKey, stack.systemKey, stack.masterKey])
      expect(key).toMatch(/^[\w-]{20,}$/);
    expect(alive(stack.hostPid)).toBe(true);
  });

  it('serves health and the admin status with the master key', async () => {
    expect((await fetch(`${stack.functionsBaseUrl}/`)).status).toBe(200);
    const status = await fetch(`${stack.functionsBaseUrl}/admin/host/status`, {
      headers: { 'x-functions-key': stack.masterKey },
    });
    expect(await status.json()).toMatchObject({ state: 'Running' });
  });

  it('serves the app: listing matches needs the function key', async (context) => {
    if (!realApp)
      context.skip('dist/functions/index.js is not built yet; the fixture app stood in for the app');
    expect((await fetch(`${stack.functionsBaseUrl}/api/matches`)).status).toBe(401);
    const list = await fetch(`${stack.functionsBaseUrl}/api/matches`, {
      headers: { 'x-functions-key': stack.functionKey },
    });
    expect(list.status).toBe(200);
  });

  it('stops the host and the stack on SIGINT, leaving no process behind', async () => {
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(alive(stack.hostPid)).toBe(false);
    expect(alive(stack.pids.azurite)).toBe(false);
  });
});
