/**
 * The partitioned-matching benchmark: the same road file matched twice on the local stack, in virtual time —
 * serial (GEM_MAX_ROADS_PER_JOB above the file's size: one GEM job) and partitioned (GEM_MAX_ROADS_PER_JOB =
 * rows / 8, GEM_MAX_PARALLEL_JOBS = 8) — side by side with the ratio. The simulator runs each job at GEM's
 * documented 100,000 roads/h after 1 min in its queue. Reported per run:
 *
 * - GEM span: from the first job's request to the last job's completion, as the simulator scheduled them
 *   (virtual hours): the time partitioning is meant to cut;
 * - time to results: the run's own summary (`timings.durations.totalSeconds`, the task hub's clock), which also
 *   holds the app's real processing time multiplied by the time scale (validation, partitioning, staging, the
 *   merge and the enriched join: at 600× one real second is ten virtual minutes);
 * - time to results with the app's own work at real speed: the GEM span plus the wall time that was not GEM's
 *   (wall − GEM span ÷ time scale), i.e. what the run takes where GEM's hours and the app's seconds are both
 *   real, as on Azure. A projection from the two measured figures, labelled as one;
 * - jobs, and the wall time.
 *
 * `npm run bench -- partitioned`; GEMFLOW_BENCH_PARTITION_ROWS (default 1,000,000) and GEMFLOW_BENCH_TIME_SCALE
 * (default 600) change the size and the clock.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { type LocalApp, startLocalApp } from '../local/app.js';
import { writeValidSampleFile } from '../local/standins/samples.js';
import { matchInstanceIdForBlob } from '../shared/workflow/ids.js';
import { outboxBlobNames, outboxLocationFor } from '../shared/workflow/outboxNames.js';
import { untilCompleted } from './instances.js';

const ROWS = Number(process.env.GEMFLOW_BENCH_PARTITION_ROWS ?? 1_000_000);
const TIME_SCALE = Number(process.env.GEMFLOW_BENCH_TIME_SCALE ?? 600);
const WINDOW = 8;
const HOUR_MS = 3_600_000;

export interface PartitionedRun {
  jobs: number;
  gemSpanHours: number;
  timeToResultsHours: number;
  /** GEM span + the wall seconds that were not GEM's, in hours: both at real speed. */
  projectedHours: number;
  wallSeconds: number;
}

export interface PartitionedBenchResult {
  benchmark: 'partitioned-vs-serial';
  rows: number;
  timeScale: number;
  serial: PartitionedRun;
  partitioned: PartitionedRun;
  ratios: { gemSpan: number; timeToResults: number; projected: number };
}

interface TimelineJob {
  requested_at: string;
  completes_at: string | null;
  status: string;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url.split('?')[0]} → ${response.status}`);
  return (await response.json()) as T;
}

/** Uploads the file, waits for its match to complete, and reads the figures. */
async function matchOnce(app: LocalApp, bytes: Uint8Array, name: string): Promise<PartitionedRun> {
  const { info } = app.stack;
  const blobs = BlobServiceClient.fromConnectionString(info.storageConnectionString);
  const started = performance.now();
  const uploaded = await blobs
    .getContainerClient(info.inboxContainer)
    .getBlockBlobClient(name)
    .uploadData(bytes);
  const instanceId = matchInstanceIdForBlob(info.inboxContainer, name, uploaded.etag ?? '');
  await untilCompleted(app, instanceId, 200);
  const wallSeconds = (performance.now() - started) / 1000;
  const location = outboxLocationFor(
    { kind: 'inbox', container: info.inboxContainer, blobName: name },
    instanceId,
  );
  const summary = JSON.parse(
    (
      await blobs
        .getContainerClient(info.outboxContainer)
        .getBlobClient(outboxBlobNames(location).summary)
        .downloadToBuffer()
    ).toString('utf8'),
  ) as { outcome: string; timings: { durations: { totalSeconds: number } } };
  if (summary.outcome !== 'succeeded') throw new Error(`the run's outcome is ${summary.outcome}`);
  const { jobs } = await getJson<{ jobs: TimelineJob[] }>(`${info.simulatorAdminUrl}/jobs/timeline`);
  const done = jobs.filter((j) => j.status === 'SUCCESS' && j.completes_at);
  const first = Math.min(...done.map((j) => Date.parse(j.requested_at)));
  const last = Math.max(...done.map((j) => Date.parse(j.completes_at!)));
  const gemSpanHours = (last - first) / HOUR_MS;
  const appWallSeconds = Math.max(0, wallSeconds - (gemSpanHours * 3600) / TIME_SCALE);
  return {
    jobs: jobs.length,
    gemSpanHours: round(gemSpanHours, 2),
    timeToResultsHours: round(summary.timings.durations.totalSeconds / 3600, 2),
    projectedHours: round(gemSpanHours + appWallSeconds / 3600, 2),
    wallSeconds: round(wallSeconds, 1),
  };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

