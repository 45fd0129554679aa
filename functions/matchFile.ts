/**
 * One workflow per file: validate → stage → submit → monitor → deliver → notify.
 * The orchestrator only sequences typed activity calls; every byte of I/O and every secret stays inside the
 * activities (shared/activities/match.ts), because orchestration inputs, outputs and custom status are stored
 * in the task hub in plain text.
 */

import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import * as df from 'durable-functions';
import { matchActivities } from '../shared/activities/match.js';
import {
  deadlineFrom,
  estimateCompletion,
  type MonitorPolicy,
  scheduledPollDelaySeconds,
  shouldContinueAsNew,
} from '../shared/workflow/monitor.js';
import { outboxLocationFor } from '../shared/workflow/outboxNames.js';
import { caughtFailureMessage } from '../shared/workflow/status.js';
import type {
  MatchActivities,
  MatchCustomStatus,
  MatchInput,
  MatchPhase,
  MatchResult,
  MonitorState,
  NotifyResult,
  PollJobResult,
  StageInputResult,
  SubmitJobResult,
} from '../shared/workflow/types.js';
import { ioRetryOptions, registerActivities } from './activities.js';

export const MATCH_ORCHESTRATION = 'matchFile';

/** What each generation of the orchestration receives; `resume` is set by continueAsNew while monitoring. */
export interface MatchOrchestrationInput {
  request: MatchInput;
  policy: MonitorPolicy & { segmentsPerHour: number; permanentErrorLimit: number };
  resume?: {
    startedAt: string;
    monitor: MonitorState;
    staged: StageInputResult;
    submitted: SubmitJobResult;
  };
}

const { validateInput, stageInput, submitJob, pollJob, deliverResults, notify, recordFailure } =
  registerActivities<MatchActivities>(
    {
      validateInput: true,
      stageInput: true,
      submitJob: true,
      pollJob: true,
      deliverResults: true,
      notify: true,
      recordFailure: true,
    },
    matchActivities,
  );

