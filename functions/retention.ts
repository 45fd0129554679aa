/**
 * Bounded growth over months: a timer (`%RETENTION_SCHEDULE%`, daily by default) starts the `retention`
 * orchestration, which purges finished matches created more than `MATCH_RETENTION_DAYS` ago and archives the
 * inbox files they read, a batch per activity until none is due (rules in shared/workflow/retention.ts).
 *
 * The cutoff comes from the orchestration's clock (`currentUtcDateTime`), so it is the task hub's notion of
 * time that decides, the same time instances are stamped with. The run is a singleton (fixed instance id):
 * a timer firing twice joins the run in progress, and each new run replaces the previous one's instance.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import type {
  DurableClient,
  DurableOrchestrationStatus,
  OrchestrationContext,
  OrchestrationHandler,
  Task,
} from 'durable-functions';
import * as df from 'durable-functions';
import { archiveInboxFile } from '../shared/workflow/archive.js';
import { RETENTION_INSTANCE_ID } from '../shared/workflow/ids.js';
import type { PageCursor } from '../shared/workflow/paging.js';
import {
  addRetentionCounts,
  emptyRetentionCounts,
  FINISHED_RUNTIME_STATUSES,
  RETENTION_BATCH_SIZE,
  type RetentionCounts,
  type RetentionTaskHub,
  type RetireBatchRequest,
  type RetireBatchResult,
  retentionCutoff,
  retireBatch,
} from '../shared/workflow/retention.js';
import { ACTIVE_RUNTIME_STATUSES } from '../shared/workflow/status.js';
import { ioRetryOptions, registerActivities } from './activities.js';
import { MATCH_ORCHESTRATION } from './matchFile.js';
import { loadConfig, loadServices } from './onDemand.js';
import { startSingleton } from './singleton.js';
import { findInstance } from './startMatch.js';

export const RETENTION_ORCHESTRATION = 'retentionRun';

export interface RetentionInput {
  retentionDays: number;
  /** Fixed by the first generation, so every batch of one run applies the same cutoff. */
  cutoff?: string;
  after?: PageCursor;
  totals?: RetentionCounts;
  batches?: number;
}

export interface RetentionResult extends RetentionCounts {
  cutoff: string;
  batches: number;
  /** Matches kept in the last batch and why (at most a few). */
  kept: RetireBatchResult['kept'];
}

const asStatuses = (statuses: readonly string[]) => statuses as df.OrchestrationRuntimeStatus[];

/** The task hub as retention sees it, through the real DurableClient. */
export function durableRetentionHub(client: DurableClient): RetentionTaskHub<DurableOrchestrationStatus> {
  return {
    listFinished: (window) =>
      client.getStatusBy({ ...window, runtimeStatus: asStatuses(FINISHED_RUNTIME_STATUSES) }),
    listActive: () => client.getStatusBy({ runtimeStatus: asStatuses(ACTIVE_RUNTIME_STATUSES) }),
    status: (instanceId) => findInstance(client, instanceId, { showInput: true }),
    purge: async (instanceId) => {
      await client.purgeInstanceHistory(instanceId);
    },
  };
}

/** The retention run's activity; it reads the task hub through its durable client binding, hence the context. */
export interface RetentionActivities {
  retireMatches(request: RetireBatchRequest, context: InvocationContext): Promise<RetireBatchResult>;
}

const retentionActivities: RetentionActivities = {
  async retireMatches(request, context) {
    const { inbox, archive } = (await loadServices()).getServices();
    const result = await retireBatch(
      durableRetentionHub(df.getClient(context)),
      (file) => archiveInboxFile(inbox, archive, file),
      request,
    );
    const { examined, purged, archived } = result.counts;
    context.log(`Retention batch: examined ${examined}, purged ${purged}, archived ${archived} inbox files.`);
    for (const { instanceId, reason } of result.kept) context.warn(`Retention kept ${instanceId}: ${reason}`);
    return result;
  },
};

const { retireMatches } = registerActivities<RetentionActivities>(
  { retireMatches: true },
  () => retentionActivities,
  { extraInputs: [df.input.durableClient()] },
);

export const retentionOrchestrator: OrchestrationHandler = function* (
  context: OrchestrationContext,
): Generator<Task, RetentionResult | undefined, unknown> {
  const input = context.df.getInput<RetentionInput | null>();
  const days = input?.retentionDays;
  if (typeof days !== 'number' || !(days > 0)) {
    throw new Error(
      `retention needs an input { retentionDays: a number > 0 } (got ${JSON.stringify(input)}); the retention timer passes MATCH_RETENTION_DAYS.`,
    );
  }
  const cutoff = input?.cutoff ?? retentionCutoff(context.df.currentUtcDateTime, days).toISOString();
  const batch = yield* retireMatches.call(
    {
      cutoff,
      limit: RETENTION_BATCH_SIZE,
      orchestrationName: MATCH_ORCHESTRATION,
      ...(input?.after ? { after: input.after } : {}),
    },
    ioRetryOptions(),
  );
  const totals = addRetentionCounts(input?.totals ?? emptyRetentionCounts(), batch.counts);
  const batches = (input?.batches ?? 0) + 1;
  context.df.setCustomStatus({ cutoff, batches, purged: totals.purged });
  if (batch.next) {
    // A fresh history per batch: a backlog of thousands of matches never makes the history grow.
    context.df.continueAsNew({ retentionDays: days, cutoff, after: batch.next, totals, batches });
    return undefined;
  }
  return { cutoff, batches, ...totals, kept: batch.kept };
};

export async function retentionTimer(timer: Timer, context: InvocationContext): Promise<void> {
  if (timer.isPastDue)
    context.warn('The retention timer is running late (isPastDue); it catches up in this run.');
  const { getSettings } = await loadConfig();
  const input: RetentionInput = { retentionDays: getSettings().workflow.matchRetentionDays };
  const action = await startSingleton(
    df.getClient(context),
    RETENTION_ORCHESTRATION,
    RETENTION_INSTANCE_ID,
    input,
  );
  context.log(`Retention: ${action} (matches finished more than ${input.retentionDays} days ago).`);
}

df.app.orchestration(RETENTION_ORCHESTRATION, retentionOrchestrator);

app.timer('retention', {
  // Resolved by the Functions host from the app setting of that name (set in infra/app/api.bicep).
  schedule: '%RETENTION_SCHEDULE%',
  runOnStartup: false,
  useMonitor: true,
  extraInputs: [df.input.durableClient()],
  handler: retentionTimer,
});
