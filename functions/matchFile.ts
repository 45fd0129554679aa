/**
 * One workflow per file: prepare → validate → stage → submit → monitor → deliver → notify. The orchestrator only
 * sequences typed activity calls; every byte of I/O and every secret stays inside the activities
 * (shared/activities/), because orchestration inputs, outputs and custom status are stored in the task hub in
 * plain text. Its steps are sub-generators joined with `yield*` (validate, prepare, monitor, deliver, and the
 * failure path) that share one explicit `MatchRunState`; each is deterministic, taking time only from
 * `context.df.currentUtcDateTime`.
 */

import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import * as df from 'durable-functions';
import type { PreparedInput } from '../shared/formats/prepared.js';
import { gemParquetPreparedInput } from '../shared/results/gemParquetInput.js';
import { combineStatistics } from '../shared/results/statistics.js';
import { estimateCompletion, type MonitorPolicy } from '../shared/workflow/monitor.js';
import { outboxLocationFor } from '../shared/workflow/outboxNames.js';
import {
  type PartitionPolicy,
  type PartsWindow,
  partsEstimate,
  partsSummary,
} from '../shared/workflow/partitions.js';
import { caughtFailureMessage } from '../shared/workflow/status.js';
import { incrementalSummaryOf } from '../shared/workflow/summary.js';
import type {
  DeliverResultsInput,
  DeliverResultsResult,
  MatchActivities,
  MatchCustomStatus,
  MatchInput,
  MatchPhase,
  MatchResult,
  MonitorState,
  NotifyResult,
  PlanIncrementalResult,
  PollJobResult,
  PreparedMatchInput,
  ResultSource,
  StageInputResult,
  SubmitJobResult,
  ValidateInputResult,
} from '../shared/workflow/types.js';
import { ioRetryOptions, registerActivities } from './activities.js';
import { followJob, type MonitorOutcome, startMonitoring } from './jobMonitor.js';
import { loadMatchActivities } from './onDemand.js';
import { matchParts } from './partitionedMatch.js';

export const MATCH_ORCHESTRATION = 'matchFile';

/**
 * How the job is followed: the monitor policy, GEM's throughput for the estimate, the poll-error limit, and how a
 * large input is split (absent in inputs scheduled before partitioning existed: those run as one job).
 */
export type MatchPolicy = MonitorPolicy & {
  segmentsPerHour: number;
  permanentErrorLimit: number;
  partitioning?: PartitionPolicy;
};

/** What each generation of the orchestration receives; `resume` is set by continueAsNew while monitoring. */
export interface MatchOrchestrationInput {
  request: MatchInput;
  policy: MatchPolicy;
  resume?: {
    startedAt: string;
    monitor: MonitorState;
    staged: StageInputResult;
    submitted: SubmitJobResult;
    /** The prepared input, so delivery can read the user's file again after continueAsNew. */
    prepared?: PreparedInput;
    /** An incremental run's plan: what was staged instead of the file, and the carried results. */
    incremental?: PlanIncrementalResult;
  };
}

export const activities = registerActivities<MatchActivities>(
  {
    prepareInput: true,
    validateInput: true,
    stageInput: true,
    submitJob: true,
    partitionInput: true,
    submitPartJob: true,
    pollJob: true,
    deliverResults: true,
    notify: true,
    recordFailure: true,
    planIncremental: true,
  },
  async () => (await loadMatchActivities()).matchActivities(),
);

/**
 * One generation of a run as the orchestrator's steps see it: what was asked, how far it got, and what a
 * failure must record. Rebuilt on every replay from the input and the activity results; the steps below read
 * and update it instead of sharing a closure's mutable locals.
 */
export interface MatchRunState {
  readonly request: MatchInput;
  readonly policy: MatchPolicy;
  /** When the first generation started (ISO); carried over continueAsNew. */
  readonly startedAt: string;
  /** Rows in the input once validation counted them; null when unknown (a file already in PDG storage). */
  rowCount: number | null;
  /** The phase last published; a failure is recorded as having happened in it. */
  phase: MatchPhase;
  /** The fields the last published status set beyond the defaults; the failure status keeps them. */
  lastStatus: Partial<MatchCustomStatus>;
  /** What the failure path records; the custom status runs one poll behind, so it is kept here. */
  readonly progress: MatchProgress;
  /** Set once the GEM job is submitted, or carried over from the previous generation. */
  job?: SubmittedJob;
  /** When GEM should be done (from the row count and its throughput), set when monitoring begins. */
  estimated: Date | null;
  /** How the user's file was read and prepared (prepareInput), or carried over; unset when not prepared. */
  prepared?: PreparedInput;
  /** Set once planIncremental ran (runs asking to be incremental): the delta to match, or why not. */
  incremental?: PlanIncrementalResult;
}

