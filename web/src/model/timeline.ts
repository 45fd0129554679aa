/**
 * A match's phase timeline: the six steps every match goes through, each done, current, failed, skipped or
 * still to come, with the instant the page first saw the match in it (the API keeps no per-phase times; a
 * finished match shows when it was requested and when it last changed). Pure.
 */
import { PHASE_STEPS, type StepPhase } from '../../../cli/progress.js';
import type { MatchStatus } from './types.js';

export type StepState = 'done' | 'current' | 'failed' | 'skipped' | 'pending';

export interface TimelineStep {
  phase: StepPhase;
  label: string;
  state: StepState;
  /** ISO instant the page first saw this phase (live), or null. */
  seenAt: string | null;
}

export const STEP_LABELS: Record<StepPhase, string> = {
  validating: 'Validate input',
  staging: 'Stage into PDG',
  submitting: 'Submit GEM job',
  monitoring: 'GEM matching',
  delivering: 'Deliver results',
  notifying: 'Notify',
};

/** The step a terminal phase stopped at, and whether it failed there. */
function stoppedAt(status: MatchStatus, lastSeen: StepPhase | null): { at: number; failed: boolean } | null {
  const index = (phase: StepPhase) => PHASE_STEPS.indexOf(phase);
  switch (status.phase) {
    case 'completed':
      return { at: PHASE_STEPS.length, failed: false };
    case 'invalid-input':
      return { at: index('validating'), failed: true };
    case 'gem-failed':
    case 'timed-out':
      return { at: index('monitoring'), failed: true };
    case 'failed':
      return { at: lastSeen ? index(lastSeen) : 0, failed: true };
    default:
      if (status.runtimeStatus === 'Terminated' || status.runtimeStatus === 'Canceled') {
        return { at: lastSeen ? index(lastSeen) : 0, failed: true };
      }
      return null;
  }
}

export function timelineOf(
  status: MatchStatus,
  seen: ReadonlyMap<string, string> = new Map(),
  lastSeen: StepPhase | null = null,
): TimelineStep[] {
  const stop = stoppedAt(status, lastSeen);
  const current = PHASE_STEPS.indexOf(status.phase as StepPhase);
  return PHASE_STEPS.map((phase, i) => {
    let state: StepState;
    if (stop) state = i < stop.at ? 'done' : i === stop.at && stop.failed ? 'failed' : 'skipped';
    else if (current < 0) state = 'pending';
    else state = i < current ? 'done' : i === current ? 'current' : 'pending';
    return { phase, label: STEP_LABELS[phase], state, seenAt: seen.get(phase) ?? null };
  });
}
