/**
 * The bookkeeping of a partitioned match, pure so the orchestrator can run it on every replay: the parts and
 * their state, the window of GEM jobs in flight and how it adapts (additive increase after a part's success,
 * a cut to the number of jobs actually running when TomTom refuses a create), and the progress the custom
 * status and `GET /api/matches/{id}` show. Everything here is plain JSON without a secret.
 */
import type { InputPart, MatchInput, MonitorState, StageInputResult, SubmitJobResult } from './types.js';

/** The sub-orchestration that runs one part (functions/matchPart.ts). */
export const MATCH_PART_ORCHESTRATION = 'matchPart';

/** How a large input is split and its parts run (settings GEM_MAX_ROADS_PER_JOB, …_PARALLEL_JOBS, GEM_PART_ATTEMPTS). */
export interface PartitionPolicy {
  maxRoadsPerJob: number;
  maxParallelJobs: number;
  /** GEM jobs one part may use before the match fails (a refused create does not count). */
  partAttempts: number;
}

/** How one part's sub-orchestration ended. */
export type PartOutcomeKind = 'succeeded' | 'gem-failed' | 'timed-out' | 'refused';

/** Output of `matchPart`. */
export interface PartOutcome {
  outcome: PartOutcomeKind;
  jobId: number | null;
  /** The part's file in the PDG storage (null when staging did not get that far). */
  pdgFilename: string | null;
  resultFilename: string | null;
  statistics: Record<string, unknown> | null;
  polls: number;
  rows: number;
  /** The last GEM status seen (the terminal one when the job ended). */
  gemStatus: string | null;
  /** GEM's failure message, or TomTom's refusal message. */
  message?: string;
  /** For a refusal: how long TomTom asked to wait (null when it did not say). */
  retryAfterSeconds?: number | null;
}

/** Input of `matchPart`: the part's job, already submitted by the parent. */
export interface MatchPartInput {
  request: MatchInput;
  part: InputPart;
  staged: StageInputResult;
  submitted: SubmitJobResult;
  /** The monitor policy and GEM's throughput, as the parent has them. */
  policy: {
    initialIntervalSeconds: number;
    maxIntervalSeconds: number;
    backoffFactor: number;
    deadlineHours: number;
    pollsPerGeneration: number;
    segmentsPerHour: number;
    permanentErrorLimit: number;
  };
  /** Set by continueAsNew while the part's job is monitored. */
  resume?: { monitor: MonitorState };
}

export type PartState = 'queued' | 'running' | 'done' | 'failed';

/** One part as the parent tracks it. */
export interface PartProgress {
  index: number;
  rows: number;
  state: PartState;
  /** Sub-orchestrations started for it so far (attempt ids are 1, 2, …). */
  attempt: number;
  /** GEM jobs of this part that FAILED or timed out (a refused create is not one). */
  failures: number;
  jobId: number | null;
  gemStatus: string | null;
  /** A refused part waits until this instant (ISO) before it is started again. */
  notBefore?: string;
}

/** The `parts` field of the custom status. */
export interface PartsSummary {
  total: number;
  done: number;
  running: number;
  failed: number;
  queued: number;
  /** The effective window: how many parts may run at once now. */
  window: number;
  /** Parts started again after a failed job, a timeout or a refusal. */
  resubmits: number;
  /** Refused creates (429) so far. */
  refusals: number;
  /** Up to `MAX_LISTED_PARTS` parts, running and failed ones first; `listed < total` means the rest are omitted. */
  list: PartListEntry[];
  listed: number;
}

export interface PartListEntry {
  index: number;
  rows: number;
  state: PartState;
  attempt: number;
  jobId: number | null;
  gemStatus: string | null;
}

/**
 * At most this many parts are listed in the custom status (about 100 bytes each, far below Durable's 16 KB);
 * beyond it only the counts cover every part.
 */
export const MAX_LISTED_PARTS = 64;

/** Additive increase: one more part may run after a part's success, up to the setting. */
export function windowAfterSuccess(window: number, maxParallelJobs: number): number {
  return Math.min(maxParallelJobs, window + 1);
}

/**
 * Multiplicative decrease, to what TomTom evidently allows: the parts still running (submitted and not
 * finished) when a create was refused, never below one so the match keeps moving.
 */
export function windowAfterRefusal(running: number): number {
  return Math.max(1, running);
}

export function initialParts(parts: readonly InputPart[]): PartProgress[] {
  return parts.map((p) => ({
    index: p.index,
    rows: p.rows,
    state: 'queued',
    attempt: 0,
    failures: 0,
    jobId: null,
    gemStatus: null,
  }));
}

/** Rows of the parts not done yet: what the ETA is computed from. */
export function remainingRows(parts: readonly PartProgress[]): number {
  return parts.filter((p) => p.state !== 'done').reduce((sum, p) => sum + p.rows, 0);
}

/**
 * When the parts still to do should be done: their rows at GEM's throughput times the window (parts run side by
 * side), but never before the longest single part could finish.
 */