export interface MatchProgress {
  jobId: number | null;
  polls: number;
  lastGemStatus: string | null;
  submittedAt: string | null;
}

/** The submitted job: what monitoring works on, and what continueAsNew hands to the next generation. */
export interface SubmittedJob {
  readonly staged: StageInputResult;
  readonly submitted: SubmitJobResult;
  /** Updated by every poll. */
  readonly monitor: MonitorState;
}

export const matchFileOrchestrator: OrchestrationHandler = function* (
  context: OrchestrationContext,
): Generator<Task, MatchResult | undefined, unknown> {
  const run = runStateOf(context, orchestrationInputOf(context));
  // Once the input is known, a failure must leave a trace: an error document in the outbox and the callback,
  // not just a Failed instance. Secrets cannot be in the message: typed errors never carry them.
  try {
    if (!run.job) {
      const invalid = yield* validate(context, run);
      if (invalid) return invalid;
      yield* planIncrementalStep(context, run);
      // Nothing new or changed: every result is carried over, and GEM gets no job at all.
      if (run.incremental?.applied && run.incremental.delta.rows === 0)
        return yield* deliver(context, run, null, null);
      const partitioning = partitioningFor(run);
      if (partitioning) return yield* matchInParts(context, run, partitioning);
      run.job = yield* prepare(context, run);
    }
    const monitored = yield* monitor(context, run, run.job);
    if (monitored.kind === 'continued-as-new') return undefined;
    return yield* deliver(context, run, run.job, monitored.final);
  } catch (error) {
    return yield* recordFailureAndRethrow(context, run, error);
  }
};

function runStateOf(context: OrchestrationContext, input: MatchOrchestrationInput): MatchRunState {
  const { request, policy, resume } = input;
  return {
    request,
    policy,
    startedAt: resume?.startedAt ?? context.df.currentUtcDateTime.toISOString(),
    rowCount: resume?.monitor.rowCount ?? null,
    phase: resume ? 'monitoring' : 'validating',
    lastStatus: {},
    progress: {
      jobId: resume?.monitor.jobId ?? null,
      polls: resume?.monitor.polls ?? 0,
      lastGemStatus: resume?.monitor.lastGemStatus ?? null,
      submittedAt: resume?.monitor.startedAt ?? null,
    },
    ...(resume
      ? { job: { staged: resume.staged, submitted: resume.submitted, monitor: resume.monitor } }
      : {}),
    ...(resume?.prepared ? { prepared: resume.prepared } : {}),
    ...(resume?.incremental ? { incremental: resume.incremental } : {}),
    estimated: null,
  };
}

/** Publishes the custom status the status API reads back; `extra` overrides the defaults. */
function report(
  context: OrchestrationContext,
  run: MatchRunState,
  phase: MatchPhase,
  extra: Partial<MatchCustomStatus> = {},
): void {
  run.phase = phase;
  run.lastStatus = extra;
  const status: MatchCustomStatus = {
    phase,
    jobId: null,
    gemStatus: null,
    polls: 0,
    startedAt: run.startedAt,
    estimatedCompletion: null,
    ...(run.rowCount !== null ? { rowCount: run.rowCount } : {}),
    ...extra,
  };
  context.df.setCustomStatus(status);
}

/** The status fields of a submitted job, from monitoring on. */
function monitoringStatus(run: MatchRunState, { monitor }: SubmittedJob): Partial<MatchCustomStatus> {
  return {
    jobId: monitor.jobId,
    gemStatus: monitor.lastGemStatus,
    polls: monitor.polls,
    estimatedCompletion: run.estimated ? run.estimated.toISOString() : null,
    deadline: monitor.deadline,
  };
}

function finish(
  context: OrchestrationContext,
  run: MatchRunState,
  result: Omit<MatchResult, 'startedAt' | 'finishedAt'>,
): MatchResult {
  return { ...result, startedAt: run.startedAt, finishedAt: context.df.currentUtcDateTime.toISOString() };
}

/**
 * Only a road-matching input in the inbox is prepared: a lane-level input is GEM's own CSV or Parquet of
 * traces, and a file already in PDG storage is not read at all.
 */
