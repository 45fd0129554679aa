/**
 * The incremental re-matching benchmark (`npm run bench -- incremental`): a dataset of N roads (default
 * 1,000,000; `GEMFLOW_BENCH_INCREMENTAL_ROWS` overrides) is matched in full through the real app on the local
 * host, then its next version (1 % of the rows changed: half moved, half with navigability flipped) is matched
 * twice in the same run: incrementally (the baseline's results carried over) and in full (a new run of the same
 * file with incremental off). For both it reports the rows the simulated GEM jobs read and their virtual hours
 * (queued and running, as the simulator scheduled them at GEM's documented 100,000 segments/h), summed over a
 * partitioned run's parts (GEM_MAX_ROADS_PER_JOB as configured: GEM time spent, not time to results), the wall
 * time of the whole run, and the ratios incremental / full (goal: ≤ 2 %).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { type LocalApp, startLocalApp } from '../local/app.js';
import {
  encodeRoadMatchingRecords,
  type RoadSampleRecords,
  roadMatchingRecords,
} from '../local/standins/samples.js';
import { matchInstanceIdForBlob } from '../shared/workflow/ids.js';

const ROWS = Number(process.env.GEMFLOW_BENCH_INCREMENTAL_ROWS ?? 1_000_000);
const TIME_SCALE = Number(process.env.GEMFLOW_BENCH_TIME_SCALE ?? 7_200);
const NAME = 'bench/national-roads.parquet';
/** GEM's documented throughput, and the simulator's default queue and shortest running times. */
const JOB_DURATIONS = { queuedMs: 60_000, segmentsPerHour: 100_000, minRunningMs: 5 * 60_000 };

interface TimelineJob {
  job_id: number;
  requested_at: string;
  starts_at: string;
  completes_at: string | null;
  input_rows: number | null;
}

export interface IncrementalRunFigures {
  matchId: string;
  jobId: number | null;
  /** GEM jobs of the match: one, or one per part when the file was partitioned (GEM_MAX_ROADS_PER_JOB). */
  jobs: number;
  /** Rows the simulated GEM jobs read, all jobs together. */
  gemRows: number;
  /** Virtual hours from each job's request to its completion (queue included), summed over the jobs. */
  gemHours: number;
  /** Virtual hours the jobs ran (queues excluded), summed: the GEM time spent. */
  gemRunningHours: number;
  wallSeconds: number;
  incremental: unknown;
}

export interface IncrementalBenchResult {
  benchmark: 'incremental-rematching';
  rows: number;
  changedRows: number;
  baseline: IncrementalRunFigures;
  incremental: IncrementalRunFigures;
  fullRerun: IncrementalRunFigures;
  ratios: { gemRows: number; gemHours: number; gemRunningHours: number; wallSeconds: number };
}

const round = (n: number, digits = 4) => Math.round(n * 10 ** digits) / 10 ** digits;