async function runWith(maxRoadsPerJob: number, bytes: Uint8Array, label: string): Promise<PartitionedRun> {
  const dir = mkdtempSync(join(tmpdir(), `gemflow-bench-${label}-`));
  const app = await startLocalApp({
    dir,
    timeScale: TIME_SCALE,
    writeStackJson: false,
    jobDurations: { queuedMs: 60_000, segmentsPerHour: 100_000, minRunningMs: 5 * 60_000 },
    env: {
      SWEEP_SCHEDULE: '0 0 0 1 1 *',
      GEM_MAX_ROADS_PER_JOB: String(maxRoadsPerJob),
      GEM_MAX_PARALLEL_JOBS: String(WINDOW),
    },
    onHostLine: () => {},
  });
  try {
    return await matchOnce(app, bytes, `bench/${label}.parquet`);
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runPartitionedBench(): Promise<PartitionedBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gemflow-bench-partition-input-'));
  try {
    const path = join(dir, 'roads.parquet');
    writeValidSampleFile(path, { rows: ROWS, seed: 401, rowGroupSize: 100_000 });
    const bytes = readFileSync(path);
    console.log(`partitioned benchmark: ${ROWS} roads, GEM at 100,000 roads/h, time scale ${TIME_SCALE}x`);
    const serial = await runWith(1_000_000_000, bytes, 'serial');
    console.log(`serial run done in ${serial.wallSeconds} s wall`);
    const partitioned = await runWith(Math.ceil(ROWS / WINDOW), bytes, 'partitioned');
    console.log(`partitioned run done in ${partitioned.wallSeconds} s wall`);
    const ratios = {
      gemSpan: round(serial.gemSpanHours / partitioned.gemSpanHours, 2),
      timeToResults: round(serial.timeToResultsHours / partitioned.timeToResultsHours, 2),
      projected: round(serial.projectedHours / partitioned.projectedHours, 2),
    };
    const rows: [string, number, number, number | null][] = [
      ['GEM jobs', serial.jobs, partitioned.jobs, null],
      [
        'GEM span, first request to last completion (virtual h)',
        serial.gemSpanHours,
        partitioned.gemSpanHours,
        ratios.gemSpan,
      ],
      [
        'time to results, summary (virtual h)',
        serial.timeToResultsHours,
        partitioned.timeToResultsHours,
        ratios.timeToResults,
      ],
      [
        "time to results, GEM's hours and the app's seconds both real (h)",
        serial.projectedHours,
        partitioned.projectedHours,
        ratios.projected,
      ],
      [
        'wall time (s)',
        serial.wallSeconds,
        partitioned.wallSeconds,
        round(serial.wallSeconds / partitioned.wallSeconds, 2),
      ],
    ];
    const header = ['', 'serial', `partitioned (window ${WINDOW})`, 'serial/partitioned'];
    const all = [header, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
    const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
    console.log('');
    for (const [i, r] of all.entries()) {
      console.log(r.map((c, k) => (k === 0 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join('  '));
      if (i === 0) console.log('-'.repeat(widths.reduce((a, b) => a + b + 2, -2)));
    }
    console.log(
      "(the summary's time to results counts the app's real seconds × the time scale; the next row counts them as seconds: see bench/partitioned.ts)",
    );
    return {
      benchmark: 'partitioned-vs-serial',
      rows: ROWS,
      timeScale: TIME_SCALE,
      serial,
      partitioned,
      ratios,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