export const matchFileOrchestrator: OrchestrationHandler = function* (
  context: OrchestrationContext,
): Generator<Task, MatchResult | undefined, unknown> {
  const { request, policy, resume } = orchestrationInputOf(context);
  const now = () => context.df.currentUtcDateTime;
  const startedAt = resume?.startedAt ?? now().toISOString();
  let rowCount: number | null = resume?.monitor.rowCount ?? null;

  let currentPhase: MatchPhase = resume ? 'monitoring' : 'validating';
  // What the failure path needs to record; the custom status runs one poll behind, so it is kept here.
  const progress = {
    jobId: resume?.monitor.jobId ?? null,
    polls: resume?.monitor.polls ?? 0,
    lastGemStatus: resume?.monitor.lastGemStatus ?? null,
    submittedAt: resume?.monitor.startedAt ?? null,
  };
  let lastStatus: Partial<MatchCustomStatus> = {};
  const report = (phase: MatchPhase, extra: Partial<MatchCustomStatus> = {}) => {
    currentPhase = phase;
    lastStatus = extra;
    const status: MatchCustomStatus = {
      phase,
      jobId: null,
      gemStatus: null,
      polls: 0,
      startedAt,
      estimatedCompletion: null,
      ...(rowCount !== null ? { rowCount } : {}),
      ...extra,
    };
    context.df.setCustomStatus(status);
  };
  const finish = (result: Omit<MatchResult, 'startedAt' | 'finishedAt'>): MatchResult => ({
    ...result,
    startedAt,
    finishedAt: now().toISOString(),
  });

  // Once the input is known, a failure must leave a trace: an error document in the outbox and the callback,
  // not just a Failed instance. Secrets cannot be in the message: typed errors never carry them.
  try {
    let staged: StageInputResult;
    let submitted: SubmitJobResult;
    let monitor: MonitorState;
    if (resume) {
      ({ staged, submitted, monitor } = resume);
    } else {
      report('validating');
      const validation = yield* validateInput.call(request, ioRetryOptions());
      // Files already in PDG storage are not read here, so their size is unknown (0), not zero rows.
      rowCount = validation.rowCount > 0 ? validation.rowCount : null;
      if (!validation.valid) {
        report('invalid-input', { message: validation.summary });
        return finish({
          outcome: 'invalid-input',
          jobId: null,
          gemStatus: null,
          statistics: null,
          outputs: validation.reportBlob ? { validationReport: validation.reportBlob } : {},
          message: validation.summary,
          polls: 0,
        });
      }

      report('staging');
      staged = yield* stageInput.call(request, ioRetryOptions());

      report('submitting');
      // Safe to retry: submitJob is find-or-create on (storage, content-derived filename).
      submitted = yield* submitJob.call(
        {
          storageId: request.storageId,
          filename: staged.pdgFilename,
          jobType: request.jobType,
          ...(request.overtureRelease ? { overtureRelease: request.overtureRelease } : {}),
          ...(request.orbisVersion ? { orbisVersion: request.orbisVersion } : {}),
        },
        ioRetryOptions(),
      );
      const monitorStart = now().toISOString();
      Object.assign(progress, {
        jobId: submitted.jobId,
        lastGemStatus: submitted.status,
        submittedAt: monitorStart,
      });
      monitor = {
        jobId: submitted.jobId,
        polls: 0,
        generation: 0,
        startedAt: monitorStart,
        deadline: deadlineFrom(monitorStart, policy).toISOString(),
        lastGemStatus: submitted.status,
        consecutiveErrors: 0,
        rowCount,
      };
    }

    const estimated =
      rowCount !== null ? estimateCompletion(monitor.startedAt, rowCount, policy.segmentsPerHour) : null;
    const monitoringStatus = (): Partial<MatchCustomStatus> => ({
      jobId: monitor.jobId,
      gemStatus: monitor.lastGemStatus,
      polls: monitor.polls,
      estimatedCompletion: estimated ? estimated.toISOString() : null,
      deadline: monitor.deadline,
    });

    // The monitor pattern: poll, then sleep on a durable timer with backoff, bounded by a deadline. Errors are
    // caught inside the loop: an uncaught one would end the instance, and continueAsNew could not revive it.
    const deadline = new Date(monitor.deadline);
    let final: PollJobResult | null = null;
    let failureMessage: string | null = null;
    for (;;) {
      report('monitoring', monitoringStatus());
      const poll = yield* pollJob.call({ jobId: monitor.jobId });
      monitor.polls += 1;
      progress.polls = monitor.polls;
      if (poll.error) {
        monitor.consecutiveErrors += 1;
        if (poll.error.permanent && monitor.consecutiveErrors >= policy.permanentErrorLimit) {
          failureMessage = poll.error.message;
          break;
        }
      } else {
        monitor.consecutiveErrors = 0;
        monitor.lastGemStatus = poll.status;
        progress.lastGemStatus = poll.status;
        if (poll.terminal) {
          final = poll;
          break;
        }
      }
      // No wait runs past the deadline, and the job gets one last poll when it arrives: a job that finishes
      // during the final wait is delivered, not reported as timed out.
      const secondsLeft = (deadline.getTime() - now().getTime()) / 1000;
      if (secondsLeft <= 0) break;
      const delaySeconds = Math.min(
        secondsLeft,
        scheduledPollDelaySeconds(
          monitor.polls,
          policy,
          monitor.lastGemStatus ?? undefined,
          now(),
          estimated,
        ),
      );
      yield context.df.createTimer(new Date(now().getTime() + delaySeconds * 1000));
      // After the wait, not before it: the next generation starts with a poll, so two polls never run back to back.
      if (shouldContinueAsNew(monitor, policy)) {
        monitor.generation += 1;
        const next: MatchOrchestrationInput = {
          request,
          policy,
          resume: { startedAt, monitor, staged, submitted },
        };
        context.df.continueAsNew(next);
        return undefined;
      }
    }

    if (failureMessage !== null) {
      throw new Error(`Job ${monitor.jobId} could not be followed: ${failureMessage}`);
    }

    report('delivering', monitoringStatus());
    const delivered = yield* deliverResults.call(
      {
        request,
        instanceId: context.df.instanceId,
        pdgFilename: staged.pdgFilename,
        jobId: monitor.jobId,
        poll: final,
        timedOut: final === null,
        lastGemStatus: monitor.lastGemStatus,
        deadline: monitor.deadline,
        startedAt,
        submittedAt: monitor.startedAt,
        polls: monitor.polls,
        finishedAt: now().toISOString(),
      },
      ioRetryOptions(),
    );

    let notification: NotifyResult | undefined;
    if (request.callbackUrl) {
      report('notifying', monitoringStatus());
      notification = yield* notify.call({
        url: request.callbackUrl,
        summaryBlob: delivered.summaryBlob,
        instanceId: context.df.instanceId,
      });
    }

    const outcome = delivered.outcome;
    report(outcome === 'succeeded' ? 'completed' : outcome, {
      ...monitoringStatus(),
      ...(delivered.message ? { message: delivered.message } : {}),
    });
    return finish({
      outcome,
      jobId: monitor.jobId,
      gemStatus: final?.status ?? monitor.lastGemStatus,
      statistics: final?.statistics ?? null,
      outputs: delivered.outputs,
      ...(delivered.message ? { message: delivered.message } : {}),
      polls: monitor.polls,
      ...(notification ? { notification } : {}),
    });
  } catch (error) {
    const message = caughtFailureMessage(error);
    const failedIn = currentPhase;
    report('failed', { ...lastStatus, message });
    const recorded = yield* recordFailure.call(
      {
        request,
        instanceId: context.df.instanceId,
        phase: failedIn,
        message,
        jobId: progress.jobId,
        lastGemStatus: progress.lastGemStatus,
        submittedAt: progress.submittedAt,
        polls: progress.polls,
        finishedAt: now().toISOString(),
      },
      ioRetryOptions(),
    );
    if (request.callbackUrl) {
      const notification = yield* notify.call({
        url: request.callbackUrl,
        summaryBlob: recorded.errorBlob,
        instanceId: context.df.instanceId,
      });
      // A failed instance has no output, so the callback's outcome travels in the custom status.
      report('failed', { ...lastStatus, message, notification });
    }
    throw error;
  }
};

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