/** 1 % of the rows changed: every 100th row, alternately moved (its first longitude +1°) and navigability flipped. */
function nextVersion(records: RoadSampleRecords): { next: RoadSampleRecords; changed: number } {
  const geometries = [...records.geometries!];
  const isNavigable = [...records.isNavigable!];
  let changed = 0;
  for (let row = 50; row < geometries.length; row += 100) {
    if (changed % 2 === 0) geometries[row] = geometries[row]!.replace('LINESTRING (4.', 'LINESTRING (5.');
    else isNavigable[row] = !(isNavigable[row] ?? false);
    changed++;
  }
  return { next: { ...records, geometries, isNavigable }, changed };
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${url.split('?')[0]} → ${response.status}`);
  return (await response.json()) as T;
}

async function waitForCompletion(app: LocalApp, id: string): Promise<Record<string, unknown>> {
  const url = `${app.baseUrl}/api/matches/${id}?code=${encodeURIComponent(app.keys.functionKey)}`;
  let failures = 0;
  for (;;) {
    // A busy local host may reset a kept-alive connection; a few in a row are retried, more are a failure.
    const response = await fetch(url).catch((error: Error) => {
      if (++failures > 20) throw new Error(`GET /api/matches/${id} failed: ${String(error.cause ?? error)}`);
      return undefined;
    });
    if (response?.ok) {
      failures = 0;
      const status = (await response.json()) as Record<string, unknown>;
      if (status.runtimeStatus === 'Completed') return status;
      if (['Failed', 'Terminated'].includes(String(status.runtimeStatus))) {
        throw new Error(`match ${id} ended ${String(status.runtimeStatus)}: ${JSON.stringify(status.error)}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function figures(app: LocalApp, id: string, started: number): Promise<IncrementalRunFigures> {
  const status = await waitForCompletion(app, id);
  const wallSeconds = (performance.now() - started) / 1000;
  if (status.outcome !== 'succeeded') {
    throw new Error(`match ${id} ended ${String(status.outcome)}: ${JSON.stringify(status.error)}`);
  }
  const jobId = typeof status.jobId === 'number' ? status.jobId : null;
  const jobIds = matchJobIds(status, jobId);
  const { jobs } = await getJson<{ jobs: TimelineJob[] }>(
    `${app.stack.info.simulatorAdminUrl}/jobs/timeline`,
  );
  const mine = jobs.filter((j) => jobIds.includes(j.job_id));
  const hours = (from: string | undefined, to: string | null | undefined) =>
    from && to ? (Date.parse(to) - Date.parse(from)) / 3_600_000 : 0;
  const sum = (value: (job: TimelineJob) => number) => mine.reduce((total, job) => total + value(job), 0);
  return {
    matchId: id,
    jobId,
    jobs: mine.length,
    gemRows: sum((job) => job.input_rows ?? 0),
    gemHours: round(sum((job) => hours(job.requested_at, job.completes_at))),
    gemRunningHours: round(sum((job) => hours(job.starts_at, job.completes_at))),
    wallSeconds: round(wallSeconds, 1),
    incremental: status.incremental ?? null,
  };
}

/** The match's GEM jobs: each part's, when it was partitioned, else its one job. */
function matchJobIds(status: Record<string, unknown>, jobId: number | null): number[] {
  const parts = status.parts as { list?: { jobId: number | null }[] } | null | undefined;
  const ids = parts?.list?.map((part) => part.jobId).filter((id): id is number => id !== null);
  return ids && ids.length > 0 ? ids : jobId === null ? [] : [jobId];
}

async function upload(app: LocalApp, bytes: Uint8Array): Promise<IncrementalRunFigures> {
  const { info } = app.stack;
  const started = performance.now();
  const blobs = BlobServiceClient.fromConnectionString(info.storageConnectionString);
  const uploaded = await blobs
    .getContainerClient(info.inboxContainer)
    .getBlockBlobClient(NAME)
    .uploadData(bytes, { metadata: { incremental: 'true' } });
  return figures(app, matchInstanceIdForBlob(info.inboxContainer, NAME, uploaded.etag ?? ''), started);
}

async function fullRerun(app: LocalApp): Promise<IncrementalRunFigures> {
  const started = performance.now();
  const url = `${app.baseUrl}/api/matches?code=${encodeURIComponent(app.keys.functionKey)}`;
  const body = { inboxBlob: NAME, incremental: false, idempotencyKey: 'bench-full-rerun' };
  const accepted = await getJson<{ id: string }>(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return figures(app, accepted.id, started);
}

export async function runIncrementalBench(): Promise<IncrementalBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gemflow-bench-incremental-'));
  const app = await startLocalApp({
    dir,
    timeScale: TIME_SCALE,
    writeStackJson: false,
    jobDurations: JOB_DURATIONS,
    env: { SWEEP_SCHEDULE: '0 0 0 1 1 *', GEM_SEGMENTS_PER_HOUR: String(JOB_DURATIONS.segmentsPerHour) },
    onHostLine: () => {},
  });
  try {
    console.log(`incremental benchmark: ${ROWS} roads, 1 % changed; time scale ${TIME_SCALE}x`);
    const records = roadMatchingRecords('valid', { rows: ROWS, seed: 1401 });
    const baseline = await upload(app, encodeRoadMatchingRecords(records, 100_000));
    console.log(`full match of the first version: ${JSON.stringify(baseline)}`);
    const { next, changed } = nextVersion(records);
    const incremental = await upload(app, encodeRoadMatchingRecords(next, 100_000));
    console.log(`incremental match of the next version: ${JSON.stringify(incremental)}`);
    const full = await fullRerun(app);
    console.log(`full re-run of the next version: ${JSON.stringify(full)}`);
    const ratio = (key: 'gemRows' | 'gemHours' | 'gemRunningHours' | 'wallSeconds') =>
      full[key] > 0 ? round(incremental[key] / full[key]) : 0;
    const result: IncrementalBenchResult = {
      benchmark: 'incremental-rematching',
      rows: ROWS,
      changedRows: changed,
      baseline,
      incremental,
      fullRerun: full,
      ratios: {
        gemRows: ratio('gemRows'),
        gemHours: ratio('gemHours'),
        gemRunningHours: ratio('gemRunningHours'),
        wallSeconds: ratio('wallSeconds'),
      },
    };
    console.log(
      `GEM rows: incremental ${incremental.gemRows} vs full ${full.gemRows} (${round(result.ratios.gemRows * 100, 2)} %); ` +
        `GEM hours: ${incremental.gemHours} vs ${full.gemHours} (${round(result.ratios.gemHours * 100, 2)} %, goal ≤ 2 %)`,
    );
    return result;
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
