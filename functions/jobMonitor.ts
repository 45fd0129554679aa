/**
 * Following one GEM job, shared by `matchFile` (a single-job run) and `matchPart` (one part of a partitioned
 * run): the monitor pattern, polling on durable timers with backoff, bounded by a deadline, with continueAsNew
 * every `pollsPerGeneration` polls so the history stays small. Poll errors come back as data and are counted
 * here: an uncaught one would end the instance, and continueAsNew could not revive it. Only a permanent error
 * repeated `permanentErrorLimit` times ends monitoring, by throwing. The caller publishes status and carries
 * its own state over continueAsNew through the hooks.
 */
import type { OrchestrationContext, Task } from 'durable-functions';
import {
  deadlineFrom,
  type MonitorPolicy,
  scheduledPollDelaySeconds,
  shouldContinueAsNew,
} from '../shared/workflow/monitor.js';
import type { MonitorState, PollJobInput, PollJobResult, SubmitJobResult } from '../shared/workflow/types.js';
import type { TypedActivity } from './activities.js';

export type FollowPolicy = MonitorPolicy & { permanentErrorLimit: number };

/** How monitoring ended: with the terminal poll (null when the deadline came first), or in a new generation. */
export type MonitorOutcome = { kind: 'finished'; final: PollJobResult | null } | { kind: 'continued-as-new' };

export interface FollowHooks {
  /** Before each poll: publish the status. */
  beforePoll(state: MonitorState): void;
  /** After each poll was counted into `state`. */
  afterPoll(state: MonitorState): void;
  /** Ends this generation with the caller's own input; `state.generation` is already counted. */
  continueAsNew(state: MonitorState): void;
}

/** The monitor state of a job just submitted: polling begins now, the deadline counts from now. */
export function startMonitoring(
  context: OrchestrationContext,
  submitted: SubmitJobResult,
  policy: MonitorPolicy,
  rowCount: number | null,
): MonitorState {
  const startedAt = context.df.currentUtcDateTime.toISOString();
  return {
    jobId: submitted.jobId,
    polls: 0,
    generation: 0,
    startedAt,
    deadline: deadlineFrom(startedAt, policy).toISOString(),
    lastGemStatus: submitted.status,
    consecutiveErrors: 0,
    rowCount,
  };
}

export function* followJob(
  context: OrchestrationContext,
  pollJob: TypedActivity<PollJobInput, PollJobResult>,
  follow: { policy: FollowPolicy; state: MonitorState; estimated: Date | null },
  hooks: FollowHooks,
): Generator<Task, MonitorOutcome, unknown> {
  const { policy, state, estimated } = follow;
  for (;;) {
    hooks.beforePoll(state);
    const poll = yield* pollJob.call({ jobId: state.jobId });
    const verdict = countPoll(policy, state, poll);
    hooks.afterPoll(state);
    if (verdict === 'terminal') return { kind: 'finished', final: poll };
    if (verdict === 'unfollowable') {
      throw new Error(`Job ${state.jobId} could not be followed: ${poll.error?.message}`);
    }
    const nextPollAt = nextPollTime(context, policy, state, estimated);
    if (nextPollAt === null) return { kind: 'finished', final: null };
    yield context.df.createTimer(nextPollAt);
    // After the wait, not before it: the next generation starts with a poll, so two polls never run back to back.
    if (shouldContinueAsNew(state, policy)) {
      state.generation += 1;
      hooks.continueAsNew(state);
      return { kind: 'continued-as-new' };
    }
  }
}

/** Counts a poll into the monitor state and says what it means for the loop. */
function countPoll(
  policy: FollowPolicy,
  state: MonitorState,
  poll: PollJobResult,
): 'terminal' | 'unfollowable' | 'running' {
  state.polls += 1;
  if (poll.error) {
    state.consecutiveErrors += 1;
    const unfollowable = poll.error.permanent && state.consecutiveErrors >= policy.permanentErrorLimit;
    return unfollowable ? 'unfollowable' : 'running';
  }
  state.consecutiveErrors = 0;
  state.lastGemStatus = poll.status;
  return poll.terminal ? 'terminal' : 'running';
}

/**
 * When to poll next, or null once the deadline has come. No wait runs past the deadline, and the job gets one
 * last poll when it arrives: a job that finishes during the final wait is delivered, not reported as timed out.
 */
function nextPollTime(
  context: OrchestrationContext,
  policy: FollowPolicy,
  state: MonitorState,
  estimated: Date | null,
): Date | null {
  const now = context.df.currentUtcDateTime;
  const secondsLeft = (new Date(state.deadline).getTime() - now.getTime()) / 1000;
  if (secondsLeft <= 0) return null;
  const delaySeconds = Math.min(
    secondsLeft,
    scheduledPollDelaySeconds(state.polls, policy, state.lastGemStatus ?? undefined, now, estimated),
  );
  return new Date(now.getTime() + delaySeconds * 1000);
}