function isPrepared(request: MatchInput): boolean {
  return request.jobType === 'ROAD_MATCHING' && request.source.kind === 'inbox';
}

/**
 * What validation and staging read: the prepared file when the user's own format was rewritten, and once an
 * incremental plan applies, its delta (the new and changed rows) instead.
 */
function fileInput(run: MatchRunState): PreparedMatchInput {
  if (run.incremental?.applied) {
    const { rows: _rows, ...delta } = run.incremental.delta;
    return { ...run.request, preparedFile: delta };
  }
  const prepared = run.prepared;
  if (!prepared || prepared.format === 'gem-parquet') return run.request;
  return { ...run.request, preparedFile: prepared.prepared };
}

/** The result of a run whose input was refused, with the validation report that says why. */
function invalidInput(
  context: OrchestrationContext,
  run: MatchRunState,
  validation: ValidateInputResult,
): MatchResult {
  report(context, run, 'invalid-input', { message: validation.summary });
  return finish(context, run, {
    outcome: 'invalid-input',
    jobId: null,
    gemStatus: null,
    statistics: null,
    outputs: validation.reportBlob ? { validationReport: validation.reportBlob } : {},
    message: validation.summary,
    polls: 0,
  });
}

/**
 * Prepares the user's file (any road format → GEM-ready Parquet) and validates what GEM will get; an
 * invalid file ends the run here with its report (the result), a valid one goes on.
 */
function* validate(
  context: OrchestrationContext,
  run: MatchRunState,
): Generator<Task, MatchResult | undefined, unknown> {
  report(context, run, 'validating');
  if (isPrepared(run.request)) {
    const prepared = yield* activities.prepareInput.call(run.request, ioRetryOptions());
    if (!prepared.valid) return invalidInput(context, run, prepared.validation);
    run.prepared = prepared.prepared;
  }
  const validation = yield* activities.validateInput.call(fileInput(run), ioRetryOptions());
  // Files already in PDG storage are not read here, so their size is unknown (0), not zero rows.
  run.rowCount = validation.rowCount > 0 ? validation.rowCount : null;
  if (validation.valid) return undefined;
  return invalidInput(context, run, validation);
}

/**
 * An incremental run compares its validated prepared file with the previous run's (planIncremental): when the
 * plan applies, what is staged is the delta and the row count GEM gets (and the estimate) is the delta's; when
 * it does not, the run goes on as a full match and its summary says why.
 */
function* planIncrementalStep(
  context: OrchestrationContext,
  run: MatchRunState,
): Generator<Task, void, unknown> {
  if (!run.request.incremental || !run.prepared || !isPrepared(run.request)) return;
  const plan = yield* activities.planIncremental.call(
    { request: run.request, instanceId: context.df.instanceId, prepared: run.prepared },
    ioRetryOptions(),
  );
  run.incremental = plan;
  if (plan.applied) run.rowCount = plan.delta.rows;
}

/** Stages the validated input into PDG storage and submits the GEM job; monitoring starts from the result. */
function* prepare(context: OrchestrationContext, run: MatchRunState): Generator<Task, SubmittedJob, unknown> {
  const { request, policy } = run;
  report(context, run, 'staging');
  const staged = yield* activities.stageInput.call(fileInput(run), ioRetryOptions());

  report(context, run, 'submitting');
  // Safe to retry: submitJob is find-or-create on (storage, content-derived filename).
  const submitted = yield* activities.submitJob.call(
    {
      storageId: request.storageId,
      filename: staged.pdgFilename,
      jobType: request.jobType,
      ...(request.overtureRelease ? { overtureRelease: request.overtureRelease } : {}),
      ...(request.orbisVersion ? { orbisVersion: request.orbisVersion } : {}),
    },
    ioRetryOptions(),
  );
  const monitor = startMonitoring(context, submitted, policy, run.rowCount);
  Object.assign(run.progress, {
    jobId: submitted.jobId,
    lastGemStatus: submitted.status,
    submittedAt: monitor.startedAt,
  });
  return { staged, submitted, monitor };
}

