// GEM job store and lifecycle: REQUESTED → IN_PROGRESS → SUCCESS | FAILED, driven by the virtual
// clock. State is recomputed from virtual time on every read (so a client that polls sees exactly
// the right status), and real timers scaled by the clock also advance jobs, so result files appear
// in storage without anyone polling. Each user's jobs are brought up to date together, in order, because
// with a running-job limit one job's end is another's start; durations and limits are limits.ts's model.
// `snapshot`/`restore` carry the jobs across a restart: a job's schedule is kept in virtual time, and its
// results are computed again from its input (deterministic).
import type { BlobStore } from './blobs.js';
import {
  configuredSettings,
  type JobSettings,
  type JobSettingsPatch,
  refusalRetryAfterSeconds,
  runningMs,
  slotStart,
} from './limits.js';
import { resultFilename } from './matching.js';
import { jobResults } from './results.js';
import type { JobDurations, JobLimits, JobType, PublicJob, SimulatorClock } from './types.js';

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

/** A submission refused because the user holds as many jobs as the limit allows. */
export interface ConcurrencyRefusal {
  /** The user's jobs REQUESTED or IN_PROGRESS. */
  active: number;
  limit: number;
  retryAfterSeconds: number;
}

export type Admission = { accepted: true; job: PublicJob } | { accepted: false; refusal: ConcurrencyRefusal };

/** A job as a saved state keeps it: enough to continue it after a restart (results are recomputed). */
export interface SavedJob {
  job: PublicJob;
  owner: string;
  /** Virtual ms at which its queue time ends: it leaves REQUESTED then, or once a running slot frees. */
  startAt: number;
  /** Virtual ms at which it got its running slot (absent while waiting, and in states saved before slots). */
  startedAt?: number;
  /** Virtual ms at which it ends; known once it has started. */
  completeAt?: number;
  /** Virtual ms at which it reached SUCCESS or FAILED. */
  endedAt?: number;
  forcedFailure?: string;
}

export interface SavedJobs {
  jobs: SavedJob[];
  /** A pending admin "fail the next job". */
  failNext?: string;
  /** Settings changed through the admin API, and the virtual ms since which they apply. */
  limits?: { overrides: JobSettingsPatch; since: number };
}

interface JobRecord {
  job: PublicJob;
  owner: string;
  /** Virtual ms at which its queue time ends. */
  readyAt: number;
  /** Virtual ms at which it got a running slot; unset while it waits for one. */
  startedAt?: number;
  completeAt?: number;
  endedAt?: number;
  /** Input rows, once its input has been read. */
  rows?: number;
  started?: Promise<void>;
  completing?: Promise<void>;
  forcedFailure?: string;
  result?: { name: string; bytes: Uint8Array; statistics: PublicJob['statistics'] };
  cancelTimers: (() => void)[];
}

/** One job's schedule for the admin API (virtual ISO times), which the public job object does not carry. */
export interface JobTimeline {
  job_id: number;
  owner_oid: string;
  status: PublicJob['status'];
  requested_at: string;
  /** When it left REQUESTED, or the end of its queue time while it has not (later if it waits for a slot). */
  starts_at: string;
  /** Null until it has started: its duration depends on its input. */
  completes_at: string | null;
  /** Its queue time is over but the user's running-job limit holds it in REQUESTED. */
  waiting_for_slot: boolean;
  input_rows: number | null;
}

/** Effective limits and what each user holds against them (GET /_admin/limits). */
export interface LimitsView {
  limits: JobSettings;
  /** What the simulator was started with. */
  configured: JobSettings;
  /** What the admin API changed (POST /_admin/limits), cleared by DELETE /_admin/limits. */
  overrides: JobSettingsPatch;
  users: { user: string; requested: number; inProgress: number; waitingForSlot: number }[];
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
  limits?: JobLimits;
  schedule?: Schedule;
  random?: () => number;
}

export class JobStore {
  private readonly jobs = new Map<number, JobRecord>();
  private readonly configured: JobSettings;
  private overrides: JobSettingsPatch = {};
  /** Virtual ms since which the current settings apply: no job gets a slot earlier under them. */
  private settingsSince = 0;
  private readonly schedule: Schedule;
  private readonly random: () => number;
  private failNext: string | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Per user, the tail of the chain of catch-ups, so one user's jobs are brought up to date one at a time. */
  private readonly settling = new Map<string, Promise<void>>();

  constructor(private readonly deps: JobStoreDeps) {
    this.configured = configuredSettings(deps.durations, deps.limits);
    this.schedule = deps.schedule ?? realSchedule;
    this.random = deps.random ?? Math.random;
  }

