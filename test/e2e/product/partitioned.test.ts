// Partitioned matching on the local stack, virtual time: a large input is split into parts of at most
// GEM_MAX_ROADS_PER_JOB roads, one GEM job each with at most GEM_MAX_PARALLEL_JOBS running; one part whose job is
// forced to FAIL is submitted again, and the merged results hold every part's rows. The simulator's per-user
// concurrent-job limit makes TomTom refuse creates (429): the effective window shrinks to what is allowed and no
// part fails. A part that fails in every attempt fails the match, naming the part, its job and the setting to
// change. A host SIGKILLed mid-fan-out is restarted and the run still creates exactly one job per part.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { roadMatchingSample, writeValidSampleFile } from '../../../local/standins/samples.js';
import {
  type CompactMatchStatus,
  getMatch,
  readOutbox,
  readParquet,
  readPdgFile,
  runDocuments,
  type SimulatorJob,
  simulatorAdmin,
  startApp,
  type TestApp,
  uploadInbox,
  waitForMatch,
  waitUntil,
} from '../harness.js';

/** The acceptance size is 1 M roads in 8 parts; PARTITIONED_E2E_ROWS scales it down for a quick local run. */
const ROWS = Number(process.env.PARTITIONED_E2E_ROWS ?? 1_000_000);
const PARTS = 8;
const MAX_ROADS = Math.ceil(ROWS / PARTS);
const RUN_TIMEOUT = 20 * 60_000;

const apps: TestApp[] = [];
const dirs: string[] = [];
// Each test's app is closed when the test ends: three stacks at once are too much for a small machine.
afterEach(async () => {
  await Promise.allSettled(apps.splice(0).map((app) => app.close()));
});
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function started(
  name: string,
  maxRoads: number,
  options: Parameters<typeof startApp>[0] = {},
): Promise<TestApp> {
  const app = await startApp({
    name,
    env: { GEM_MAX_ROADS_PER_JOB: String(maxRoads), GEM_MAX_PARALLEL_JOBS: String(PARTS) },
    // Set PARTITIONED_E2E_HOST_LOGS to a directory to keep each host's log there.
    ...(process.env.PARTITIONED_E2E_HOST_LOGS
      ? { hostLogFile: join(process.env.PARTITIONED_E2E_HOST_LOGS, `${name}.log`) }
      : {}),
    ...options,
  });
  apps.push(app);
  return app;
}

/** The input: the generator's valid roads, written a row group at a time when large. */
function input(rows: number, seed: number): Uint8Array {
  if (rows <= 50_000) return roadMatchingSample('valid', { rows, seed });
  const dir = mkdtempSync(join(tmpdir(), 'gemflow-e2e-partitioned-input-'));
  dirs.push(dir);
  const path = join(dir, 'roads.parquet');
  writeValidSampleFile(path, { rows, seed, rowGroupSize: 100_000 });
  return readFileSync(path);
}

/** The GEM jobs of this run's parts (their staged files are named after the part files). */
async function partJobs(app: TestApp, since: Set<number> = new Set()): Promise<SimulatorJob[]> {
  return (await simulatorAdmin(app).jobs()).filter(
    (j) => /part-\d+/.test(j.input_filename) && !since.has(j.job_id),
  );
}

function byInputFile(jobs: SimulatorJob[]): Map<string, SimulatorJob[]> {
  const files = new Map<string, SimulatorJob[]>();
  for (const job of jobs) files.set(job.input_filename, [...(files.get(job.input_filename) ?? []), job]);
  return files;
}

/**
 * Waits for the match to end, keeping every status seen on the way. A status request that fails is tried again:
 * the local host answers HTTP from the same process that runs the activities, and the enriched join of a
 * million roads keeps it busy for seconds at a time (a request then fails with a reset socket or a 500).
 */
