// GEM job store and lifecycle: REQUESTED → IN_PROGRESS → SUCCESS | FAILED, driven by the virtual
// clock. State is recomputed from virtual time on every read (so a client that polls sees exactly
// the right status), and real timers scaled by the clock also advance jobs, so result files appear
// in storage without anyone polling. `snapshot`/`restore` carry the jobs across a restart: a job's
// schedule is kept in virtual time, and its results are computed again from its input (deterministic).
import type { BlobStore } from './blobs.js';
import {
  computeStatistics,
  laneResultsParquet,
  matchRoads,
  resultFilename,
  roadResultsParquet,
  seedOf,
} from './matching.js';
import type { JobDurations, JobType, PublicJob, SimulatorClock } from './types.js';
import { failureMessage, validateLaneLevelInput, validateRoadMatchingInput } from './validation.js';

export const DEFAULT_DURATIONS: Required<JobDurations> = {
  queuedMs: 60_000,
  perSegmentMs: 36, // 100,000 segments per hour, the documented throughput
  minRunningMs: 5 * 60_000,
};

export const FORCED_FAILURE_MESSAGE = 'The matching job failed because of an internal processing error.';

/** Real-time scheduler; tests pass a fake that records callbacks instead of waiting. */
export type Schedule = (fn: () => void, realDelayMs: number) => () => void;

const MAX_TIMER_MS = 2 ** 31 - 1;

export const realSchedule: Schedule = (fn, ms) => {
  const t = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS));
  t.unref();
  return () => clearTimeout(t);
};

export interface NewJob {
  owner: string;
  storageId: string;
  filename: string;
  jobType: JobType;
  overtureRelease?: string;
  orbisVersion?: string;
}

/** A job as a saved state keeps it: enough to continue it after a restart (results are recomputed). */
export interface SavedJob {
  job: PublicJob;
  owner: string;
  /** Virtual ms at which it leaves REQUESTED. */
  startAt: number;
  /** Virtual ms at which it ends; known once it has started. */
  completeAt?: number;
  forcedFailure?: string;
}

export interface SavedJobs {
  jobs: SavedJob[];
  /** A pending admin "fail the next job". */
  failNext?: string;
}

interface JobRecord {
  job: PublicJob;
  owner: string;
  startAt: number;
  completeAt?: number;
  started?: Promise<void>;
  completing?: Promise<void>;
  forcedFailure?: string;
  result?: { name: string; bytes: Uint8Array; statistics: PublicJob['statistics'] };
  cancelTimers: (() => void)[];
}

/** ISO 8601 with microseconds and `Z`, like `2026-02-18T10:38:59.031762Z`. */
export function isoMicros(epochMs: number): string {
  const iso = new Date(Math.floor(epochMs)).toISOString(); // …ss.mmmZ
  // Round, not floor: fractional ms carry binary noise (0.762 is stored as 0.76199…).
  const micros = Math.min(999, Math.round((epochMs - Math.floor(epochMs)) * 1000));
  return `${iso.slice(0, -1)}${String(micros).padStart(3, '0')}Z`;
}

export interface JobStoreDeps {
  clock: SimulatorClock;
  blobs: BlobStore;
  durations?: JobDurations;
  schedule?: Schedule;
  random?: () => number;
}

