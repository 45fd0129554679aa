/**
 * Inventory of the PDG storages the identity can see: list, then fetch each storage's details with a bounded
 * fan-out. `Task.all` fails fast and drops the other results, so each detail activity reports its own failure
 * as data and one unreachable storage never costs the whole snapshot.
 */

import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import * as df from 'durable-functions';
import type {
  InventoryActivities,
  InventorySnapshot,
  StorageDetailsOutcome,
} from '../shared/activities/inventory.js';
import { ioRetryOptions, registerActivities } from './activities.js';
import { loadInventory } from './onDemand.js';

export const LIST_STORAGES_ORCHESTRATION = 'listStorages';

export interface ListStoragesInput {
  fanOutLimit: number;
}

const { listStorageSummaries, getStorageDetails, writeInventory } = registerActivities<InventoryActivities>(
  { listStorageSummaries: true, getStorageDetails: true, writeInventory: true },
  async () => (await loadInventory()).inventoryActivities(),
);

export const listStoragesOrchestrator: OrchestrationHandler = function* (
  context: OrchestrationContext,
): Generator<Task, InventorySnapshot, unknown> {
  const input = context.df.getInput<Partial<ListStoragesInput> | null>();
  const fanOutLimit = input?.fanOutLimit;
  if (typeof fanOutLimit !== 'number' || !Number.isInteger(fanOutLimit) || fanOutLimit < 1) {
    // Checked before the first yield: a NaN batch size would silently write a snapshot without details.
    throw new Error(
      `listStorages needs an input { fanOutLimit: a whole number ≥ 1 } (got ${JSON.stringify(input)}); ` +
        'start it through GET /api/storages?refresh=true or the sweep, which pass STORAGE_FANOUT_LIMIT.',
    );
  }
  const summaries = yield* listStorageSummaries.call({}, ioRetryOptions());

  const details: StorageDetailsOutcome[] = [];
  const batchSize = fanOutLimit;
  for (let start = 0; start < summaries.length; start += batchSize) {
    const batch = summaries.slice(start, start + batchSize);
    context.df.setCustomStatus({ phase: 'fetching-details', done: details.length, total: summaries.length });
    const tasks = batch.map((summary) => getStorageDetails.task({ storageId: summary.id }));
    const results = (yield context.df.Task.all(tasks)) as StorageDetailsOutcome[];
    details.push(...results);
  }

  const snapshot: InventorySnapshot = {
    generatedAt: context.df.currentUtcDateTime.toISOString(),
    storages: summaries.map((summary, index) => ({ ...summary, details: details[index] ?? null })),
    failures: details.filter((d) => !d.ok).length,
  };
  const written = yield* writeInventory.call(snapshot, ioRetryOptions());
  context.df.setCustomStatus({ phase: 'completed', blob: written.blob, total: summaries.length });
  return snapshot;
};

df.app.orchestration(LIST_STORAGES_ORCHESTRATION, listStoragesOrchestrator);
