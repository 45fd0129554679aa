/**
 * Crash-resume on the real host: the Functions host CLI (dist/local/host/cli.js) runs the durable fixture app
 * and is SIGKILLed mid-activity and again while a durable timer is pending. Each restart, on the same port and
 * state dir (so the keys persist), resumes from the task hub in table storage, and the orchestration completes
 * with the same output. The test drives the instance only through the host's public Durable HTTP API.
 * Activities are at-least-once: executions of an activity ≤ 1 + crashes during its run, and ≥ 1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, expect, it } from 'vitest';
import { clockSettings, createClock } from '../../../local/host/clock.js';
import { fixtureDir, repoRoot, uniqueHub, useDurableStorage } from './durableHarness.js';

/** Built by the integration project's global setup (test/setup/build.ts). */
const cli = path.join(repoRoot, 'dist/local/host/cli.js');
const terminal = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

const storage = useDurableStorage();
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

interface Host {
  child: ChildProcess;
  baseUrl: string;
  port: number;
  /** Everything the host printed, for failure messages. */
  logs: string[];
}

/** Starts the host CLI on the fixture app and resolves once it prints its ready line. */
async function launch(port: number, stateDir: string, env: Record<string, string>): Promise<Host> {
  const child = spawn(
    process.execPath,
    [cli, '--app', fixtureDir, '--port', String(port), '--state-dir', stateDir],
    {
      env: { ...process.env, ...env, AzureWebJobsStorage: storage.connectionString },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
  const ready = await new Promise<{ baseUrl: string; port: number }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"event":"ready"')) resolve(JSON.parse(line));
      else logs.push(line);
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`The host exited before it was ready (${signal ?? code}):\n${logs.join('\n')}`)),
    );
  });
  return { child, baseUrl: ready.baseUrl, port: ready.port, logs };
}

async function kill(host: Host): Promise<void> {
  const exited = new Promise((resolve) => host.child.once('exit', resolve));
  host.child.kill('SIGKILL');
  await exited;
}

interface InstanceStatus {
  runtimeStatus: string;
  customStatus: unknown;
  output: unknown;
}

/** GET instances/{id} on the host's webhook (202 while running, 200 when finished); polls until `until`. */
async function waitForStatus(
  host: Host,
  systemKey: string,
  id: string,
  until: (s: InstanceStatus) => boolean = (s) => terminal.has(s.runtimeStatus),
): Promise<InstanceStatus> {
  const url = `${host.baseUrl}/runtime/webhooks/durabletask/instances/${id}?code=${encodeURIComponent(systemKey)}`;
  for (;;) {
    const res = await fetch(url);
    if (res.status !== 200 && res.status !== 202) {
      throw new Error(`GET instance ${id}: HTTP ${res.status} ${await res.text()}\n${host.logs.join('\n')}`);
    }
    const status = (await res.json()) as InstanceStatus;
    if (until(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

it('resumes after SIGKILL of the host mid-activity and mid-timer with the same output (at-least-once)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'durable-crash-'));
  const stateDir = path.join(dir, 'host');
  const file = path.join(dir, 'executions.log');
  writeFileSync(file, '');
  // Same settings in every run: the fixture's host.json takes the hub name from DURABLE_TASK_HUB (a hub of
  // its own, so other tests' instances never resume here), and one virtual clock where 1 real second is
  // 1 virtual hour, so the 2-hour timer takes 2 s and keeps its due time across restarts.
  const env = {
    DURABLE_TASK_HUB: uniqueHub('Crash'),
    // All three clock settings, so none is inherited from the shared stack's clock in this worker's env.
    ...clockSettings(createClock({ scale: 3600 })),
  };

  const first = await launch(0, stateDir, env);
  // The keys the first run created; the restarts reuse the state dir, so the same system key must work.
  const { systemKey } = JSON.parse(readFileSync(path.join(stateDir, 'keys.json'), 'utf8')) as {
    systemKey: string;
  };
  const started = await fetch(
    `${first.baseUrl}/runtime/webhooks/durabletask/orchestrators/CrashWorkflow?code=${encodeURIComponent(systemKey)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ file, sleepMs: 1500 }),
    },
  );
  expect(started.status, first.logs.join('\n')).toBe(202);
  const { id } = (await started.json()) as { id: string };
  while (!lines(file).includes('a')) await new Promise((r) => setTimeout(r, 10));
  await kill(first); // crash 1: while activity 'a' sleeps, before its completion exists

  // Same port as before: the status URLs the first run handed out stay valid.
  const second = await launch(first.port, stateDir, env);
  expect(second.baseUrl).toBe(first.baseUrl);
  await waitForStatus(second, systemKey, id, (s) => s.customStatus === 'timer');
  await kill(second); // crash 2: while the durable timer is pending

  const third = await launch(first.port, stateDir, env);
  const status = await waitForStatus(third, systemKey, id);
  expect(status.runtimeStatus, third.logs.join('\n')).toBe('Completed');
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
