/**
 * The scheduled reconciliation: refresh the storage inventory, start matches for inbox blobs whose event was
 * missed, and report instances still running past their deadline. Every step is idempotent (deterministic
 * instance ids, status checks before starts), so a timer that fires twice — Azure's timer singleton can lose
 * its lease mid-run — does no harm.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import * as df from 'durable-functions';
import { normaliseEtag } from '../shared/etag.js';
import { LIST_STORAGES_INSTANCE_ID } from '../shared/workflow/ids.js';
import { ACTIVE_RUNTIME_STATUSES } from '../shared/workflow/status.js';
import type { MatchCustomStatus } from '../shared/workflow/types.js';
import { LIST_STORAGES_ORCHESTRATION, type ListStoragesInput } from './listStorages.js';
import { MATCH_ORCHESTRATION } from './matchFile.js';
import { loadConfig, loadInventory, loadServices } from './onDemand.js';
import { startSingleton } from './singleton.js';
import { bodyFromBlobMetadata, startMatch } from './startMatch.js';

export interface SweepReport {
  sweptAt: string;
  inventory: { instanceId: string; action: 'started' | 'already-running' };
  inbox: { scanned: number; started: string[]; alreadyKnown: number; rejected: string[] };
  stuck: { instanceId: string; startedAt: string | null; phase: string | null; deadlineHours: number }[];
}

export async function sweep(timer: Timer, context: InvocationContext): Promise<SweepReport> {
  const client = df.getClient(context);
  const settings = (await loadConfig()).getSettings();
  const now = new Date();
  if (timer.isPastDue) context.warn('The sweep is running late (isPastDue); it catches up in this run.');

  const inventory = await refreshInventory(client, settings.workflow.storageFanOutLimit);
  const inbox = await startMissedMatches(client, now);
  const stuck = await findStuckMatches(client, now, settings.workflow.monitorDeadlineHours);
  for (const s of stuck) {
    context.warn(
      `Match ${s.instanceId} has been running since ${s.startedAt} (phase ${s.phase}), past the ${s.deadlineHours} h deadline.`,
    );
  }
  const report: SweepReport = { sweptAt: now.toISOString(), inventory, inbox, stuck };
  await (await loadInventory()).writeSweepReport(report);
  logSweep(context, report);
  return report;
}

/**
 * One information line only when the sweep did something a reader should know of (started or rejected an
 * upload whose event was missed; stuck matches have their own warnings): a quiet sweep, which runs every few
 * minutes, logs at debug level, so the log and Application Insights are not filled with no-ops.
 */
function logSweep(context: InvocationContext, { inventory, inbox, stuck }: SweepReport): void {
  const line =
    `Sweep: inventory ${inventory.action}; inbox scanned ${inbox.scanned}, started ${inbox.started.length}` +
    `${inbox.started.length ? ` (${inbox.started.join(', ')})` : ''}, rejected ${inbox.rejected.length}` +
    `${inbox.rejected.length ? ` (${inbox.rejected.join(', ')})` : ''}; stuck ${stuck.length}.`;
  if (inbox.started.length || inbox.rejected.length) context.log(line);
  else context.debug(line);
}

/** Starts the inventory refresh, or joins the one already running (the sweep and `?refresh=true` share it). */
export async function refreshInventory(
  client: DurableClient,
  fanOutLimit: number,
): Promise<SweepReport['inventory']> {
  const instanceId = LIST_STORAGES_INSTANCE_ID;
  const input: ListStoragesInput = { fanOutLimit };
  const action = await startSingleton(client, LIST_STORAGES_ORCHESTRATION, instanceId, input);
  return { instanceId, action };
}

async function startMissedMatches(client: DurableClient, now: Date): Promise<SweepReport['inbox']> {
  const { inbox } = (await loadServices()).getServices();
  const result: SweepReport['inbox'] = { scanned: 0, started: [], alreadyKnown: 0, rejected: [] };
  for await (const item of inbox.listBlobsFlat({ includeMetadata: true })) {
    result.scanned += 1;
    const blob = {
      container: inbox.containerName,
      name: item.name,
      etag: normaliseEtag(item.properties.etag ?? ''),
      metadata: item.metadata ?? {},
    };
    const outcome = await startMatch(client, bodyFromBlobMetadata(blob), {
      trigger: 'sweep',
      requestedAt: now,
      inboxEtag: blob.etag,
    });
    if (outcome.kind === 'started') result.started.push(outcome.instanceId);
    else if (outcome.kind === 'existing') result.alreadyKnown += 1;
    else result.rejected.push(blob.name);
  }
  return result;
}

/**
 * Matches still active past their deadline. The deadline runs from the job's submission, so a match that
 * spent an hour staging a large file is not stuck an hour early: the deadline the orchestrator publishes in
 * its custom status wins, and only a match not yet monitoring is measured from its start.
 */
export async function findStuckMatches(
  client: DurableClient,
  now: Date,
  deadlineHours: number,
): Promise<SweepReport['stuck']> {
  const active = await client.getStatusBy({
    runtimeStatus: [...ACTIVE_RUNTIME_STATUSES] as df.OrchestrationRuntimeStatus[],
  });
  const deadlineMs = deadlineHours * 3_600_000;
  return active
    .filter((s) => s.name === MATCH_ORCHESTRATION)
    .flatMap((s) => {
      const custom = (s.customStatus ?? null) as Partial<MatchCustomStatus> | null;
      const startedAt = custom?.startedAt ?? new Date(s.createdTime).toISOString();
      const published = custom?.deadline ? Date.parse(custom.deadline) : Number.NaN;
      const deadline = Number.isNaN(published) ? Date.parse(startedAt) + deadlineMs : published;
      if (!(now.getTime() > deadline)) return [];
      return [{ instanceId: s.instanceId, startedAt, phase: custom?.phase ?? null, deadlineHours }];
    });
}

app.timer('sweep', {
  // A binding expression the host resolves from app settings: an invalid or missing SWEEP_SCHEDULE disables
  // this one function (and /api/health/report says why) instead of failing the whole app at indexing.
  schedule: '%SWEEP_SCHEDULE%',
  runOnStartup: false,
  useMonitor: true,
  extraInputs: [df.input.durableClient()],
  handler: sweep,
});
