// The host as a separate process (dist/local/host/cli.js), the way `npm start` runs it: ready line, serving,
// a clean exit on SIGTERM with the appTerminate hook run, a function disabled at indexing reported in the ready
// line (the others still served), and a loud start-up failure when there is no app to load.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { fixtureApp, records, tempDir } from './helpers.js';

const cli = resolve(__dirname, '../../../dist/local/host/cli.js');

function spawnHost(env: Record<string, string>, app = fixtureApp) {
  const child = spawn(
    process.execPath,
    [cli, '--app', app, '--port', '0', '--state-dir', tempDir('cli-state')],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<{ code: number | null; stderr: string }>((resolveExit) => {
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.once('exit', (code) => resolveExit({ code, stderr }));
  });
  return { child, exited };
}

function readyLine(child: ChildProcess): Promise<{
  baseUrl: string;
  pid: number;
  functions: unknown[];
  functionErrors: Record<string, string[]>;
}> {
  return new Promise((resolveReady, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"event":"ready"')) resolveReady(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`host exited with ${code} before it was ready`)));
  });
}

describe('host CLI (child process)', () => {
  it('prints a ready line, serves the app and exits cleanly on SIGTERM', async () => {
    const out = tempDir('cli-out');
    const { child, exited } = spawnHost({
      FIXTURE_OUT_DIR: out,
      FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *',
    });
    const ready = await readyLine(child);
    expect(ready.pid).toBe(child.pid);
    expect(ready.functions).toHaveLength(10);
    const res = await fetch(`${ready.baseUrl}/api/hello/cli`);
    expect(await res.json()).toMatchObject({ params: { name: 'cli' } });
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
    expect(records(out, 'hooks.jsonl')).toEqual([{ hook: 'appStart' }, { hook: 'appTerminate' }]);
  });

  it('reports a timer with a 5-field schedule as in error in the ready line, and serves the rest', async () => {
    const { child, exited } = spawnHost({
      FIXTURE_OUT_DIR: tempDir('cli-out'),
      FIXTURE_TICK_SCHEDULE: '0 * * * *',
    });
    const ready = await readyLine(child);
    expect(ready.functions).toHaveLength(10);
    expect(Object.keys(ready.functionErrors)).toEqual(['tick']);
    expect(ready.functionErrors.tick![0]).toMatch(/Error indexing method 'Functions\.tick'.*6-field/);
    expect((await fetch(`${ready.baseUrl}/api/hello/cli`)).status).toBe(200);
    child.kill('SIGTERM');
    expect((await exited).code).toBe(0);
  });

  it('fails start-up with exit code 1 and says why when there is no app to load', async () => {
    const { exited } = spawnHost({}, tempDir('cli-no-app'));
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/failed to start: No package\.json in .*cli-no-app/);
  });
});
