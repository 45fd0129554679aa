/**
 * Crash-resume: the engine runs in a child process that is SIGKILLed mid-activity and again mid-timer; each
 * restart resumes from Azurite and the orchestration completes with the same output. Activities are
 * at-least-once: executions of an activity ≤ 1 + crashes during its run, and ≥ 1.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as df from 'durable-functions';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  clientFromBinding,
  fixtureDir,
  repoRoot,
  type Storage,
  startStorage,
  uniqueHub,
  waitForStatus,
} from './durable-harness.js';

const require_ = createRequire(__filename);
const dist = path.join(repoRoot, '.local/durable-launcher');
let storage: Storage;
const children: ChildProcess[] = [];

beforeAll(async () => {
  storage = await startStorage();
  // The child runs compiled JavaScript of the engine (plain node cannot load the TypeScript sources).
  execFileSync(
    process.execPath,
    [require_.resolve('typescript/bin/tsc'), '-p', path.join(fixtureDir, 'tsconfig.launcher.json')],
    { cwd: repoRoot, stdio: 'inherit' },
  );
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await storage?.stop();
});

interface Host {
  child: ChildProcess;
  client: df.DurableClient;
  logs: string[];
}

async function launch(env: Record<string, string>): Promise<Host> {
  const child = spawn(process.execPath, [path.join(fixtureDir, 'launcher.js')], {
    env: { ...process.env, ...env, DURABLE_ENGINE_DIST: dist, AzureWebJobsStorage: storage.connectionString },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const logs: string[] = [];
  child.stderr?.on('data', (c: Buffer) => logs.push(c.toString()));
  const binding = await new Promise<unknown>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const line = /^READY (.*)$/m.exec(out);
      if (line) resolve(JSON.parse(line[1]));
    });
    child.once('exit', (code) => reject(new Error(`launcher exited (${code}): ${logs.join('')}`)));
  });
  return { child, client: clientFromBinding(binding), logs };
}

async function kill(host: Host): Promise<void> {
  const exited = new Promise((resolve) => host.child.once('exit', resolve));
  host.child.kill('SIGKILL');
  await exited;
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

it('resumes after SIGKILL mid-activity and mid-timer with the same output (at-least-once)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'durable-crash-'));
  const file = path.join(dir, 'executions.log');
  writeFileSync(file, '');
  // Same virtual clock in every run: 1 real second = 1 virtual hour, so the 2-hour timer takes 2 s.
  const env = {
    DURABLE_TASK_HUB: uniqueHub('Crash'),
    LOCAL_TIME_SCALE: '3600',
    LOCAL_TIME_EPOCH_MS: String(Date.now()),
  };

  const first = await launch(env);
  const id = await first.client.startNew('CrashWorkflow', { input: { file, sleepMs: 1500 } });
  while (!lines(file).includes('a')) await new Promise((r) => setTimeout(r, 10));
  await kill(first); // crash 1: while activity 'a' sleeps, before its completion exists

  const second = await launch(env);
  await waitForStatus(second.client, id, (s) => s.customStatus === 'timer');
  await kill(second); // crash 2: while the durable timer is pending

  const third = await launch(env);
  const status = await waitForStatus(third.client, id);
  expect(status.runtimeStatus, third.logs.join('')).toBe('Completed');
  expect(status.output).toEqual({ a: 'a', b: 'b' });

  const executions = lines(file);
  const a = executions.filter((l) => l === 'a').length;
  const b = executions.filter((l) => l === 'b').length;
  // At-least-once bound: executions ≥ 1 and ≤ 1 + crashes during the activity's run. 'a' was running
  // during crash 1 and had completed (status 'timer') before crash 2, so it ran exactly twice.
  expect(a).toBeGreaterThanOrEqual(1);
  expect(a).toBeLessThanOrEqual(1 + 1);
  expect(a).toBe(2);
  // No crash happened while 'b' ran: exactly once.
  expect(b).toBe(1);
  await kill(third);
}, 60_000);