/** Follows the job (functions/jobMonitor.ts), publishing each poll in the match's custom status. */
function* monitor(
  context: OrchestrationContext,
  run: MatchRunState,
  job: SubmittedJob,
): Generator<Task, MonitorOutcome, unknown> {
  const { monitor: state } = job;
  run.estimated =
    run.rowCount !== null
      ? estimateCompletion(state.startedAt, run.rowCount, run.policy.segmentsPerHour)
      : null;
  return yield* followJob(
    context,
    activities.pollJob,
    { policy: run.policy, state, estimated: run.estimated },
    {
      beforePoll: () => report(context, run, 'monitoring', monitoringStatus(run, job)),
      afterPoll: (polled) => {
        run.progress.polls = polled.polls;
        run.progress.lastGemStatus = polled.lastGemStatus;
      },
      continueAsNew: () => continueAsNew(context, run, job),
    },
  );
}

/** Ends this generation; the next one resumes monitoring from the carried state with a fresh history. */
function continueAsNew(context: OrchestrationContext, run: MatchRunState, job: SubmittedJob): void {
  const next: MatchOrchestrationInput = {
    request: run.request,
    policy: run.policy,
    resume: {
      startedAt: run.startedAt,
      monitor: job.monitor,
      staged: job.staged,
      submitted: job.submitted,
      ...(run.prepared ? { prepared: run.prepared } : {}),
      ...(run.incremental ? { incremental: run.incremental } : {}),
    },
  };
  context.df.continueAsNew(next);
}

/**
 * Writes the outbox documents for the finished (or timed-out) job, tells the callback, and ends the run. `job` is
 * null for an incremental run with nothing new or changed: no job was submitted.
 */
function* deliver(
  context: OrchestrationContext,
  run: MatchRunState,
  job: SubmittedJob | null,
  final: PollJobResult | null,
): Generator<Task, MatchResult, unknown> {
  const { request, startedAt } = run;
  const jobStatus = job ? monitoringStatus(run, job) : {};
  report(context, run, 'delivering', jobStatus);
  const finishedAt = context.df.currentUtcDateTime.toISOString();
  const delivered = yield* activities.deliverResults.call(
    {
      request,
      instanceId: context.df.instanceId,
      ...jobDelivery(job, final, finishedAt),
      startedAt,
      finishedAt,
      ...deliveryPrepared(run, job),
      ...incrementalDelivery(run, job, final),
    },
    ioRetryOptions(),
  );

  return yield* notifyAndFinish(context, run, delivered, jobStatus, {
    jobId: job?.monitor.jobId ?? null,
    gemStatus: final?.status ?? job?.monitor.lastGemStatus ?? null,
    statistics: final?.statistics ?? null,
    polls: job?.monitor.polls ?? 0,
  });
}

/** After delivery: tells the callback, publishes the final status and ends the run with its result. */
function* notifyAndFinish(
  context: OrchestrationContext,
  run: MatchRunState,
  delivered: DeliverResultsResult,
  status: Partial<MatchCustomStatus>,
  result: Pick<MatchResult, 'jobId' | 'gemStatus' | 'statistics' | 'polls' | 'parts'>,
): Generator<Task, MatchResult, unknown> {
  const { request } = run;
  let notification: NotifyResult | undefined;
  if (request.callbackUrl) {
    report(context, run, 'notifying', status);
    notification = yield* activities.notify.call({
      url: request.callbackUrl,
      summaryBlob: delivered.summaryBlob,
      instanceId: context.df.instanceId,
    });
  }

  const outcome = delivered.outcome;
  report(context, run, outcome === 'succeeded' ? 'completed' : outcome, {
    ...status,
    ...(delivered.message ? { message: delivered.message } : {}),
  });
  return finish(context, run, {
    outcome,
    ...result,
    outputs: delivered.outputs,
    ...(delivered.message ? { message: delivered.message } : {}),
    ...(notification ? { notification } : {}),
    ...(delivered.counts ? { counts: delivered.counts } : {}),
    ...incrementalField(run),
    ...(run.prepared ? { preparedFile: run.prepared.prepared } : {}),
  });
}

/**
 * Stands for GEM's final poll when no job was needed: a success with no result file of its own, since every
 * result is carried over. Its job id is never written anywhere (the delivery's `jobId` is null).
 */
const NO_JOB_NEEDED: PollJobResult = {
  jobId: 0,
  status: 'NOT_SUBMITTED',
  terminal: true,
  succeeded: true,
  resultFilename: null,
  statistics: null,
  message: null,
};

/** What delivery is told of the GEM job: the monitored one, or none. */
function jobDelivery(
  job: SubmittedJob | null,
  final: PollJobResult | null,
  finishedAt: string,
): Pick<
  DeliverResultsInput,
  'pdgFilename' | 'jobId' | 'poll' | 'timedOut' | 'lastGemStatus' | 'deadline' | 'submittedAt' | 'polls'
