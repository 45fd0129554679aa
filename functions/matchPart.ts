/**
 * Following one part's GEM job, as a sub-orchestration of `matchFile` (`part-<parent>-p<i>-a<n>`): the parent has
 * staged the part and submitted its job (functions/partitionedMatch.ts says why there); this follows it with the
 * same loop as a single-job match (functions/jobMonitor.ts, continueAsNew included) and returns what became of
 * it. Nothing is delivered here: the parent merges the parts' results.
 */
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import * as df from 'durable-functions';
import { estimateCompletion } from '../shared/workflow/monitor.js';
import {
  MATCH_PART_ORCHESTRATION,
  type MatchPartInput,
  type PartCustomStatus,
  type PartOutcome,
} from '../shared/workflow/partitions.js';
import type { MonitorState } from '../shared/workflow/types.js';
import { followJob, startMonitoring } from './jobMonitor.js';
import { activities } from './matchFile.js';

export const matchPartOrchestrator: OrchestrationHandler = function* (
  context: OrchestrationContext,
): Generator<Task, PartOutcome | undefined, unknown> {
  const input = context.df.getInput<MatchPartInput>();
  const { part, policy } = input;
  const status = (phase: PartCustomStatus['phase'], monitor: MonitorState): void => {
    const published: PartCustomStatus = {
      phase,
      index: part.index,
      rows: part.rows,
      jobId: monitor.jobId,
      gemStatus: monitor.lastGemStatus,
      polls: monitor.polls,
    };
    context.df.setCustomStatus(published);
  };
  const monitor = input.resume?.monitor ?? startMonitoring(context, input.submitted, policy, part.rows);
  const followed = yield* followJob(
    context,
    activities.pollJob,
    {
      policy,
      state: monitor,
      estimated: estimateCompletion(monitor.startedAt, part.rows, policy.segmentsPerHour),
    },
    {
      beforePoll: (state) => status('monitoring', state),
      afterPoll: () => {},
      continueAsNew: (state) => context.df.continueAsNew({ ...input, resume: { monitor: state } }),
    },
  );
  if (followed.kind === 'continued-as-new') return undefined;
  const final = followed.final;
  const outcome: PartOutcome = {
    outcome: final === null ? 'timed-out' : final.succeeded ? 'succeeded' : 'gem-failed',
    jobId: monitor.jobId,
    pdgFilename: input.staged.pdgFilename,
    resultFilename: final?.resultFilename ?? null,
    statistics: final?.statistics ?? null,
    polls: monitor.polls,
    rows: part.rows,
    gemStatus: final?.status ?? monitor.lastGemStatus,
    ...(final?.message ? { message: final.message } : {}),
  };
  status(outcome.outcome, monitor);
  return outcome;
};

df.app.orchestration(MATCH_PART_ORCHESTRATION, matchPartOrchestrator);