export function partsEstimate(
  now: Date,
  parts: readonly PartProgress[],
  window: number,
  segmentsPerHour: number,
): Date | null {
  const remaining = parts.filter((p) => p.state !== 'done');
  if (remaining.length === 0 || !(segmentsPerHour > 0)) return null;
  const rows = remainingRows(remaining);
  const largest = Math.max(...remaining.map((p) => p.rows));
  const hours = Math.max(rows / (segmentsPerHour * Math.max(1, window)), largest / segmentsPerHour);
  return new Date(now.getTime() + hours * 3_600_000);
}

const LIST_ORDER: Record<PartState, number> = { running: 0, failed: 1, queued: 2, done: 3 };

export function partsSummary(
  parts: readonly PartProgress[],
  counters: { window: number; resubmits: number; refusals: number },
): PartsSummary {
  const count = (state: PartState) => parts.filter((p) => p.state === state).length;
  const list = [...parts]
    .sort((a, b) => LIST_ORDER[a.state] - LIST_ORDER[b.state] || a.index - b.index)
    .slice(0, MAX_LISTED_PARTS)
    .map(({ index, rows, state, attempt, jobId, gemStatus }) => ({
      index,
      rows,
      state,
      attempt,
      jobId,
      gemStatus,
    }));
  return {
    total: parts.length,
    done: count('done'),
    running: count('running'),
    failed: count('failed'),
    queued: count('queued'),
    ...counters,
    list,
    listed: list.length,
  };
}

/** What a part's sub-orchestration publishes as its custom status (read by `GET /api/matches/{id}`). */
export interface PartCustomStatus {
  phase: 'monitoring' | PartOutcomeKind;
  index: number;
  rows: number;
  jobId: number | null;
  gemStatus: string | null;
  polls: number;
}

/** The parent's whole view of its parts: carried in orchestration locals, rebuilt on every replay. */
export interface PartsWindow {
  parts: PartProgress[];
  /** The effective window. */
  window: number;
  resubmits: number;
  refusals: number;
}

/** A refused create without Retry-After is tried again after this long. */
export const DEFAULT_REFUSAL_WAIT_SECONDS = 60;

export function openWindow(parts: readonly InputPart[], policy: PartitionPolicy): PartsWindow {
  return {
    parts: initialParts(parts),
    window: Math.max(1, policy.maxParallelJobs),
    resubmits: 0,
    refusals: 0,
  };
}

function isReady(part: PartProgress, now: Date): boolean {
  return part.state === 'queued' && (!part.notBefore || new Date(part.notBefore).getTime() <= now.getTime());
}

/** The parts to start now, in index order: as many ready parts as the window has room for. */
export function partsToStart(state: PartsWindow, now: Date): PartProgress[] {
  const running = state.parts.filter((p) => p.state === 'running').length;
  const room = Math.max(0, state.window - running);
  return state.parts.filter((p) => isReady(p, now)).slice(0, room);
}

/** When the earliest refused part may start again, if one is waiting and the window has room for it. */
export function nextWakeUp(state: PartsWindow, now: Date): Date | null {
  const running = state.parts.filter((p) => p.state === 'running').length;
  if (running >= state.window) return null;
  const waits = state.parts
    .filter((p) => p.state === 'queued' && p.notBefore && !isReady(p, now))
    .map((p) => new Date(p.notBefore!).getTime());
  return waits.length > 0 ? new Date(Math.min(...waits)) : null;
}

/** Marks a part started: its next attempt number, which names its sub-orchestration. */
export function startPart(part: PartProgress): number {
  part.attempt += 1;
  part.state = 'running';
  delete part.notBefore;
  return part.attempt;
}

/**
 * Takes in how one attempt at a part ended, and adapts the window: a success widens it by one (AIMD's
 * additive increase); a refusal narrows it to the parts still running and queues the part again after the
 * Retry-After (not counted as a failure); a FAILED or timed-out job queues the part again until it has used
 * `partAttempts` jobs, then the part is `failed` and the result says the match cannot complete.
 */
export function recordOutcome(
  state: PartsWindow,
  part: PartProgress,
  outcome: PartOutcome,
  now: Date,
  policy: PartitionPolicy,
): 'done' | 'requeued' | 'exhausted' {
  part.jobId = outcome.jobId ?? part.jobId;
  part.gemStatus = outcome.gemStatus ?? part.gemStatus;
  if (outcome.outcome === 'succeeded') {
    part.state = 'done';
    state.window = windowAfterSuccess(state.window, policy.maxParallelJobs);
    return 'done';
  }
  if (outcome.outcome === 'refused') {
    part.state = 'queued';
    state.refusals += 1;
    state.resubmits += 1;
    state.window = windowAfterRefusal(state.parts.filter((p) => p.state === 'running').length);
    const wait = outcome.retryAfterSeconds ?? DEFAULT_REFUSAL_WAIT_SECONDS;
    part.notBefore = new Date(now.getTime() + Math.max(1, wait) * 1000).toISOString();
    return 'requeued';
  }
  part.failures += 1;
  if (part.failures >= policy.partAttempts) {
    part.state = 'failed';
    return 'exhausted';
  }
  part.state = 'queued';
  state.resubmits += 1;
  return 'requeued';
}