> {
  if (!job) {
    return {
      pdgFilename: null,
      jobId: null,
      poll: NO_JOB_NEEDED,
      timedOut: false,
      lastGemStatus: null,
      deadline: finishedAt,
      submittedAt: null,
      polls: 0,
    };
  }
  const { monitor } = job;
  return {
    pdgFilename: job.staged.pdgFilename,
    jobId: monitor.jobId,
    poll: final,
    timedOut: final === null,
    lastGemStatus: monitor.lastGemStatus,
    deadline: monitor.deadline,
    submittedAt: monitor.startedAt,
    polls: monitor.polls,
  };
}

/**
 * The partitioning policy when this run's file is split into parts: a prepared road-matching input with more
 * rows than GEM_MAX_ROADS_PER_JOB (runs scheduled before partitioning existed have no policy: one job).
 */
function partitioningFor(run: MatchRunState): PartitionPolicy | undefined {
  const partitioning = run.policy.partitioning;
  if (!partitioning || !isPrepared(run.request) || run.rowCount === null) return undefined;
  return run.rowCount > partitioning.maxRoadsPerJob ? partitioning : undefined;
}

/** The custom status of a partitioned run: its parts, the window, and the ETA of the rows still to match. */
function partsStatus(
  context: OrchestrationContext,
  run: MatchRunState,
  state: PartsWindow,
): Partial<MatchCustomStatus> {
  const eta = partsEstimate(
    context.df.currentUtcDateTime,
    state.parts,
    state.window,
    run.policy.segmentsPerHour,
  );
  const { window, resubmits, refusals } = state;
  return {
    estimatedCompletion: eta ? eta.toISOString() : null,
    parts: partsSummary(state.parts, { window, resubmits, refusals }),
  };
}

/**
 * An incremental run's summary section, and, when its plan applied, the results to merge: the carried ones,
 * then GEM's for the delta. A succeeded job without a result file gets no sources, so delivery reports it.
 */
function incrementalDelivery(
  run: MatchRunState,
  job: SubmittedJob | null,
  final: PollJobResult | null,
): Pick<DeliverResultsInput, 'incremental' | 'resultSources'> {
  const carried = carriedResults(run);
  const summary = incrementalField(run);
  if (carried.length === 0) return summary;
  if (!job) return { ...summary, resultSources: carried };
  if (!final?.resultFilename) return summary;
  return { ...summary, resultSources: [...carried, { kind: 'pdg', filename: final.resultFilename }] };
}

/** The results an applied incremental plan carries over from the previous run, as the first result source. */
function carriedResults(run: MatchRunState): ResultSource[] {
  const plan = run.incremental;
  return plan?.applied ? [{ kind: 'outbox', blobName: plan.carried.blobName }] : [];
}

/** The summary's `incremental` section, for runs that asked to be incremental. */
function incrementalField(run: MatchRunState): Pick<DeliverResultsInput, 'incremental'> {
  return run.incremental
    ? { incremental: incrementalSummaryOf(run.incremental, run.policy.segmentsPerHour) }
    : {};
}

/**
 * The partitioned run (functions/partitionedMatch.ts): its parts matched one GEM job each, then delivered as one
 * run, results.parquet being the merge of the parts' result files in part order and the statistics combined.
 */