  /** The settings in effect: the configured ones with the admin API's changes over them. */
  get settings(): JobSettings {
    return { ...this.configured, ...this.overrides };
  }

  private newId(): number {
    for (;;) {
      const id = 100_000_000 + Math.floor(this.random() * 900_000_000);
      if (!this.jobs.has(id)) return id;
    }
  }

  /**
   * A new job, unless the user already holds `maxConcurrentJobsPerUser` jobs REQUESTED or IN_PROGRESS (queued
   * ones count, as they hold the service's capacity too). The count and the creation happen with no await in
   * between, so concurrent submissions cannot both take the last place.
   */
  async submit(input: NewJob): Promise<Admission> {
    await this.settle(input.owner);
    const active = this.jobsOf(input.owner).filter((r) => !isTerminal(r));
    const limit = this.settings.maxConcurrentJobsPerUser;
    if (limit !== null && active.length >= limit) {
      return { accepted: false, refusal: this.refusal(active, limit) };
    }
    return { accepted: true, job: this.create(input) };
  }

  private refusal(active: JobRecord[], limit: number): ConcurrencyRefusal {
    const { clock } = this.deps;
    const fixed = this.settings.retryAfterSeconds;
    const now = clock.now();
    // A job not yet started ends no sooner than its start plus the minimum run.
    const ends = active.map(
      (r) => r.completeAt ?? Math.max(r.startedAt ?? r.readyAt, now) + this.settings.minRunningMs,
    );
    return {
      active: active.length,
      limit,
      retryAfterSeconds: fixed ?? refusalRetryAfterSeconds(ends, limit, now, (ms) => clock.toRealDelayMs(ms)),
    };
  }

