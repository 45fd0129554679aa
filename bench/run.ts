/**
 * `npm run bench`: one 3-hour (virtual) GEM road-matching job, run through gem-flow (the real app on the local
 * host: upload to the inbox → outbox summary) and through a naive script (bench/baseline.ts), one after the
 * other in the same process against the same stand-ins. Per run it reports outbound calls by kind (from the
 * stand-ins' own counters, reset between runs), how long after GEM finished the job the client noticed
 * (virtual time), and wall time. Then the inbox trigger's memory (bench/memory.ts): the host process's peak RSS
 * growth while a 2 GiB upload starts its match, beside a 1 MiB upload. Before both, the validation memory
 * benchmark (bench/validationMemory.ts), the staging benchmark (bench/staging.ts: a 1 GiB input staged
 * server-side, streamed, and by a plain SDK stream copy), and before those the cold-start benchmark
 * (bench/coldStart.ts: the entry's import time and peak RSS beside a hello-world and a minimal durable app).
 * Last, the conversion and enrichment benchmark (bench/enrichmentBench.ts). The JSON object printed after the
 * GEM job holds every run, the ratios (baseline / gem-flow), the memory, staging and cold-start figures; the
 * enrichment figures follow as one more JSON line, then the incremental re-matching figures
 * (bench/incremental.ts: GEM rows and hours for a 1 % update, incremental against a full re-run).
 * `npm run bench -- <part>` (`cold-start`, `validation`, `staging`, `gem-job`, `enrichment`, `partitioned`,
 * `incremental`) runs one part.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { type LocalApp, startLocalApp } from '../local/app.js';
import { roadMatchingSample } from '../local/standins/samples.js';
import { matchInstanceIdForBlob } from '../shared/workflow/ids.js';
import { outboxBlobNames, outboxLocationFor } from '../shared/workflow/outboxNames.js';
import { runBaseline } from './baseline.js';
import { type ColdStartResult, runColdStartBench } from './coldStart.js';
import { runEnrichmentBench } from './enrichmentBench.js';
import { runIncrementalBench } from './incremental.js';
import { untilCompleted } from './instances.js';
import { LARGE_UPLOAD_BYTES, measureUpload, SMALL_UPLOAD_BYTES, type UploadMemoryFigures } from './memory.js';
import { runPartitionedBench } from './partitioned.js';
import { runStagingBench, type StagingBenchResult } from './staging.js';
import { type MemoryBenchResult, runValidationMemoryBench } from './validationMemory.js';

const TIME_SCALE = Number(process.env.GEMFLOW_BENCH_TIME_SCALE ?? 600);
const ROWS = 500;
// GEM's documented throughput is 100,000 segments/h (36 ms each); a 3 h job would need 300,000 rows, whose
// generation and validation would dominate the wall time. The simulator is told instead that each of 500
// segments takes 21.6 s, so the job runs 3 h (plus the simulator's default 1 min in the queue).
const JOB_DURATIONS = { queuedMs: 60_000, perSegmentMs: 21_600, minRunningMs: 5 * 60_000 };
const BASELINE_POLL_MS = 30_000;
const API_KEY_CACHE_TTL_SECONDS = 300; // gem-flow's default (API_KEY_CACHE_TTL_SECONDS)

interface Calls {
  tomtomRest: number;
  vaultUnwrap: number;
  keyVault: number;
  identity: number;
  total: number;
}

interface RunFigures {
  calls: Calls;
  /** GET /jobs/{id} requests that reached the simulator. */
  polls: number;
  /** Virtual seconds from the job's completion (simulator) to the client acting on it. */
  completionDetectionDelaySeconds: number;
  /** Virtual seconds from the job's request to its completion, as the simulator scheduled it. */
  jobVirtualSeconds: number;
  /** Virtual seconds from the job's completion to the simulator answering the poll that saw SUCCESS. */
  successPollDelaySeconds: number;
  wallSeconds: number;
}

interface RequestSummary {
  total: number;
  byRoute: Record<string, number>;
  recent: { route: string; status: number; virtualTime: string }[];
}

