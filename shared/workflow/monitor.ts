/**
 * Deterministic arithmetic for the GEM monitor loop. The orchestrator replays, so nothing here reads the
 * clock, draws random numbers or does I/O: every instant comes in as an argument (the orchestrator passes
 * `context.df.currentUtcDateTime`).
 */
import { GemFlowError } from '../errors.js';
import type { MonitorState } from './types.js';

export interface MonitorPolicy {
  /** Delay before the second poll; later delays grow from here. */
  initialIntervalSeconds: number;
  /** Upper bound for any single delay. */
  maxIntervalSeconds: number;
  /** Multiplier applied per poll (1 = fixed interval). */
  backoffFactor: number;
  /** How long after monitoring begins the match gives up as `timed-out`. */
  deadlineHours: number;
  /** Polls per orchestration generation before `continueAsNew` resets the history. */
  pollsPerGeneration: number;
}

/** GEM's documented throughput (technical-details page): about 100,000 road segments per hour. */
export const GEM_SEGMENTS_PER_HOUR = 100_000;

/** No estimate is shorter than this: queueing and start-up take time even for a ten-row file. */
export const MINIMUM_ESTIMATE_MINUTES = 10;

export class MonitorPolicyError extends GemFlowError {
  readonly code = 'MonitorPolicyInvalid';
}

/**
 * Validates settings into a policy. Settings are checked when the app starts, but a bad policy would make
 * an orchestration poll in a tight loop or never continue as new, so it is checked again here.
 */
export function monitorPolicyFrom(settings: MonitorPolicy): MonitorPolicy {
  const problems: string[] = [];
  const positive = (name: keyof MonitorPolicy) => {
    const value = settings[name];
    if (!Number.isFinite(value) || value <= 0)
      problems.push(`${name} must be a positive number (got ${value})`);
  };
  positive('initialIntervalSeconds');
  positive('maxIntervalSeconds');
  positive('deadlineHours');
  positive('pollsPerGeneration');
  if (!Number.isFinite(settings.backoffFactor) || settings.backoffFactor < 1) {
    problems.push(`backoffFactor must be at least 1 (got ${settings.backoffFactor})`);
  }
  if (!Number.isInteger(settings.pollsPerGeneration)) {
    problems.push(`pollsPerGeneration must be a whole number (got ${settings.pollsPerGeneration})`);
  }
  if (settings.maxIntervalSeconds < settings.initialIntervalSeconds) {
    problems.push(
      `maxIntervalSeconds (${settings.maxIntervalSeconds}) must not be below initialIntervalSeconds (${settings.initialIntervalSeconds})`,
    );
  }
  if (problems.length > 0) {
    throw new MonitorPolicyError(`The GEM monitor settings are invalid: ${problems.join('; ')}.`, {
      remedy: 'Fix the monitor interval, backoff, deadline and generation settings in the app settings.',
    });
  }
  return {
    initialIntervalSeconds: settings.initialIntervalSeconds,
    maxIntervalSeconds: settings.maxIntervalSeconds,
    backoffFactor: settings.backoffFactor,
    deadlineHours: settings.deadlineHours,
    pollsPerGeneration: settings.pollsPerGeneration,
  };
}

/** Statuses meaning "accepted but not started": GEM REQUESTED and legacy `queued`. */
function isNotStarted(gemStatus: string | undefined): boolean {
  const status = gemStatus?.toUpperCase();
  return status === 'REQUESTED' || status === 'QUEUED';
}

/**
 * Seconds to wait after `polls` polls: `initial × factor^(polls-1)`, capped at `maxIntervalSeconds`
 * (30 s, 45 s, 67 s, … up to 10 min with the defaults). Whole seconds, so timers stay readable in history.
 *
 * While the job has not started (REQUESTED/queued) the delay is held at `2 × initial` at most: GEM runs its
 * input checks when the job starts and a bad file turns FAILED within minutes, so the first transitions are
 * worth seeing quickly. Once it runs (IN_PROGRESS takes about an hour per 100,000 roads) the full backoff applies.
 */
export function nextPollDelaySeconds(polls: number, policy: MonitorPolicy, gemStatus?: string): number {
  const exponent = Math.max(0, polls - 1);
  const grown = policy.initialIntervalSeconds * policy.backoffFactor ** exponent;
  const cap = isNotStarted(gemStatus)
    ? Math.min(policy.maxIntervalSeconds, 2 * policy.initialIntervalSeconds)
    : policy.maxIntervalSeconds;
  return Math.max(1, Math.round(Math.min(grown, cap)));
}