function* matchInParts(
  context: OrchestrationContext,
  run: MatchRunState,
  partitioning: PartitionPolicy,
): Generator<Task, MatchResult, unknown> {
  const submittedAt = context.df.currentUtcDateTime.toISOString();
  run.progress.submittedAt = submittedAt;
  report(context, run, 'submitting');
  const { state, outcomes } = yield* matchParts(
    context,
    { request: run.request, policy: { ...run.policy, partitioning } },
    fileInput(run),
    { activities, publish: (s) => report(context, run, 'monitoring', partsStatus(context, run, s)) },
  );
  const status = partsStatus(context, run, state);
  report(context, run, 'delivering', status);
  const first = outcomes[0]!;
  const unnamed = outcomes.findIndex((o) => !o.resultFilename);
  if (unnamed >= 0) {
    throw new Error(
      `GEM reported part ${unnamed}'s job ${outcomes[unnamed]!.jobId} as SUCCESS without a result file name.`,
    );
  }
  const statistics = combineStatistics(outcomes.map((o) => ({ statistics: o.statistics, roads: o.rows })));
  const polls = outcomes.reduce((sum, o) => sum + o.polls, 0);
  const finishedAt = context.df.currentUtcDateTime.toISOString();
  const delivered = yield* activities.deliverResults.call(
    {
      request: run.request,
      instanceId: context.df.instanceId,
      pdgFilename: first.pdgFilename ?? '',
      jobId: first.jobId ?? 0,
      poll: {
        jobId: first.jobId ?? 0,
        status: 'SUCCESS',
        terminal: true,
        succeeded: true,
        resultFilename: null,
        statistics,
        message: null,
      },
      timedOut: false,
      lastGemStatus: 'SUCCESS',
      deadline: finishedAt,
      startedAt: run.startedAt,
      submittedAt,
      polls,
      finishedAt,
      ...(run.prepared ? { prepared: run.prepared } : {}),
      // An incremental run split into parts: the carried results first, then each part's.
      resultSources: [
        ...carriedResults(run),
        ...outcomes.map((o) => ({ kind: 'pdg' as const, filename: o.resultFilename ?? '' })),
      ],
      ...incrementalField(run),
    },
    ioRetryOptions(),
  );
  return yield* notifyAndFinish(context, run, delivered, status, {
    jobId: first.jobId,
    gemStatus: 'SUCCESS',
    statistics,
    polls,
    ...(status.parts ? { parts: status.parts } : {}),
  });
}

/**
 * The prepared input the enriched output is joined from: what prepareInput recorded, or, for a run that was
 * in flight before prepareInput existed, GEM's own Parquet described from the staged source.
 */
function deliveryPrepared(run: MatchRunState, job: SubmittedJob | null): { prepared?: PreparedInput } {
  if (run.prepared) return { prepared: run.prepared };
  if (!job) return {};
  const prepared = gemParquetPreparedInput(run.request, job.staged, run.rowCount);
  return prepared ? { prepared } : {};
}

/**
 * The failure path: publishes the failure, writes the run's error document, tells the callback, and fails the
 * instance with the original error.
 */
function* recordFailureAndRethrow(
  context: OrchestrationContext,
  run: MatchRunState,
  error: unknown,
): Generator<Task, never, unknown> {
  const { request, progress } = run;
  const message = caughtFailureMessage(error);
  const failedIn = run.phase;
  report(context, run, 'failed', { ...run.lastStatus, message });
  const recorded = yield* activities.recordFailure.call(
    {
      request,
      instanceId: context.df.instanceId,
      phase: failedIn,
      message,
      jobId: progress.jobId,
      lastGemStatus: progress.lastGemStatus,
      startedAt: run.startedAt,
      submittedAt: progress.submittedAt,
      polls: progress.polls,
      finishedAt: context.df.currentUtcDateTime.toISOString(),
    },
    ioRetryOptions(),
  );
  if (request.callbackUrl) {
    const notification = yield* activities.notify.call({
      url: request.callbackUrl,
      summaryBlob: recorded.errorBlob,
      instanceId: context.df.instanceId,
    });
    // A failed instance has no output, so the callback's outcome travels in the custom status.
    report(context, run, 'failed', { ...run.lastStatus, message, notification });
  }
  throw error;
}

/**
 * The input, checked before the first yield. An instance started by hand (Durable HTTP API, portal) with the
 * wrong input would otherwise fail with a bare TypeError about destructuring, saying nothing of what it lacks.
 * One started without an outbox location (by hand, or before runs had their own folders) gets the one
 * `startMatch` would have given it: a pure function of its source and instance id, so replay sees the same.
 */
function orchestrationInputOf(context: OrchestrationContext): MatchOrchestrationInput {
  const input = context.df.getInput<Partial<MatchOrchestrationInput> | null | undefined>();
  const missing = (['request', 'policy'] as const).filter(
    (key) => !input?.[key] || typeof input[key] !== 'object',
  );
  if (!input || missing.length > 0) {
    throw new Error(
      `matchFile needs an input { request, policy } but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing. ` +
        'Start matches with POST /api/matches, an upload to the inbox or the sweep, which build that input.',
    );
  }
  const { request } = input as MatchOrchestrationInput;
  if (!request.outbox && request.source) {
    return { ...(input as MatchOrchestrationInput), request: withOutbox(request, context.df.instanceId) };
  }
  return input as MatchOrchestrationInput;
}

function withOutbox(request: MatchInput, instanceId: string): MatchInput {
  return { ...request, outbox: outboxLocationFor(request.source, instanceId) };
}

df.app.orchestration(MATCH_ORCHESTRATION, matchFileOrchestrator);
