/**
 * Orchestrations that run as one instance with a fixed id (the inventory refresh, retention): a run requested
 * while one works joins it, and a new run replaces the last finished one instead of leaving an instance per
 * run in the task hub.
 */
import type { DurableClient } from 'durable-functions';
import { isActiveRuntimeStatus } from '../shared/workflow/status.js';
import { tryGetStatus } from './startMatch.js';

export async function startSingleton(
  client: DurableClient,
  orchestration: string,
  instanceId: string,
  input: unknown,
): Promise<'started' | 'already-running'> {
  const status = await tryGetStatus(client, instanceId);
  if (status && isActiveRuntimeStatus(status)) return 'already-running';
  // The finished run is replaced: its outcome is already recorded, and only one run is ever kept.
  if (status) await client.purgeInstanceHistory(instanceId);
  await client.startNew(orchestration, { instanceId, input });
  return 'started';
}