export class JobStore {
  private readonly jobs = new Map<number, JobRecord>();
  private readonly durations: Required<JobDurations>;
  private readonly schedule: Schedule;
  private readonly random: () => number;
  private failNext: string | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: JobStoreDeps) {
    this.durations = { ...DEFAULT_DURATIONS, ...stripUndefined(deps.durations ?? {}) };
    this.schedule = deps.schedule ?? realSchedule;
    this.random = deps.random ?? Math.random;
  }

  private newId(): number {
    for (;;) {
      const id = 100_000_000 + Math.floor(this.random() * 900_000_000);
      if (!this.jobs.has(id)) return id;
    }
  }

  create(input: NewJob): PublicJob {
    const now = this.deps.clock.now();
    const job: PublicJob = {
      job_id: this.newId(),
      job_type: input.jobType,
      ...(input.jobType === 'ROAD_MATCHING'
        ? { overture_release: input.overtureRelease }
        : { orbis_version: input.orbisVersion }),
      storage_id: input.storageId,
      input_filename: input.filename,
      result_filename: null,
      requested_at: isoMicros(now),
      status: 'REQUESTED',
      statistics: null,
    };
    const rec: JobRecord = {
      job,
      owner: input.owner,
      startAt: now + this.durations.queuedMs,
      cancelTimers: [],
    };
    if (this.failNext !== undefined) {
      rec.forcedFailure = this.failNext;
      this.failNext = undefined;
    }
    this.jobs.set(job.job_id, rec);
    this.scheduleAt(rec, rec.startAt);
    return { ...job };
  }

  /** Bring a job up to date with virtual time, waiting for any blob I/O its transitions need. */
  private async advance(rec: JobRecord): Promise<void> {
    if (isTerminal(rec)) return;
    if (this.deps.clock.now() < rec.startAt) return;
    rec.job.status = 'IN_PROGRESS';
    rec.started ??= this.track(rec, this.start(rec));
    await rec.started;
    if (isTerminal(rec) || rec.completeAt === undefined) return;
    if (this.deps.clock.now() < rec.completeAt) return;
    rec.completing ??= this.track(rec, this.complete(rec));
    await rec.completing;
  }

  private track(rec: JobRecord, p: Promise<void>): Promise<void> {
    const guarded = p.catch((e: unknown) => {
      // The job must never hang in IN_PROGRESS because of a bug or an I/O error.
      fail(rec, `The matching job failed because of an internal processing error (${errorText(e)}).`);
    });
    this.inFlight.add(guarded);
    void guarded.finally(() => this.inFlight.delete(guarded));
    return guarded;
  }

  private async start(rec: JobRecord): Promise<void> {
    if (rec.forcedFailure !== undefined) return fail(rec, rec.forcedFailure);
    const { storage_id: storageId, input_filename: name } = rec.job;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.deps.blobs.read(storageId, name);
    } catch (e) {
      return fail(
        rec,
        `The input file '${name}' could not be read from storage '${storageId}' (${errorText(e)}).`,
      );
    }
    if (!bytes) return fail(rec, `The input file '${name}' was not found in storage '${storageId}'.`);
    const seed = seedOf(bytes);
    let rowCount: number;
    if (rec.job.job_type === 'ROAD_MATCHING') {
      const checked = await validateRoadMatchingInput(bytes);
      if (!checked.ok) return fail(rec, failureMessage(checked));
      const matched = matchRoads(checked.rows, seed);
      rowCount = checked.rows.length;
      const runMs = this.runningMs(rowCount);
      rec.result = {
        name: resultFilename(name),
        bytes: roadResultsParquet(matched.rows),
        statistics: computeStatistics(checked.rows, matched.outcomes, runMs / 1000),
      };
    } else {
      const checked = await validateLaneLevelInput(bytes);
      if (!checked.ok) return fail(rec, failureMessage(checked));
      rowCount = checked.rows.length;
      rec.result = {
        name: resultFilename(name),
        bytes: laneResultsParquet(checked.rows, rec.job.orbis_version ?? '', seed),
        statistics: { num_traces_processed: rowCount },
      };
    }
    if (rec.forcedFailure !== undefined) return fail(rec, rec.forcedFailure);
    // A restored job keeps the end it was given before the restart.
    rec.completeAt ??= rec.startAt + this.runningMs(rowCount);
    this.scheduleAt(rec, rec.completeAt);
  }

  private async complete(rec: JobRecord): Promise<void> {
    if (rec.forcedFailure !== undefined) return fail(rec, rec.forcedFailure);
    const result = rec.result!;
    try {
      await this.deps.blobs.write(rec.job.storage_id, result.name, result.bytes);
    } catch (e) {
      return fail(
        rec,
        `The results could not be written to storage '${rec.job.storage_id}' (${errorText(e)}).`,
      );
    }
    if (rec.forcedFailure !== undefined) return fail(rec, rec.forcedFailure);
    rec.job.status = 'SUCCESS';
    rec.job.result_filename = result.name;
    rec.job.statistics = result.statistics;
  }

  runningMs(rows: number): number {
    return Math.max(this.durations.minRunningMs, rows * this.durations.perSegmentMs);
  }

  /** Fire `advance` once virtual time reaches `atVirtualMs`, re-arming if the clock lags. */
  private scheduleAt(rec: JobRecord, atVirtualMs: number): void {
    const arm = () => {
      const remaining = atVirtualMs - this.deps.clock.now();
      const delay = this.deps.clock.toRealDelayMs(Math.max(0, remaining));
      if (!Number.isFinite(delay)) return; // a paused clock: reads still advance the job lazily
      const cancel = this.schedule(() => {
        rec.cancelTimers = rec.cancelTimers.filter((c) => c !== cancel);
        if (this.jobs.get(rec.job.job_id) !== rec) return;
        if (this.deps.clock.now() < atVirtualMs) return arm();
        void this.advance(rec);
      }, delay);
      rec.cancelTimers.push(cancel);
    };
    arm();
  }

  async get(jobId: number, owner: string): Promise<PublicJob | undefined> {
    const rec = this.jobs.get(jobId);
    if (!rec || rec.owner !== owner) return undefined;
    await this.advance(rec);
    return { ...rec.job };
  }

  async list(owner: string | undefined, jobType?: JobType): Promise<(PublicJob & { owner_oid: string })[]> {
    const recs = [...this.jobs.values()].filter(
      (r) =>
        (owner === undefined || r.owner === owner) && (jobType === undefined || r.job.job_type === jobType),
    );
    await Promise.all(recs.map((r) => this.advance(r)));
    return recs.map((r) => ({ ...r.job, owner_oid: r.owner }));
  }

  /**
   * Admin view of when each job starts and ends in virtual time (ISO), which the public job object does not
   * carry: `completes_at` is null until the job has started (its duration depends on the input).
   */
  async timeline(): Promise<
    {
      job_id: number;
      status: PublicJob['status'];
      requested_at: string;
      starts_at: string;
      completes_at: string | null;
    }[]
  > {
    const recs = [...this.jobs.values()];
    await Promise.all(recs.map((r) => this.advance(r)));
    return recs.map((r) => ({
      job_id: r.job.job_id,
      status: r.job.status,
      requested_at: r.job.requested_at,
      starts_at: isoMicros(r.startAt),
      completes_at: r.completeAt === undefined ? null : isoMicros(r.completeAt),
    }));
  }

  /**
   * Admin "fail-job": with an id, that job ends FAILED (at once if running, at its start if still
   * queued); without one, the next created job does. Returns false for an unknown or finished job.
   */
  async forceFail(jobId: number | undefined, message = FORCED_FAILURE_MESSAGE): Promise<boolean> {
    if (jobId === undefined) {
      this.failNext = message;
      return true;
    }
    const rec = this.jobs.get(jobId);
    if (!rec || isTerminal(rec)) return false;
    rec.forcedFailure = message;
    await this.advance(rec);
    if (rec.started) {
      await rec.started;
      if (!isTerminal(rec)) fail(rec, message);
    }
    return true;
  }

  /** The jobs as they stand (not advanced: a restored job catches up from virtual time). */
  snapshot(): SavedJobs {
    const jobs = [...this.jobs.values()].map((rec) => ({
      job: structuredClone(rec.job),
      owner: rec.owner,
      startAt: rec.startAt,
      ...(rec.completeAt === undefined ? {} : { completeAt: rec.completeAt }),
      ...(rec.forcedFailure === undefined ? {} : { forcedFailure: rec.forcedFailure }),
    }));
    return { jobs, ...(this.failNext === undefined ? {} : { failNext: this.failNext }) };
  }

  /**
   * Takes over saved jobs (replacing any held). An unfinished job runs on from its saved schedule: a job
   * that had started reads its input again to rebuild its results, which are the same for the same input.
   */
  restore(saved: SavedJobs): void {
    this.reset();
    this.failNext = saved.failNext;
    for (const s of saved.jobs) {
      const rec: JobRecord = {
        job: structuredClone(s.job),
        owner: s.owner,
        startAt: s.startAt,
        cancelTimers: [],
        ...(s.completeAt === undefined ? {} : { completeAt: s.completeAt }),
        ...(s.forcedFailure === undefined ? {} : { forcedFailure: s.forcedFailure }),
      };
      this.jobs.set(rec.job.job_id, rec);
      if (!isTerminal(rec)) this.scheduleAt(rec, rec.startAt);
    }
  }

  reset(): void {
    for (const rec of this.jobs.values()) for (const cancel of rec.cancelTimers) cancel();
    this.jobs.clear();
    this.failNext = undefined;
  }

  async close(): Promise<void> {
    this.reset();
    await Promise.allSettled([...this.inFlight]);
  }
}

function isTerminal(rec: JobRecord): boolean {
  return rec.job.status === 'SUCCESS' || rec.job.status === 'FAILED';
}

function fail(rec: JobRecord, message: string): void {
  rec.job.status = 'FAILED';
  rec.job.message = message;
  rec.job.result_filename = null;
  rec.job.statistics = null;
  for (const cancel of rec.cancelTimers) cancel();
  rec.cancelTimers = [];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
