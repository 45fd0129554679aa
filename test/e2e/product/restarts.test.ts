// The local stack survives its host dying. Under restartOnCrash (what npm start uses), a host SIGKILLed in the
// middle of a match is started again on the same port and state, and the match completes with one GEM job; a
// host that keeps dying at start is restarted with backoff up to the limit, then reported with its last exit and
// its log. A persistent app stopped and started again mid-match resumes polling the same job, which the
// simulator still holds on its saved virtual schedule, and the host's and the simulator's virtual time go on
// together from where they stopped.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostDown, HostRestart } from '../../../local/app.js';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import type { MatchResult } from '../../../shared/workflow/types.js';
import {
  durableInstance,
  readOutboxJson,
  runDocuments,
  simulatorAdmin,
  startApp,
  type TestApp,
  uploadInbox,
  waitForMatch,
  waitUntil,
} from '../harness.js';

const HOUR = 3600_000;
const apps: TestApp[] = [];
const dirs: string[] = [];

afterAll(async () => {
  await Promise.allSettled(apps.map((app) => app.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function started(options: Parameters<typeof startApp>[0]): Promise<TestApp> {
  const app = await startApp(options);
  apps.push(app);
  return app;
}

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gemflow-e2e-${name}-`));
  dirs.push(dir);
  return dir;
}

interface TimelineJob {
  job_id: number;
  status: string;
  requested_at: string;
  starts_at: string;
  completes_at: string | null;
}

async function timeline(app: TestApp): Promise<TimelineJob[]> {
  const response = await fetch(`${app.stack.info.simulatorAdminUrl}/jobs/timeline`);
  return ((await response.json()) as { jobs: TimelineJob[] }).jobs;
}

describe('a host killed mid-match', () => {
  it('is restarted on the same port and state, and the match completes with exactly one GEM job', async () => {
    // A 30-minute job: 3 s at 600×, long enough to kill the host while the match monitors it.
    const app = await started({
      name: 'restart-kill',
      timeScale: 600,
      restartOnCrash: { initialDelayMs: 200 },
      jobDurations: { queuedMs: 60_000, minRunningMs: 30 * 60_000 },
    });
    const restarts: HostRestart[] = [];
    const downs: HostDown[] = [];
    app.onHostRestart((restart) => restarts.push(restart));
    app.onUnexpectedHostExit((down) => downs.push(down));

    const upload = await uploadInbox(
      app,
      'killed-host.parquet',
      roadMatchingSample('valid', { rows: 25, seed: 5 }),
    );
    const monitoring = await waitForMatch(app, upload.matchId, {
      until: (s) => s.phase === 'monitoring' && s.jobId !== null,
    });
    const firstPid = app.hostPid;
    process.kill(firstPid, 'SIGKILL');

    await waitUntil(() => (app.hostPid !== firstPid ? true : undefined), 'the restarted host', 30_000);
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatchObject({ exit: 'signal SIGKILL', restart: 1, delayMs: 200 });
    expect(restarts[0]!.line).toContain('restarting it in 200 ms on the same port and state');

    const done = await waitForMatch(app, upload.matchId);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', outcome: 'succeeded', jobId: monitoring.jobId });
    const jobs = (await simulatorAdmin(app).jobs()).filter((j) => j.input_filename.includes('killed-host'));
    expect(jobs.map((j) => [j.job_id, j.status])).toEqual([[monitoring.jobId, 'SUCCESS']]);
    expect(downs).toEqual([]);
  });
});

describe('a host that keeps dying at start', () => {
  it('is restarted with doubling waits up to the limit, then reported with its last exit and its log', async () => {
    const dir = tempDir('restart-loop');
    const marker = join(dir, 'crash-marker');
    const logFile = join(dir, 'host', 'host.log');
    const app = await started({
      name: 'restart-loop',
      dir,
      timeScale: 600,
      restartOnCrash: { maxRestarts: 3, windowMs: 60_000, initialDelayMs: 50 },
      hostLogFile: logFile,
      hostNodeArgs: ['--require', join(__dirname, '../../fixtures/host-crash/crash-at-start.cjs')],
      env: { GEMFLOW_TEST_CRASH_MARKER: marker },
    });
    const restarts: HostRestart[] = [];
    const downs: HostDown[] = [];
    app.onHostRestart((restart) => restarts.push(restart));
    app.onUnexpectedHostExit((down) => downs.push(down));

    writeFileSync(marker, 'crash');
    process.kill(app.hostPid, 'SIGKILL');
    const down = await waitUntil(() => downs[0], 'the host to be reported down', 30_000);

    expect(restarts.map((r) => [r.restart, r.delayMs, r.exit])).toEqual([
      [1, 50, 'signal SIGKILL'],
      [2, 100, 'code 1, during start-up'],
      [3, 200, 'code 1, during start-up'],
    ]);
    expect(down).toMatchObject({ exit: 'code 1, during start-up', restarts: 3, logFile });
    expect(down.message).toContain('4 unexpected exits within 1 min, the last one code 1, during start-up');
    expect(down.message).toContain(logFile);
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('crash-at-start:');
    expect(log).toContain(restarts[2]!.line);
    expect(log).toContain(down.message);

    // Reported, not spun: nothing more is tried, and nothing answers on the host's port.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(restarts).toHaveLength(3);
    await expect(fetch(`${app.baseUrl}/api/health`)).rejects.toThrow();
  });
});

describe('a persistent app stopped and started again mid-match', () => {
  it('polls the same job, which still exists and completes, on virtual time that went on from the stop', async () => {
    const dir = tempDir('restart-stack');
    // A 3-hour job: 18 s at 600×, so it is still running after a stop, 4 s down and a start.
    const options = {
      name: 'restart-stack',
      dir,
      persistent: true,
      timeScale: 600,
      jobDurations: { queuedMs: 60_000, minRunningMs: 3 * HOUR },
    } as const;
    const first = await started(options);
    const upload = await uploadInbox(
      first,
      'stopped-stack.parquet',
      roadMatchingSample('valid', { rows: 20, seed: 9 }),
    );
    const running = await waitForMatch(first, upload.matchId, {
      until: (s) => s.phase === 'monitoring' && s.gemStatus === 'IN_PROGRESS',
    });
    const before = await timeline(first);
    expect(before.map((j) => j.job_id)).toEqual([running.jobId]);

    const stoppingAt = { real: Date.now(), virtual: first.stack.clock.now() };
    await first.close();
    const closeMs = Date.now() - stoppingAt.real;
    await new Promise((resolve) => setTimeout(resolve, 4000)); // 40 virtual minutes, if time ran while down

    const second = await started(options);
    // The stack's virtual time goes on from where it stopped, not from where the wall clock has got to.
    expect(second.stack.clock.virtualEpochMs).toBeGreaterThanOrEqual(stoppingAt.virtual);
    expect(second.stack.clock.virtualEpochMs).toBeLessThanOrEqual(stoppingAt.virtual + closeMs * 600);
    // The job is still there, on the schedule it had; the resumed match sees it running, then finished.
    expect(await timeline(second)).toEqual(before);
    const stillRunning = await waitForMatch(second, upload.matchId, {
      until: (s) => s.polls > running.polls,
    });
    expect(stillRunning).toMatchObject({ jobId: running.jobId, gemStatus: 'IN_PROGRESS' });
    const done = await waitForMatch(second, upload.matchId, { timeoutMs: 60_000 });
    expect(done).toMatchObject({ runtimeStatus: 'Completed', outcome: 'succeeded', jobId: running.jobId });

    const admin = simulatorAdmin(second);
    expect((await admin.jobs()).map((j) => [j.job_id, j.status])).toEqual([[running.jobId, 'SUCCESS']]);
    const polls = (await admin.requests(0)).byRouteAndStatus['GET /jobs/{id}'] ?? {};
    expect(Object.keys(polls), 'every poll found the job').toEqual(['200']);
    // One clock for the host and the simulator: the match noticed the end after the job's saved end, within a
    // poll interval (10 virtual minutes) plus delivery, not an outage later.
    const result = (await durableInstance<MatchResult>(second, upload.matchId)).output;
    const completesAt = Date.parse(before[0]!.completes_at!);
    const noticedAfterMs = Date.parse(result.finishedAt) - completesAt;
    expect(noticedAfterMs).toBeGreaterThanOrEqual(0);
    expect(noticedAfterMs).toBeLessThan(30 * 60_000);
    // The restarted host ran its timers with their durable client in place.
    expect(second.hostLog.join('\n')).not.toContain('not a valid durable client input');
    // The summary's times are on one clock across the stop: total = completed − requested.
    const { summary } = runDocuments('stopped-stack.parquet', upload.matchId);
    const { timings } = (await readOutboxJson<{
      timings: { requestedAt: string; completedAt: string; durations: { totalSeconds: number } };
    }>(second, summary))!;
    const measured = (Date.parse(timings.completedAt) - Date.parse(timings.requestedAt)) / 1000;
    expect(Math.abs(timings.durations.totalSeconds - measured)).toBeLessThanOrEqual(1);
    expect(timings.durations.totalSeconds).toBeGreaterThanOrEqual(3 * 3600);
    expect(timings.durations.totalSeconds).toBeLessThan(5 * 3600);
  }, 150_000);
});
