// How long a simulated GEM job takes and how many jobs one user may hold, as one set of settings. A job stays
// REQUESTED for its queue time, waits (still REQUESTED) for a running slot if the user's running-job limit is
// reached, then runs for rows ÷ throughput (never less than a minimum run). TomTom documents about 100,000 road
// segments per hour and no limit on concurrent jobs (shared/reference/gem-api.md §9), so those are the
// defaults. The settings come from the simulator's options; the admin API overrides them at run time. The
// functions here are pure (virtual times in, times out), so the lifecycle in jobs.ts stays a thin user of them.
import { z } from 'zod';
import type { JobDurations, JobLimits } from './types.js';

/** TomTom's documented throughput (technical details page). */
export const DOCUMENTED_SEGMENTS_PER_HOUR = 100_000;
const HOUR_MS = 3_600_000;
/** Retry-After when the clock cannot say (a paused clock never lets time pass). */
const FALLBACK_RETRY_AFTER_SECONDS = 60;

/** The effective settings: every duration in virtual ms, every limit per user, null = no limit. */
export interface JobSettings {
  queuedMs: number;
  segmentsPerHour: number;
  minRunningMs: number;
  maxConcurrentJobsPerUser: number | null;
  maxRunningJobsPerUser: number | null;
  retryAfterSeconds: number | null;
}

export const DEFAULT_JOB_SETTINGS: Readonly<JobSettings> = {
  queuedMs: 60_000,
  segmentsPerHour: DOCUMENTED_SEGMENTS_PER_HOUR,
  minRunningMs: 5 * 60_000,
  maxConcurrentJobsPerUser: null,
  maxRunningJobsPerUser: null,
  retryAfterSeconds: null,
};

const TEN_YEARS_MS = 10 * 365 * 24 * HOUR_MS;
const perUserLimit = z.number().int().min(1).max(1_000_000).nullable();

/** A change to some of the settings (the admin API's body; the options are checked with it too). */
export const jobSettingsPatchSchema = z.strictObject({
  queuedMs: z.number().min(0).max(TEN_YEARS_MS).optional(),
  segmentsPerHour: z.number().positive().max(1e12).optional(),
  minRunningMs: z.number().min(0).max(TEN_YEARS_MS).optional(),
  maxConcurrentJobsPerUser: perUserLimit.optional(),
  maxRunningJobsPerUser: perUserLimit.optional(),
  retryAfterSeconds: z.number().int().min(0).max(86_400).nullable().optional(),
});
export type JobSettingsPatch = z.infer<typeof jobSettingsPatchSchema>;

/**
 * The settings the simulator was started with: the defaults, overridden by the options. `perSegmentMs` is the
 * same throughput as `segmentsPerHour`, in the other unit; both may be given only when they agree.
 * Throws a message naming the option for a value out of range.
 */
export function configuredSettings(durations: JobDurations = {}, limits: JobLimits = {}): JobSettings {
  const { perSegmentMs, segmentsPerHour, queuedMs, minRunningMs } = durations;
  let rate = segmentsPerHour;
  if (perSegmentMs !== undefined) {
    if (!(Number.isFinite(perSegmentMs) && perSegmentMs > 0)) {
      throw new Error(`simulator jobDurations.perSegmentMs must be a positive number, got ${perSegmentMs}.`);
    }
    const fromPerSegment = HOUR_MS / perSegmentMs;
    if (rate !== undefined && Math.abs(rate - fromPerSegment) > 1e-9 * rate) {
      throw new Error(
        `simulator jobDurations: perSegmentMs ${perSegmentMs} (${fromPerSegment} segments per hour) ` +
          `contradicts segmentsPerHour ${rate}; give one of them.`,
      );
    }
    rate = fromPerSegment;
  }
  const given = { queuedMs, segmentsPerHour: rate, minRunningMs, ...limits };
  const parsed = jobSettingsPatchSchema.safeParse(
    Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`simulator job settings are invalid: ${problems}.`);
  }
  return { ...DEFAULT_JOB_SETTINGS, ...parsed.data };
}

/** Virtual ms a job of `rows` rows stays IN_PROGRESS. */
export function runningMs(settings: Pick<JobSettings, 'segmentsPerHour' | 'minRunningMs'>, rows: number) {
  return Math.max(settings.minRunningMs, Math.round((rows * HOUR_MS) / settings.segmentsPerHour));
}

/**
 * When a job that is ready at `readyAt` gets a running slot, given when each of the user's started jobs ends
 * (those already ended included; Infinity when not yet known) and at most `slots` running at once: at
 * `readyAt` when fewer than `slots` are still running then, otherwise once enough of them have ended.
 */
export function slotStart(readyAt: number, startedJobEnds: number[], slots: number | null): number {
  if (slots === null) return readyAt;
  const running = startedJobEnds.filter((end) => end > readyAt).sort((a, b) => a - b);
  return running.length < slots ? readyAt : running[running.length - slots]!;
}

/**
 * The Retry-After (whole seconds, at least 1) of a refusal: the wait until enough of the caller's active jobs
 * are due to end for it to be below `limit`, converted to the caller's real time. A client of the local stack
 * waits in real time while the simulator's jobs run on the virtual clock, so this is the wait after which a
 * submission succeeds (TomTom's time and real time are the same thing in production).
 */
export function refusalRetryAfterSeconds(
  activeJobEnds: number[],
  limit: number,
  now: number,
  toRealDelayMs: (virtualMs: number) => number,
): number {
  const sorted = [...activeJobEnds].sort((a, b) => a - b);
  const freeAt = sorted[sorted.length - limit] ?? now;
  const realMs = toRealDelayMs(Math.max(0, freeAt - now));
  if (!Number.isFinite(realMs)) return FALLBACK_RETRY_AFTER_SECONDS;
  return Math.max(1, Math.ceil(realMs / 1000));
}