  private create(input: NewJob): PublicJob {
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
      readyAt: now + this.settings.queuedMs,
      cancelTimers: [],
    };
    if (this.failNext !== undefined) {
      rec.forcedFailure = this.failNext;
      this.failNext = undefined;
    }
    this.jobs.set(job.job_id, rec);
    this.scheduleAt(rec, rec.readyAt);
    return { ...job };
  }

  private jobsOf(owner: string): JobRecord[] {
    return [...this.jobs.values()].filter((r) => r.owner === owner);
  }

  private owners(): string[] {
    return [...new Set([...this.jobs.values()].map((r) => r.owner))];
  }

  /** Brings one user's jobs up to virtual now, after any catch-up of theirs already under way. */
  private settle(owner: string): Promise<void> {
    const next = (this.settling.get(owner) ?? Promise.resolve()).then(() => this.settleNow(owner));
    const tail = next.catch(() => undefined);
    this.settling.set(owner, tail);
    void tail.then(() => {
      if (this.settling.get(owner) === tail) this.settling.delete(owner);
    });
    return next;
  }

  private async settleAll(): Promise<void> {
    await Promise.all(this.owners().map((owner) => this.settle(owner)));
  }

  /** Finishes what is due among the started jobs, then starts waiting ones as slots free, in virtual order. */
  private async settleNow(owner: string): Promise<void> {
    for (;;) {
      const mine = this.jobsOf(owner);
      await Promise.all(mine.filter((r) => r.startedAt !== undefined).map((r) => this.advance(r)));
      if (!this.grantNextSlot(mine)) return;
    }
  }

  /**
   * Gives the waiting job whose queue time ended first its running slot, at the virtual instant it got one,
   * if that instant has come; false when no job can start yet.
   */
  private grantNextSlot(mine: JobRecord[]): boolean {
    let next: JobRecord | undefined;
    for (const r of mine) {
      if (r.startedAt === undefined && !isTerminal(r) && (!next || r.readyAt < next.readyAt)) next = r;
    }
    if (!next) return false;
    const ends = mine
      .filter((r) => r.startedAt !== undefined)
      .map((r) => r.endedAt ?? r.completeAt ?? Infinity);
    const at = slotStart(
      Math.max(next.readyAt, this.settingsSince),
      ends,
      this.settings.maxRunningJobsPerUser,
    );
    if (at > this.deps.clock.now()) return false;
    next.startedAt = at;
    return true;
  }

  /** Bring a started job up to date with virtual time, waiting for any blob I/O its transitions need. */
  private async advance(rec: JobRecord): Promise<void> {
    if (isTerminal(rec) || rec.startedAt === undefined) return;
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
      const message = `The matching job failed because of an internal processing error (${errorText(e)}).`;
      fail(rec, message, this.deps.clock.now());
    });
    this.inFlight.add(guarded);
    void guarded.finally(() => this.inFlight.delete(guarded));
    return guarded;
  }

  /** Reads and checks the input, computes the results, and fixes when the job ends. */
  private async start(rec: JobRecord): Promise<void> {
    const startedAt = rec.startedAt!;
    if (rec.forcedFailure !== undefined) return fail(rec, rec.forcedFailure, startedAt);
    const { storage_id: storageId, input_filename: name } = rec.job;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.deps.blobs.read(storageId, name);
    } catch (e) {
      const message = `The input file '${name}' could not be read from storage '${storageId}' (${errorText(e)}).`;
      return fail(rec, message, startedAt);
    }
    if (!bytes)
      return fail(rec, `The input file '${name}' was not found in storage '${storageId}'.`, startedAt);
    const computed = await jobResults(rec.job, bytes);
    if (!computed.ok) return fail(rec, computed.message, startedAt);
    if (rec.forcedFailure !== undefined) return fail(rec, rec.forcedFailure, startedAt);
    // A restored job keeps the end it was given before the restart.
    rec.completeAt ??= startedAt + runningMs(this.settings, computed.rows);
    rec.rows = computed.rows;
    rec.result = {
      name: resultFilename(name),
      bytes: computed.bytes,
      statistics: computed.statistics((rec.completeAt - startedAt) / 1000),
    };
    this.scheduleAt(rec, rec.completeAt);
  }

  private async complete(rec: JobRecord): Promise<void> {
    const endedAt = rec.completeAt!;
    if (rec.forcedFailure !== undefined) return fail(rec, rec.forcedFailure, endedAt);
    const result = rec.result!;
    try {
      await this.deps.blobs.write(rec.job.storage_id, result.name, result.bytes);
    } catch (e) {
      const message = `The results could not be written to storage '${rec.job.storage_id}' (${errorText(e)}).`;
      return fail(rec, message, endedAt);
    }
    if (rec.forcedFailure !== undefined) return fail(rec, rec.forcedFailure, endedAt);
    rec.job.status = 'SUCCESS';
    rec.job.result_filename = result.name;
    rec.job.statistics = result.statistics;
    rec.endedAt = endedAt;
  }

  /** Catch the job's user up once virtual time reaches `atVirtualMs`, re-arming if the clock lags. */
  private scheduleAt(rec: JobRecord, atVirtualMs: number): void {
    const arm = () => {
      const remaining = atVirtualMs - this.deps.clock.now();
      const delay = this.deps.clock.toRealDelayMs(Math.max(0, remaining));
      if (!Number.isFinite(delay)) return; // a paused clock: reads still advance the job lazily
      const cancel = this.schedule(() => {
        rec.cancelTimers = rec.cancelTimers.filter((c) => c !== cancel);
        if (this.jobs.get(rec.job.job_id) !== rec) return;
        if (this.deps.clock.now() < atVirtualMs) return arm();
        void this.settle(rec.owner);
      }, delay);
      rec.cancelTimers.push(cancel);
    };
    arm();
  }

  async get(jobId: number, owner: string): Promise<PublicJob | undefined> {
    const rec = this.jobs.get(jobId);
    if (!rec || rec.owner !== owner) return undefined;
    await this.settle(owner);
    return { ...rec.job };
  }

  async list(owner: string | undefined, jobType?: JobType): Promise<(PublicJob & { owner_oid: string })[]> {
    await (owner === undefined ? this.settleAll() : this.settle(owner));
    const recs = [...this.jobs.values()].filter(
      (r) =>
        (owner === undefined || r.owner === owner) && (jobType === undefined || r.job.job_type === jobType),
    );
    return recs.map((r) => ({ ...r.job, owner_oid: r.owner }));
  }

  /** Admin view of when each job starts and ends in virtual time, and what holds it. */
  async timeline(): Promise<JobTimeline[]> {
    await this.settleAll();
    const now = this.deps.clock.now();
    return [...this.jobs.values()].map((r) => ({
      job_id: r.job.job_id,
      owner_oid: r.owner,
      status: r.job.status,
      requested_at: r.job.requested_at,
      starts_at: isoMicros(r.startedAt ?? r.readyAt),
      completes_at: r.completeAt === undefined ? null : isoMicros(r.completeAt),
      waiting_for_slot: r.startedAt === undefined && !isTerminal(r) && r.readyAt <= now,
      input_rows: r.rows ?? null,
    }));
  }

  /** The effective limits, and per user the jobs REQUESTED (of them, waiting for a slot) and IN_PROGRESS. */
  async limits(): Promise<LimitsView> {
    await this.settleAll();
    const now = this.deps.clock.now();
    const users = this.owners().map((user) => {
      const mine = this.jobsOf(user);
      const requested = mine.filter((r) => r.job.status === 'REQUESTED');
      return {
        user,
        requested: requested.length,
        inProgress: mine.filter((r) => r.job.status === 'IN_PROGRESS').length,
        waitingForSlot: requested.filter((r) => r.startedAt === undefined && r.readyAt <= now).length,
      };
    });
    return {
      limits: this.settings,
      configured: { ...this.configured },
      overrides: { ...this.overrides },
      users,
    };
  }

  /**
   * Changes settings from now on: what was due before happens under the old ones first; a job already
   * running keeps its end, a job already queued its queue time; a raised running-job limit starts waiting jobs
   * at once.
   */
  async setLimits(patch: JobSettingsPatch): Promise<JobSettings> {
    await this.settleAll();
    this.overrides = { ...this.overrides, ...patch };
    this.settingsSince = this.deps.clock.now();
    await this.settleAll();
    return this.settings;
  }

  /** Back to the configured settings (DELETE /_admin/limits). */
  async resetLimits(): Promise<JobSettings> {
    await this.settleAll();
    this.overrides = {};
    this.settingsSince = this.deps.clock.now();
    await this.settleAll();
    return this.settings;
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
    if (!rec) return false;
    // First up to now: a job that has been running since its start fails now, not at its start.
    await this.settle(rec.owner);
    if (isTerminal(rec)) return false;
    rec.forcedFailure = message;
    if (rec.started) {
      await rec.started;
      if (!isTerminal(rec)) {
        fail(rec, message, this.deps.clock.now());
        // Its slot is free now: a job waiting for one starts.
        await this.settle(rec.owner);
      }
    }
    return true;
  }

  /** The jobs as they stand (not advanced: a restored job catches up from virtual time). */
  snapshot(): SavedJobs {
    const jobs = [...this.jobs.values()].map((rec) => ({
      job: structuredClone(rec.job),
      owner: rec.owner,
      startAt: rec.readyAt,
      ...defined({
        startedAt: rec.startedAt,
        completeAt: rec.completeAt,
        endedAt: rec.endedAt,
        forcedFailure: rec.forcedFailure,
      }),
    }));
    const changed = Object.keys(this.overrides).length > 0;
    return {
      jobs,
      ...(this.failNext === undefined ? {} : { failNext: this.failNext }),
      ...(changed ? { limits: { overrides: { ...this.overrides }, since: this.settingsSince } } : {}),
    };
  }

  /**
   * Takes over saved jobs (replacing any held). An unfinished job runs on from its saved schedule: a job
   * that had started reads its input again to rebuild its results, which are the same for the same input.
   */
  restore(saved: SavedJobs): void {
    this.reset();
    this.failNext = saved.failNext;
    this.overrides = { ...(saved.limits?.overrides ?? {}) };
    this.settingsSince = saved.limits?.since ?? 0;
    for (const s of saved.jobs) {
      const rec = restoredRecord(s);
      this.jobs.set(rec.job.job_id, rec);
      if (!isTerminal(rec)) this.scheduleAt(rec, rec.startedAt ?? rec.readyAt);
    }
  }

  reset(): void {
    for (const rec of this.jobs.values()) for (const cancel of rec.cancelTimers) cancel();
    this.jobs.clear();
    this.failNext = undefined;
    this.overrides = {};
    this.settingsSince = 0;
  }

  async close(): Promise<void> {
    this.reset();
    await Promise.allSettled([...this.inFlight]);
  }
}

/** A saved job as a record; a state saved before running slots existed started every job at its `startAt`. */
function restoredRecord(s: SavedJob): JobRecord {
  const startedBeforeSlots = s.startedAt === undefined && s.job.status !== 'REQUESTED';
  const startedAt = s.startedAt ?? (startedBeforeSlots ? s.startAt : undefined);
  const endedAt =
    s.endedAt ??
    (s.job.status === 'SUCCESS' ? s.completeAt : s.job.status === 'FAILED' ? startedAt : undefined);
  return {
    job: structuredClone(s.job),
    owner: s.owner,
    readyAt: s.startAt,
    cancelTimers: [],
    ...defined({ startedAt, completeAt: s.completeAt, endedAt, forcedFailure: s.forcedFailure }),
  };
}

function isTerminal(rec: JobRecord): boolean {
  return rec.job.status === 'SUCCESS' || rec.job.status === 'FAILED';
}

function fail(rec: JobRecord, message: string, endedAt: number): void {
  rec.job.status = 'FAILED';
  rec.job.message = message;
  rec.job.result_filename = null;
  rec.job.statistics = null;
  rec.endedAt = endedAt;
  for (const cancel of rec.cancelTimers) cancel();
  rec.cancelTimers = [];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
