/**
 * Activities of the `listStorages` inventory, and the outbox documents the sweep and the storages API read.
 * A storage whose details cannot be fetched is reported in the snapshot rather than failing the inventory.
 */
import { errorMessage } from '../errors.js';
import { readJsonBlob, writeJsonBlob } from '../outbox.js';
import { getServices, type Services } from '../services.js';
import type { StorageDetails, StorageSummary } from '../tomtom/models.js';

export const INVENTORY_BLOB = 'inventory/storages.json';
export const SWEEP_REPORT_BLOB = 'inventory/sweep.json';

export type StorageSummaryItem = Pick<StorageSummary, 'id' | 'name'> & { createdAt: string | null };

export type StorageDetailsOutcome =
  | { ok: true; storageId: string; details: StorageDetails }
  | { ok: false; storageId: string; error: { message: string; status: number | null } };

export interface InventorySnapshot {
  generatedAt: string;
  storages: (StorageSummaryItem & { details: StorageDetailsOutcome | null })[];
  /** How many storages' details could not be fetched. */
  failures: number;
}

export interface InventoryActivities {
  listStorageSummaries(): Promise<StorageSummaryItem[]>;
  getStorageDetails(input: { storageId: string }): Promise<StorageDetailsOutcome>;
  writeInventory(snapshot: InventorySnapshot): Promise<{ blob: string }>;
}

let defaultActivities: InventoryActivities | undefined;

export function inventoryActivities(): InventoryActivities {
  defaultActivities ??= createInventoryActivities(getServices());
  return defaultActivities;
}

export function createInventoryActivities(services: Services): InventoryActivities {
  return {
    async listStorageSummaries() {
      const storages = await services.tomtom.listStorages();
      return storages.map((s) => ({ id: s.id, name: s.name, createdAt: s.createdAt ?? null }));
    },
    async getStorageDetails({ storageId }) {
      try {
        const details = await services.tomtom.getStorage(storageId);
        return { ok: true, storageId, details: JSON.parse(JSON.stringify(details)) as StorageDetails };
      } catch (error) {
        const status = (error as { status?: unknown }).status;
        return {
          ok: false,
          storageId,
          error: {
            message: errorMessage(error),
            status: typeof status === 'number' ? status : null,
          },
        };
      }
    },
    async writeInventory(snapshot) {
      return { blob: await writeJsonBlob(services.outbox, INVENTORY_BLOB, snapshot) };
    },
  };
}

export function readInventory(services: Services = getServices()): Promise<InventorySnapshot | undefined> {
  return readJsonBlob<InventorySnapshot>(services.outbox, INVENTORY_BLOB);
}

export async function writeSweepReport(report: unknown, services: Services = getServices()): Promise<void> {
  await writeJsonBlob(services.outbox, SWEEP_REPORT_BLOB, report);
}
