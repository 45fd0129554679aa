/**
 * The progress of one match, computed from the statuses `GET /api/matches/{id}` returns: which phase it is in
 * (step n of 6), how far along the bar is, GEM's status, polls, the parts of a partitioned match when the
 * status carries them, elapsed time and the ETA from the app's `estimatedCompletion`. Pure and clock-injected,
 * so a recorded sequence of statuses replays to the same views in a test. The app's timestamps are in the
 * target's clock (virtual time on a compressed local stack), so the ETA is converted to real seconds.
 *
 * The bar moves through fixed spans per phase, and within monitoring by parts done (when known) or by the time
 * since monitoring was first seen against the estimate; it never moves backwards, and reaches 100 % only when
 * the match completed.
 */
import { isActiveRuntimeStatus } from '../shared/workflow/status.js';
import { MATCH_PHASES, type MatchPhase } from '../shared/workflow/types.js';
import type { MatchStatus } from './appClient.js';
import type { TargetClock } from './target.js';

/** The phases a running match goes through, in order: MATCH_PHASES up to its first terminal phase. */
export type StepPhase = Exclude<
  MatchPhase,
  'completed' | 'gem-failed' | 'invalid-input' | 'timed-out' | 'failed'
>;
export const PHASE_STEPS = MATCH_PHASES.slice(0, MATCH_PHASES.indexOf('completed')) as readonly StepPhase[];

/** A match that has no phase yet (Pending, or running before its first custom status). */
export const QUEUED = 'queued';

/** The share of the bar each phase covers: monitoring, the hours-long one, covers most. */
const PHASE_SPAN: Record<StepPhase | typeof QUEUED, [number, number]> = {
  queued: [0, 0.02],
  validating: [0.02, 0.07],
  staging: [0.07, 0.12],
  submitting: [0.12, 0.15],
  monitoring: [0.15, 0.9],
  delivering: [0.9, 0.96],
  notifying: [0.96, 0.99],
};

export interface Parts {
  total: number;
  done: number;
}

export interface ProgressView {
  id: string;
  runtimeStatus: string;
  /** `queued`, a step phase, or the terminal phase (completed, gem-failed, invalid-input, timed-out, failed). */
  phase: MatchPhase | typeof QUEUED;
  /** 1-based position in PHASE_STEPS, or null for queued and terminal phases. */
  step: number | null;
  steps: number;
  /** 0–100, whole numbers. */
  percent: number;
  jobId: number | null;
  gemStatus: string | null;
  polls: number;
  parts: Parts | null;
  /** Real seconds since the match was requested (as far as the follower knows). */
  elapsedSeconds: number;
  /** Real seconds until the app's estimated completion; null when there is no estimate. */
  etaSeconds: number | null;
  estimatedCompletion: string | null;
  terminal: boolean;
  outcome: string | null;
}

/** `parts: {total, done}` when the status carries a usable one; anything else is ignored. */
export function partsOf(status: Pick<MatchStatus, 'parts'>): Parts | null {
  const parts = status.parts as { total?: unknown; done?: unknown } | undefined;
  if (typeof parts !== 'object' || parts === null) return null;
  const { total, done } = parts;
  if (typeof total !== 'number' || typeof done !== 'number' || !(total > 0) || done < 0) return null;
  return { total, done: Math.min(done, total) };
}

function phaseOf(status: MatchStatus): MatchPhase | typeof QUEUED {
  return status.phase ?? QUEUED;
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

export interface ProgressTrackerOptions {
  clock: TargetClock;
  /** Real epoch ms the match was requested, when the follower knows it (it uploaded the file). */
  requestedAtMs?: number;
  /** Real time; default Date.now. */
  realNow?: () => number;
}

export interface ProgressTracker {
  /** Records a status and returns its view. */
  update(status: MatchStatus): ProgressView;
  /** The last status's view at the current time (elapsed and ETA move on between polls). */
  current(): ProgressView | undefined;
}

export function createProgressTracker(options: ProgressTrackerOptions): ProgressTracker {
  const realNow = options.realNow ?? Date.now;
  let last: MatchStatus | undefined;
  let requestedAtMs = options.requestedAtMs;
  let monitoringSinceVirtual: number | undefined;
  let highest = 0;

  const view = (status: MatchStatus): ProgressView => {
    const virtualNow = options.clock.now();
    const real = realNow();
    const phase = phaseOf(status);
    if (phase === 'monitoring') monitoringSinceVirtual ??= virtualNow;
    const estimate = status.estimatedCompletion ? Date.parse(status.estimatedCompletion) : Number.NaN;
    const terminal = !isActiveRuntimeStatus(status.runtimeStatus);
    const parts = partsOf(status);
    let fraction = fractionOf(phase, { parts, estimate, virtualNow, monitoringSinceVirtual });
    // A match that ended otherwise than completed keeps the bar where its last phase put it.
    if (terminal)
      fraction = phase === 'completed' || status.outcome === 'succeeded' ? 1 : Math.max(highest, fraction);
    highest = Math.max(highest, fraction);
    const step = (PHASE_STEPS as readonly string[]).indexOf(phase);
    const etaVirtualMs = estimate - virtualNow;
    return {
      id: status.id,
      runtimeStatus: status.runtimeStatus,
      phase,
      step: step >= 0 ? step + 1 : null,
      steps: PHASE_STEPS.length,
      percent: Math.floor(highest * 100),
      jobId: status.jobId,
      gemStatus: status.gemStatus,
      polls: status.polls,
      parts,
      elapsedSeconds: Math.max(0, Math.round((real - (requestedAtMs ?? real)) / 1000)),
      // An estimate is of GEM's job: shown until monitoring is over, never after.
      etaSeconds:
        terminal || Number.isNaN(etaVirtualMs) || step > PHASE_STEPS.indexOf('monitoring')
          ? null
          : Math.max(0, Math.round(etaVirtualMs / options.clock.scale / 1000)),
      estimatedCompletion: status.estimatedCompletion,
      terminal,
      outcome: status.outcome,
    };
  };

  return {
    update(status) {
      if (requestedAtMs === undefined) {
        // The instance's creation, in the target's clock, carried back to real time.
        const ageVirtualMs = options.clock.now() - Date.parse(status.createdTime);
        if (Number.isFinite(ageVirtualMs))
          requestedAtMs = realNow() - Math.max(0, ageVirtualMs) / options.clock.scale;
      }
      last = status;
      return view(status);
    },
    current: () => (last ? view(last) : undefined),
  };
}

function fractionOf(
  phase: MatchPhase | typeof QUEUED,
  at: {
    parts: Parts | null;
    estimate: number;
    virtualNow: number;
    monitoringSinceVirtual: number | undefined;
  },
): number {
  const span = PHASE_SPAN[phase as StepPhase | typeof QUEUED];
  if (!span) return 0;
  const [low, high] = span;
  if (phase !== 'monitoring') return low;
  let within = 0;
  if (at.parts) within = at.parts.done / at.parts.total;
  else if (!Number.isNaN(at.estimate) && at.monitoringSinceVirtual !== undefined) {
    const whole = at.estimate - at.monitoringSinceVirtual;
    within = whole > 0 ? (at.virtualNow - at.monitoringSinceVirtual) / whole : 1;
  }
  return low + (high - low) * clamp(within, 0, 0.99);
}

/** `1h 02m`, `3m 05s`, `42s`. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}