async function finished(
  app: TestApp,
  id: string,
  seen: CompactMatchStatus[] = [],
): Promise<CompactMatchStatus> {
  let failures = 0;
  return waitUntil(
    async () => {
      const status = await getMatch(app, id).catch(() => {
        failures++;
        return undefined;
      });
      if (status) seen.push(status);
      return status && ['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus)
        ? status
        : undefined;
    },
    () => `match ${id} to end (last seen ${JSON.stringify(seen.at(-1))}; ${failures} status requests failed)`,
    RUN_TIMEOUT,
    500,
  );
}

/** The most jobs the simulator held active (requested, not yet completed) at one instant. */
async function mostJobsAtOnce(app: TestApp): Promise<number> {
  const response = await fetch(`${app.stack.info.simulatorAdminUrl}/jobs/timeline`);
  const { jobs } = (await response.json()) as {
    jobs: { requested_at: string; completes_at: string | null }[];
  };
  const edges = jobs.flatMap((j) => [
    [Date.parse(j.requested_at), 1],
    [j.completes_at ? Date.parse(j.completes_at) : Number.POSITIVE_INFINITY, -1],
  ]);
  // Ends before starts at the same instant: a job ending frees its slot for one requested then.
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let active = 0;
  let most = 0;
  for (const [, step] of edges) {
    active += step!;
    most = Math.max(most, active);
  }
  return most;
}

async function resultRows(app: TestApp, name: string): Promise<number> {
  return (await readParquet(new Uint8Array((await readPdgFile(app, name))!))).length;
}

describe(`a ${ROWS}-road input with GEM_MAX_ROADS_PER_JOB=${MAX_ROADS}, GEM_MAX_PARALLEL_JOBS=${PARTS}`, () => {
  it(
    'runs 8 parts, one job each, re-submits the part forced to FAIL, and merges every part’s results',
    async () => {
      const app = await started('partitioned', MAX_ROADS);
      // The next job created fails: one part's first job.
      await simulatorAdmin(app).action({ action: 'fail-job' });
      const upload = await uploadInbox(app, 'national.parquet', input(ROWS, 11));
      const seen: CompactMatchStatus[] = [];
      const done = await finished(app, upload.matchId, seen);
      expect(done, JSON.stringify(done.error)).toMatchObject({
        runtimeStatus: 'Completed',
        outcome: 'succeeded',
      });
      expect(done.parts).toMatchObject({ total: PARTS, done: PARTS, failed: 0, queued: 0, resubmits: 1 });
      expect(
        seen.some((s) => (s.parts?.running ?? 0) > 1),
        'parts ran side by side',
      ).toBe(true);

      const files = byInputFile(await partJobs(app));
      expect(files.size).toBe(PARTS);
      const statuses = [...files.values()].map((jobs) =>
        jobs
          .map((j) => j.status)
          .sort()
          .join(','),
      );
      expect(statuses.filter((s) => s === 'SUCCESS')).toHaveLength(PARTS - 1);
      expect(statuses.filter((s) => s === 'FAILED,SUCCESS')).toHaveLength(1);

      const succeeded = [...files.values()].map((jobs) => jobs.find((j) => j.status === 'SUCCESS')!);
      const partRows = await Promise.all(succeeded.map((j) => resultRows(app, j.result_filename!)));
      expect(done.outputs.results, JSON.stringify(done)).not.toBeNull();
      const merged = await readParquet(new Uint8Array((await readOutbox(app, done.outputs.results!.blob))!));
      expect(merged.length).toBe(partRows.reduce((a, b) => a + b, 0));
      expect(done.statistics).toMatchObject({ num_roads_processed: ROWS, parts: PARTS });
    },
    RUN_TIMEOUT,
  );
});

/** A smaller input for the window and restart checks: 8 parts all the same. */
const SMALL_ROWS = 16_000;

describe('TomTom allowing 3 concurrent jobs per user (the simulator refuses more with 429)', () => {
  it(
    'shrinks the effective window to 3, never runs more, and completes without a failed part',
    async () => {
      const app = await started('partitioned-limit', SMALL_ROWS / PARTS, {
        // Retry-After in virtual seconds here: the simulator's computed one is real time (it assumes a client
        // that waits in real time), while the match waits on a durable timer of the task hub's clock.
        jobLimits: { maxConcurrentJobsPerUser: 3, retryAfterSeconds: 600 },
        // Jobs of an hour: each outlasts the staging and submitting of the next parts, so a 4th create meets 3.
        jobDurations: { queuedMs: 60_000, minRunningMs: 60 * 60_000 },
      });
      const upload = await uploadInbox(app, 'limited.parquet', input(SMALL_ROWS, 12));
      const seen: CompactMatchStatus[] = [];
      const done = await finished(app, upload.matchId, seen);
      expect(done, JSON.stringify(done.error)).toMatchObject({
        runtimeStatus: 'Completed',
        outcome: 'succeeded',
      });
      // The window while parts still wait to be submitted (once all are in, successes only widen it).
      const windows = seen.flatMap((s) => (s.parts && s.parts.queued > 0 ? [s.parts.window] : []));
      expect(await mostJobsAtOnce(app), 'GEM jobs active at once').toBe(3);
      expect(done.parts).toMatchObject({ total: PARTS, done: PARTS, failed: 0 });
      expect(done.parts!.refusals).toBeGreaterThan(0);
      // After the first refusal the window never goes back above 4 (3 allowed, one probe after each success).
      const firstLow = windows.findIndex((w) => w <= 3);
      expect(firstLow, windows.join(',')).toBeGreaterThanOrEqual(0);
      expect(Math.max(...windows.slice(firstLow)), windows.join(',')).toBeLessThanOrEqual(4);
      expect(windows.slice(firstLow).filter((w) => w === 3).length).toBeGreaterThan(0);
      const jobs = await partJobs(app);
      expect(jobs.map((j) => j.status).filter((s) => s !== 'SUCCESS')).toEqual([]);
      expect(byInputFile(jobs).size).toBe(PARTS);
      expect(jobs).toHaveLength(PARTS);
      // Every 429 the simulator answered is one refusal the match counted (the request log's counters cover all).
      const requests = await simulatorAdmin(app).requests();
      expect(requests.byStatus['429'] ?? 0).toBe(done.parts!.refusals);
    },
    RUN_TIMEOUT,
  );
});

describe('a part whose every GEM job fails (GEM_PART_ATTEMPTS=1)', () => {
  it(
    'fails the match with an error document naming the part, its job and what to change',
    async () => {
      const rows = 2_000;
      const app = await started('partitioned-exhausted', rows / 2, {
        env: { GEM_MAX_ROADS_PER_JOB: String(rows / 2), GEM_MAX_PARALLEL_JOBS: '2', GEM_PART_ATTEMPTS: '1' },
      });
      // The next job created fails: the first part's only attempt.
      await simulatorAdmin(app).action({ action: 'fail-job' });
      const upload = await uploadInbox(app, 'exhausted.parquet', input(rows, 14));
      const done = await finished(app, upload.matchId);
      expect(done.runtimeStatus).toBe('Failed');
      const failedJob = (await partJobs(app)).find((j) => j.status === 'FAILED');
      expect(failedJob, 'the forced failure hit a part job').toBeDefined();
      expect(done.error?.message).toMatch(
        /^Part [01] \(1000 roads\) ended gem-failed in each of its 1 GEM jobs/,
      );
      expect(done.error?.message).toContain(`last job ${failedJob!.job_id}`);
      expect(done.error?.message).toContain('GEM_PART_ATTEMPTS');
      // A failed instance has no output: its error document is at the run's own name in the outbox.
      const errorBlob = runDocuments('exhausted.parquet', upload.matchId).error;
      const stored = await readOutbox(app, errorBlob);
      expect(stored, errorBlob).toBeDefined();
      const document = JSON.parse(Buffer.from(stored!).toString('utf8')) as { message: string };
      expect(document.message).toContain(`last job ${failedJob!.job_id}`);
      // No job for the failed part was submitted twice.
      expect(
        (await partJobs(app)).filter((j) => j.input_filename === failedJob!.input_filename),
      ).toHaveLength(1);
    },
    RUN_TIMEOUT,
  );
});

describe('a host SIGKILLed while the parts run', () => {
  it(
    'is restarted and the match completes with exactly one GEM job per part',
    async () => {
      const app = await started('partitioned-kill', SMALL_ROWS / PARTS, {
        restartOnCrash: { initialDelayMs: 200 },
        // Jobs of an hour (6 s at 600×): the kill lands while all 8 run.
        jobDurations: { queuedMs: 60_000, minRunningMs: 60 * 60_000 },
      });
      const upload = await uploadInbox(app, 'killed-fan-out.parquet', input(SMALL_ROWS, 13));
      await waitForMatch(app, upload.matchId, {
        timeoutMs: RUN_TIMEOUT,
        until: (s) => (s.parts?.running ?? 0) >= 4,
      });
      const firstPid = app.hostPid;
      process.kill(firstPid, 'SIGKILL');
      await waitUntil(() => (app.hostPid !== firstPid ? true : undefined), 'the restarted host', 30_000);
      const done = await finished(app, upload.matchId);
      expect(done, JSON.stringify(done.error)).toMatchObject({
        runtimeStatus: 'Completed',
        outcome: 'succeeded',
      });
      const jobs = await partJobs(app);
      expect(jobs).toHaveLength(PARTS);
      expect(byInputFile(jobs).size).toBe(PARTS);
      expect(jobs.every((j) => j.status === 'SUCCESS')).toBe(true);
    },
    RUN_TIMEOUT,
  );
});