interface TimelineJob {
  job_id: number;
  requested_at: string;
  completes_at: string | null;
  status: string;
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${url.split('?')[0]} → ${response.status}`);
  return (await response.json()) as T;
}

function sumCounts(counts: Record<string, number>): number {
  // `<endpoint>:<status>` entries repeat requests already counted under their endpoint.
  return Object.entries(counts)
    .filter(([key]) => !key.includes(':'))
    .reduce((n, [, v]) => n + v, 0);
}

async function resetCounters(app: LocalApp): Promise<void> {
  await getJson(`${app.stack.info.simulatorAdminUrl}/reset`, { method: 'POST' });
  app.stack.identity.resetCounts();
  app.stack.keyVault.resetCounts();
}

async function collect(
  app: LocalApp,
): Promise<{ calls: Calls; requests: RequestSummary; jobs: TimelineJob[] }> {
  const requests = await getJson<RequestSummary>(`${app.stack.info.simulatorAdminUrl}/requests?limit=200`);
  const { jobs } = await getJson<{ jobs: TimelineJob[] }>(
    `${app.stack.info.simulatorAdminUrl}/jobs/timeline`,
  );
  const vaultUnwrap = requests.byRoute['POST /unwrap'] ?? 0;
  const keyVault = sumCounts(app.stack.keyVault.counts());
  const identity = sumCounts(app.stack.identity.counts());
  const tomtomRest = requests.total - vaultUnwrap;
  return {
    calls: {
      tomtomRest,
      vaultUnwrap,
      keyVault,
      identity,
      total: tomtomRest + vaultUnwrap + keyVault + identity,
    },
    requests,
    jobs,
  };
}

function onlyJob(jobs: TimelineJob[]): TimelineJob & { completes_at: string } {
  if (jobs.length !== 1 || !jobs[0]!.completes_at || jobs[0]!.status !== 'SUCCESS') {
    throw new Error(`expected exactly one finished job, got ${JSON.stringify(jobs)}`);
  }
  return jobs[0] as TimelineJob & { completes_at: string };
}

/** Virtual time of the last job poll the simulator answered 200 (the one that saw SUCCESS). */
function lastPollAt(requests: RequestSummary): number {
  const polls = requests.recent.filter((r) => r.route === 'GET /jobs/{id}' && r.status === 200);
  if (!polls.length) throw new Error('no job poll in the simulator log');
  return Date.parse(polls.at(-1)!.virtualTime);
}

async function runGemFlow(app: LocalApp, bytes: Uint8Array): Promise<RunFigures> {
  const { info } = app.stack;
  const name = 'bench/roads-3h.parquet';
  const started = performance.now();
  const blobs = BlobServiceClient.fromConnectionString(info.storageConnectionString);
  const uploaded = await blobs
    .getContainerClient(info.inboxContainer)
    .getBlockBlobClient(name)
    .uploadData(bytes);
  const instanceId = matchInstanceIdForBlob(info.inboxContainer, name, uploaded.etag ?? '');
  const summaryBlob = blobs
    .getContainerClient(info.outboxContainer)
    .getBlobClient(
      outboxBlobNames(
        outboxLocationFor({ kind: 'inbox', container: info.inboxContainer, blobName: name }, instanceId),
      ).summary,
    );
  await untilCompleted(app, instanceId, 100);
  const wallSeconds = (performance.now() - started) / 1000;
  const summary = JSON.parse((await summaryBlob.downloadToBuffer()).toString('utf8')) as {
    outcome: string;
    job: { jobId: number };
    timings: { completedAt: string };
  };
  if (summary.outcome !== 'succeeded') throw new Error(`gem-flow outcome ${summary.outcome}`);
  const { calls, requests, jobs } = await collect(app);
  const job = onlyJob(jobs);
  if (job.job_id !== summary.job.jobId) throw new Error('the summary names another job');
  const completesAt = Date.parse(job.completes_at);
  return {
    calls,
    polls: requests.byRoute['GET /jobs/{id}'] ?? 0,
    completionDetectionDelaySeconds: (Date.parse(summary.timings.completedAt) - completesAt) / 1000,
    jobVirtualSeconds: (completesAt - Date.parse(job.requested_at)) / 1000,
    wallSeconds,
    successPollDelaySeconds: (lastPollAt(requests) - completesAt) / 1000,
  };
}

async function runNaive(app: LocalApp, bytes: Uint8Array): Promise<RunFigures> {
  const started = performance.now();
  const result = await runBaseline(
    {
      info: app.stack.info,
      clock: app.stack.clock,
      pollIntervalMs: BASELINE_POLL_MS,
      overtureRelease: app.stack.settings.DEFAULT_OVERTURE_RELEASE!,
    },
    { name: 'roads-3h-baseline.parquet', bytes },
  );
  const wallSeconds = (performance.now() - started) / 1000;
  const { calls, requests, jobs } = await collect(app);
  const job = onlyJob(jobs);
  const completesAt = Date.parse(job.completes_at);
  return {
    calls,
    polls: requests.byRoute['GET /jobs/{id}'] ?? 0,
    completionDetectionDelaySeconds: (result.noticedAt - completesAt) / 1000,
    jobVirtualSeconds: (completesAt - Date.parse(job.requested_at)) / 1000,
    wallSeconds,
    successPollDelaySeconds: (lastPollAt(requests) - completesAt) / 1000,
  };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const ratio = (baseline: number, gemflow: number) => (gemflow === 0 ? null : round(baseline / gemflow, 2));

/** One line of a results table: its label, the two columns compared, and their ratio. */
type Row = [string, string | number, string | number, string | number | null];

function table(
  rows: Row[],
  header: [string, string, string, string] = ['', 'baseline', 'gem-flow', 'baseline/gem-flow'],
): string {
  const all = [header, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  return all
    .map((r, ri) => {
      const line = r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!)));
      const text = line.join('  ');
      return ri === 0 ? `${text}\n${'-'.repeat(text.length)}` : text;
    })
    .join('\n');
}

/**
 * A warm-up upload (not reported: the first rejected file loads code the later ones reuse), then the small
 * upload, then the large one, each measured on its own (the peak is reset before each).
 */
async function runMemory(app: LocalApp): Promise<{ small: UploadMemoryFigures; large: UploadMemoryFigures }> {
  await measureUpload(app, 'bench/memory-warm-up.bin', SMALL_UPLOAD_BYTES);
  const small = await measureUpload(app, 'bench/memory-1mib.bin', SMALL_UPLOAD_BYTES);
  const large = await measureUpload(app, 'bench/memory-2gib.bin', LARGE_UPLOAD_BYTES);
  const mib = (n: number) => round(n, 1);
  const rows: Row[] = [
    [
      'host peak RSS growth until the match started (MiB)',
      mib(small.growthUntilStartedMiB),
      mib(large.growthUntilStartedMiB),
      ratio(large.growthUntilStartedMiB, small.growthUntilStartedMiB),
    ],
    [
      '  … until the match finished (MiB)',
      mib(small.growthUntilFinishedMiB),
      mib(large.growthUntilFinishedMiB),
      ratio(large.growthUntilFinishedMiB, small.growthUntilFinishedMiB),
    ],
    [
      'commit to match started (s wall)',
      round(small.secondsToStart, 2),
      round(large.secondsToStart, 2),
      null,
    ],
  ];
  console.log('');
  console.log(
    table(rows, ['', '1 MiB upload', `${LARGE_UPLOAD_BYTES / 2 ** 30} GiB upload`, '2 GiB / 1 MiB']),
  );
  return { small, large };
}

/** The app under benchmark, in its own temp dir; what the host writes to stderr is kept in `hostErrors`. */
function startBenchApp(dir: string, hostErrors: string[]): Promise<LocalApp> {
  return startLocalApp({
    dir,
    timeScale: TIME_SCALE,
    writeStackJson: false,
    jobDurations: JOB_DURATIONS,
    // The schedule sweep would add its own TomTom calls (storage inventory) to gem-flow's counts; this
    // benchmark measures one match, so the sweep is moved out of the way (once a year).
    env: {
      SWEEP_SCHEDULE: '0 0 0 1 1 *',
      // The simulated GEM's throughput, so gem-flow's completion estimate means what it means against real GEM
      // (where the documented 100,000 segments/h is the default).
      GEM_SEGMENTS_PER_HOUR: String(Math.round(3_600_000 / JOB_DURATIONS.perSegmentMs)),
    },
    onHostLine: (line, stream) => {
      if (stream === 'stderr') hostErrors.push(line);
    },
  });
}

/** The two runs side by side: calls by kind, polls, the job's duration, detection delay, wall time. */
function comparisonRows(baseline: RunFigures, gemflow: RunFigures): Row[] {
  const kinds: (keyof Calls)[] = ['tomtomRest', 'vaultUnwrap', 'keyVault', 'identity', 'total'];
  const labels: Record<keyof Calls, string> = {
    tomtomRest: 'TomTom REST calls',
    vaultUnwrap: 'Vault unwrap calls',
    keyVault: 'Key Vault requests',
    identity: 'identity/token requests',
    total: 'outbound calls, total',
  };
  return [
    ...kinds.map(
      (k) =>
        [labels[k], baseline.calls[k], gemflow.calls[k], ratio(baseline.calls[k], gemflow.calls[k])] as Row,
    ),
    ['  of which job polls', baseline.polls, gemflow.polls, ratio(baseline.polls, gemflow.polls)],
    [
      'GEM job duration (virtual min)',
      round(baseline.jobVirtualSeconds / 60),
      round(gemflow.jobVirtualSeconds / 60),
      null,
    ],
    [
      'completion detection delay (virtual s)',
      round(baseline.completionDetectionDelaySeconds),
      round(gemflow.completionDetectionDelaySeconds),
      ratio(baseline.completionDetectionDelaySeconds, gemflow.completionDetectionDelaySeconds),
    ],
    [
      '  poll that saw SUCCESS, after completion (virtual s)',
      round(baseline.successPollDelaySeconds),
      round(gemflow.successPollDelaySeconds),
      ratio(baseline.successPollDelaySeconds, gemflow.successPollDelaySeconds),
    ],
    [
      'wall time (s)',
      round(baseline.wallSeconds),
      round(gemflow.wallSeconds),
      ratio(baseline.wallSeconds, gemflow.wallSeconds),
    ],
  ];
}

/** How the figures were taken, and what a compressed clock leaves out of gem-flow's column. */
function notes(virtualJobSeconds: number, projectedKeyVaultReads: number): string {
  return [
    'Notes:',
    '- Calls are counted by the stand-ins (simulator request log, Key Vault and identity counters), reset between runs.',
    '  Identity counts managed-identity token requests plus the PDG service principal token and discovery requests.',
    "- Detection delay: gem-flow = the summary's timings.completedAt (the orchestration's clock when it handled the",
    "  poll that saw SUCCESS) minus the simulator's completion time of the job (/_admin/jobs/timeline); baseline = the",
    '  virtual time its SUCCESS poll returned minus the same completion time. gem-flow backs off (30 s growing to',
    '  10 min) but never sleeps past its completion estimate (rows / GEM_SEGMENTS_PER_HOUR, set here to the',
    '  simulated rate), then polls an overdue job at 1/4 of the time overdue; at this time scale each real ms of',
    '  processing is',
    `  ${TIME_SCALE / 1000} virtual s, which both figures include.`,
    "- gem-flow's API-key cache (300 s) and token caches expire in real time, so in a compressed run they never",
    `  expire; at 1x a ${round(virtualJobSeconds / 3600, 2)} h job would add at most ~${projectedKeyVaultReads} Key Vault reads and a few token refreshes`,
    '  to the gem-flow column (still far below the baseline, which reads both on every call).',
  ].join('\n');
}

/** The last line the benchmark prints: both runs, their ratios and the memory figures, as one JSON object. */
function benchmarkJson(
  baseline: RunFigures,
  gemflow: RunFigures,
  memoryFigures: { small: UploadMemoryFigures; large: UploadMemoryFigures },
  projectedKeyVaultReads: number,
  validationMemory: MemoryBenchResult | undefined,
  staging: StagingBenchResult | undefined,
  coldStart: ColdStartResult | undefined,
) {
  return {
    benchmark: 'one-3h-gem-job',
    timeScale: TIME_SCALE,
    rows: ROWS,
    jobVirtualHours: round(gemflow.jobVirtualSeconds / 3600, 2),
    baseline: {
      calls: baseline.calls,
      polls: baseline.polls,
      completionDetectionDelaySeconds: round(baseline.completionDetectionDelaySeconds),
      wallSeconds: round(baseline.wallSeconds, 2),
    },
    gemflow: {
      calls: gemflow.calls,
      polls: gemflow.polls,
      completionDetectionDelaySeconds: round(gemflow.completionDetectionDelaySeconds),
      wallSeconds: round(gemflow.wallSeconds, 2),
      projectedAtRealTime: { keyVaultReadsAtMost: projectedKeyVaultReads },
    },
    ratios: {
      tomtomRest: ratio(baseline.calls.tomtomRest, gemflow.calls.tomtomRest),
      vaultUnwrap: ratio(baseline.calls.vaultUnwrap, gemflow.calls.vaultUnwrap),
      keyVault: ratio(baseline.calls.keyVault, gemflow.calls.keyVault),
      identity: ratio(baseline.calls.identity, gemflow.calls.identity),
      totalCalls: ratio(baseline.calls.total, gemflow.calls.total),
      polls: ratio(baseline.polls, gemflow.polls),
      completionDetectionDelay: ratio(
        baseline.completionDetectionDelaySeconds,
        gemflow.completionDetectionDelaySeconds,
      ),
      wallTime: ratio(baseline.wallSeconds, gemflow.wallSeconds),
    },
    inboxTrigger: {
      measured: 'host process VmHWM growth from the commit of the upload',
      ...memoryFigures,
      largeOverSmallUntilStarted: ratio(
        memoryFigures.large.growthUntilStartedMiB,
        memoryFigures.small.growthUntilStartedMiB,
      ),
    },
    ...(validationMemory ? { validationMemory } : {}),
    ...(staging ? { staging } : {}),
    ...(coldStart ? { coldStart } : {}),
  };
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (only === 'cold-start') {
    console.log(JSON.stringify(await runColdStartBench()));
    return;
  }
  if (only === 'enrichment') {
    console.log(JSON.stringify(await runEnrichmentBench()));
    return;
  }
  if (only === 'staging') {
    console.log(JSON.stringify(await runStagingBench()));
    return;
  }
  if (only === 'partitioned') {
    console.log(JSON.stringify(await runPartitionedBench()));
    return;
  }
  if (only === 'incremental') {
    console.log(JSON.stringify(await runIncrementalBench()));
    return;
  }
  const coldStart = only ? undefined : await runColdStartBench();
  if (coldStart) console.log('');
  const validationMemory = only === 'gem-job' ? undefined : await runValidationMemoryBench();
  if (only === 'validation') {
    console.log(JSON.stringify(validationMemory));
    return;
  }
  if (validationMemory) console.log('');
  const staging = only === 'gem-job' ? undefined : await runStagingBench();
  if (staging) console.log('');
  await gemJobBench(validationMemory, staging, coldStart);
  if (only === 'gem-job') return;
  console.log('');
  console.log(JSON.stringify(await runEnrichmentBench()));
  console.log('');
  console.log(JSON.stringify(await runPartitionedBench()));
  console.log('');
  console.log(JSON.stringify(await runIncrementalBench()));
}

async function gemJobBench(
  validationMemory: MemoryBenchResult | undefined,
  staging: StagingBenchResult | undefined,
  coldStart: ColdStartResult | undefined,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gemflow-bench-'));
  const hostErrors: string[] = [];
  const app = await startBenchApp(dir, hostErrors);
  try {
    // Same size, different content: each run stages and matches its own file (no reuse across runs).
    const gemflowFile = roadMatchingSample('valid', { rows: ROWS, seed: 301 });
    const baselineFile = roadMatchingSample('valid', { rows: ROWS, seed: 302 });

    console.log(
      `gem-flow benchmark: one ROAD_MATCHING job of ${ROWS} segments, GEM scheduled for ` +
        `${round((JOB_DURATIONS.queuedMs + ROWS * JOB_DURATIONS.perSegmentMs) / 3_600_000, 2)} h virtual ` +
        `(1 min queued + 3 h running); time scale ${TIME_SCALE}x`,
    );
    await resetCounters(app);
    const gemflow = await runGemFlow(app, gemflowFile);
    console.log(`gem-flow run done in ${round(gemflow.wallSeconds)} s wall`);
    await resetCounters(app);
    const baseline = await runNaive(app, baselineFile);
    console.log(`baseline run done in ${round(baseline.wallSeconds)} s wall`);

    console.log('');
    console.log(table(comparisonRows(baseline, gemflow)));
    console.log('');
    const virtualJobSeconds = gemflow.jobVirtualSeconds;
    const projectedKeyVaultReads = Math.ceil(virtualJobSeconds / API_KEY_CACHE_TTL_SECONDS);
    console.log(notes(virtualJobSeconds, projectedKeyVaultReads));
    const memoryFigures = await runMemory(app);
    if (hostErrors.length) console.log(`(the host wrote ${hostErrors.length} line(s) to stderr)`);
    console.log(
      JSON.stringify(
        benchmarkJson(
          baseline,
          gemflow,
          memoryFigures,
          projectedKeyVaultReads,
          validationMemory,
          staging,
          coldStart,
        ),
      ),
    );
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
