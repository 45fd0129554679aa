/**
 * The partitioned path of `matchFile`: split the file to match into parts (the `partitionInput` activity), then
 * keep at most `window` part jobs running, adapting the window as shared/workflow/partitions.ts decides.
 *
 * The parent stages every part up front (side by side), then submits the parts' jobs itself, one at a time, so
 * TomTom's refusal of a create (429) is known at once and shrinks the window before the next part is tried; a refused part waits on a durable timer
 * for its Retry-After. Each accepted job is then followed by a `matchPart` sub-orchestration. The followers are
 * waited for one at a time, oldest first, never with a `Task.any` over tasks already yielded: the durable-functions
 * SDK sends every child of a new `Task.any` to the extension as a new action, which schedules an already running
 * sub-orchestration again (Azure/azure-functions-durable-js#574, open). Parts are near-equal in size and start
 * together, so they end in about the order they started; a part whose job failed early frees its slot only when the
 * parts started before it end. A new follower is scheduled by yielding a `Task.any` of it (fresh) and a timer due
 * now, which returns at once. A part whose job FAILED or timed out runs again as a new attempt (a new job: submit
 * ignores FAILED jobs); one that used all its attempts fails the match (the caller's failure path records it).
 * Deterministic: every decision comes from the history and `currentUtcDateTime`.
 */
import type { OrchestrationContext, Task, TimerTask } from 'durable-functions';
import { GemFlowError } from '../shared/errors.js';
import { partInstanceId } from '../shared/workflow/ids.js';
import {
  MATCH_PART_ORCHESTRATION,
  type MatchPartInput,
  nextWakeUp,
  openWindow,
  type PartitionPolicy,
  type PartOutcome,
  type PartProgress,
  type PartsWindow,
  partsToStart,
  recordOutcome,
  startPart,
} from '../shared/workflow/partitions.js';
import type {
  InputPart,
  MatchActivities,
  MatchInput,
  PreparedMatchInput,
  StageInputResult,
  SubmitPartJobResult,
} from '../shared/workflow/types.js';
import { type ActivityProxies, ioRetryOptions } from './activities.js';

/** A part whose every GEM job failed or timed out: the match fails, naming the part and GEM's last word. */
export class PartExhaustedError extends GemFlowError {
  readonly code = 'PartExhausted';
}

export interface PartsRun {
  request: MatchInput;
  policy: MatchPartInput['policy'] & { partitioning: PartitionPolicy };
}

export interface PartsResult {
  state: PartsWindow;
  /** The successful outcome of every part, by part index. */
  outcomes: PartOutcome[];
}

interface PartsDeps {
  activities: ActivityProxies<MatchActivities>;
  publish(state: PartsWindow): void;
}

interface Follower {
  task: Task;
  part: PartProgress;
}

/** Splits the file and runs its parts; `publish` is told the state after every change. */
export function* matchParts(
  context: OrchestrationContext,
  run: PartsRun,
  file: PreparedMatchInput,
  deps: PartsDeps,
): Generator<Task, PartsResult, unknown> {
  const { partitioning } = run.policy;
  const split = yield* deps.activities.partitionInput.call(
    { file, maxRoadsPerJob: partitioning.maxRoadsPerJob },
    ioRetryOptions(),
  );
  // Every part is staged up front, side by side (idempotent, and it needs no GEM slot), so submitting a part
  // when the window has room is one quick call.
  const staging = split.parts.map((part) =>
    deps.activities.stageInput.task({ ...run.request, preparedFile: part.file }, ioRetryOptions()),
  );
  const staged = (yield context.df.Task.all(staging)) as StageInputResult[];
  const state = openWindow(split.parts, partitioning);
  const outcomes: PartOutcome[] = [];
  const followers: Follower[] = [];
  const unfinished = () => state.parts.some((p) => p.state !== 'done');
  while (unfinished()) {
    const launched = yield* launchParts(context, run, { parts: split.parts, staged }, state, deps);
    followers.push(...launched);
    deps.publish(state);
    const wakeUp = nextWakeUp(state, context.df.currentUtcDateTime);
    if (wakeUp) {
      yield context.df.createTimer(wakeUp);
      continue;
    }
    const oldest = followers.shift();
    if (!oldest) throw new Error('No part is running or waiting, yet parts remain: the window cannot move.');
    const outcome = (yield oldest.task) as PartOutcome;
    const verdict = recordOutcome(state, oldest.part, outcome, context.df.currentUtcDateTime, partitioning);
    if (verdict === 'done') outcomes[oldest.part.index] = outcome;
    if (verdict === 'exhausted') {
      deps.publish(state);
      throw exhausted(oldest.part, outcome);
    }
  }
  deps.publish(state);
  return { state, outcomes };
}