/** Once a job is overdue, the next poll comes after this fraction of the time it is overdue. */
export const OVERDUE_POLL_FRACTION = 0.25;

/**
 * The backoff of `nextPollDelaySeconds`, steered by the completion estimate so a finished job is noticed soon:
 * before the estimate, a wait never runs past it (the job is most likely done right then); after it, the
 * job is overdue and polls come at `OVERDUE_POLL_FRACTION` of the time overdue, between the initial and the
 * maximum interval — early overruns are checked often, long ones settle back to the cap. Without an estimate,
 * or while the job has not started, it is the plain backoff.
 */
export function scheduledPollDelaySeconds(
  polls: number,
  policy: MonitorPolicy,
  gemStatus: string | undefined,
  now: string | Date,
  estimatedCompletion: string | Date | null,
): number {
  const backoff = nextPollDelaySeconds(polls, policy, gemStatus);
  if (!estimatedCompletion || isNotStarted(gemStatus)) return backoff;
  const untilEstimate =
    (toDate(estimatedCompletion, 'estimatedCompletion').getTime() - toDate(now, 'now').getTime()) / 1000;
  const delay =
    untilEstimate > 0
      ? Math.min(backoff, Math.max(policy.initialIntervalSeconds, untilEstimate))
      : Math.min(
          policy.maxIntervalSeconds,
          Math.max(policy.initialIntervalSeconds, -untilEstimate * OVERDUE_POLL_FRACTION),
        );
  return Math.max(1, Math.round(delay));
}

function toDate(instant: string | Date, what: string): Date {
  const date = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(date.getTime())) {
    throw new MonitorPolicyError(`${what} is not a valid instant (got ${String(instant)}).`, {
      remedy: 'Pass an ISO 8601 timestamp such as 2026-02-18T10:38:59Z.',
    });
  }
  return date;
}

/** The instant monitoring gives up: `startedAt + deadlineHours`. */
export function deadlineFrom(startedAt: string | Date, policy: MonitorPolicy): Date {
  return new Date(toDate(startedAt, 'startedAt').getTime() + policy.deadlineHours * 3_600_000);
}

/**
 * True when the current generation has used up its polls: `polls ≥ (generation + 1) × pollsPerGeneration`.
 * The orchestrator then increments `generation` and calls `continueAsNew`, so history stays small.
 */
export function shouldContinueAsNew(
  state: Pick<MonitorState, 'polls' | 'generation'>,
  policy: MonitorPolicy,
): boolean {
  return state.polls >= (state.generation + 1) * policy.pollsPerGeneration;
}

/**
 * When GEM should be done: `startedAt + rowCount / segmentsPerHour` hours, but never sooner than
 * MINIMUM_ESTIMATE_MINUTES. It is an estimate for people watching the status, not a deadline.
 */
export function estimateCompletion(
  startedAt: string | Date,
  rowCount: number,
  segmentsPerHour: number = GEM_SEGMENTS_PER_HOUR,
): Date {
  const start = toDate(startedAt, 'startedAt').getTime();
  const rows = Number.isFinite(rowCount) && rowCount > 0 ? rowCount : 0;
  const rate =
    Number.isFinite(segmentsPerHour) && segmentsPerHour > 0 ? segmentsPerHour : GEM_SEGMENTS_PER_HOUR;
  const milliseconds = Math.max(MINIMUM_ESTIMATE_MINUTES * 60_000, (rows / rate) * 3_600_000);
  return new Date(start + Math.round(milliseconds));
}

/**
 * SUCCESS and FAILED (gen B) and `finished`/`failed` (legacy gen A) end a job. Any other value, including
 * statuses GEM may add later, counts as still running, so monitoring continues until the deadline.
 */
export function isTerminalGemStatus(status: string | null | undefined): boolean {
  const normalised = status?.toUpperCase();
  return normalised === 'SUCCESS' || normalised === 'FAILED' || normalised === 'FINISHED';
}

/** SUCCESS (gen B) or `finished` (gen A). */
export function isSuccessfulGemStatus(status: string | null | undefined): boolean {
  const normalised = status?.toUpperCase();
  return normalised === 'SUCCESS' || normalised === 'FINISHED';
}