/**
 * Submits parts while the window has room, one at a time (a refusal shrinks the window at once), and schedules a
 * follower for each accepted job. Returns the new followers.
 */
function* launchParts(
  context: OrchestrationContext,
  run: PartsRun,
  files: { parts: readonly InputPart[]; staged: readonly StageInputResult[] },
  state: PartsWindow,
  deps: PartsDeps,
): Generator<Task, Follower[], unknown> {
  const launched: Follower[] = [];
  for (
    let [part] = partsToStart(state, context.df.currentUtcDateTime);
    part;
    [part] = partsToStart(state, context.df.currentUtcDateTime)
  ) {
    const attempt = startPart(part);
    const inputPart = files.parts[part.index]!;
    const staged = files.staged[part.index]!;
    const submitted = yield* deps.activities.submitPartJob.call(
      jobRequest(run.request, staged),
      ioRetryOptions(),
    );
    if (submitted.refused) {
      recordOutcome(
        state,
        part,
        refusal(part, staged, submitted),
        context.df.currentUtcDateTime,
        run.policy.partitioning,
      );
      continue;
    }
    const { refused: _, ...job } = submitted;
    part.jobId = job.jobId;
    part.gemStatus = job.status;
    const { partitioning: __, ...policy } = run.policy;
    const input: MatchPartInput = { request: run.request, part: inputPart, staged, submitted: job, policy };
    const id = partInstanceId(context.df.instanceId, part.index, attempt);
    launched.push({ task: context.df.callSubOrchestrator(MATCH_PART_ORCHESTRATION, input, id), part });
  }
  if (launched.length > 0) {
    // Schedules the new followers without waiting for them: the timer due now wins.
    const now: TimerTask = context.df.createTimer(context.df.currentUtcDateTime);
    yield context.df.Task.any([...launched.map((f) => f.task), now]);
    if (!now.isCompleted) now.cancel();
  }
  return launched;
}

function jobRequest(request: MatchInput, staged: StageInputResult) {
  return {
    storageId: request.storageId,
    filename: staged.pdgFilename,
    jobType: request.jobType,
    ...(request.overtureRelease ? { overtureRelease: request.overtureRelease } : {}),
    ...(request.orbisVersion ? { orbisVersion: request.orbisVersion } : {}),
  };
}

function refusal(
  part: PartProgress,
  staged: StageInputResult,
  submitted: Extract<SubmitPartJobResult, { refused: true }>,
): PartOutcome {
  return {
    outcome: 'refused',
    jobId: null,
    pdgFilename: staged.pdgFilename,
    resultFilename: null,
    statistics: null,
    polls: 0,
    rows: part.rows,
    gemStatus: null,
    message: submitted.message,
    retryAfterSeconds: submitted.retryAfterSeconds,
  };
}

function exhausted(part: PartProgress, outcome: PartOutcome): PartExhaustedError {
  const said = outcome.message ? `: ${outcome.message}` : '';
  return new PartExhaustedError(
    `Part ${part.index} (${part.rows} roads) ended ${outcome.outcome} in each of its ${part.failures} GEM jobs (last job ${outcome.jobId}${said}).`,
    {
      remedy:
        'Check that job with GET …/gem/jobs/{id}; raise GEM_PART_ATTEMPTS (or MONITOR_DEADLINE_HOURS for timeouts) if GEM was only slow, else report the job to TomTom.',
    },
  );
}
