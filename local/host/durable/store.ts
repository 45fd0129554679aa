/**
 * Durable state in Azure Table storage (Azurite locally): ONE table per task hub, `<hub>Instances`, one
 * partition per instance, so an episode commits atomically in one entity-group transaction:
 *
 *   RowKey `$instance`                 the instance record (status, input, output, custom status, execution id…)
 *   RowKey `H|<executionId>|<000042>`  one row per committed episode: its new history events, the action
 *                                      signatures it committed (non-determinism check) and timers it cancelled
 *   RowKey `M|<time><counter>`         inbox: a new event waiting for an episode (completion, timer, raised event…)
 *
 * Everything pending (activities to run, timers to arm, children to start) is derived from history + inbox,
 * so the commit order "inbox row written → episode row + record + inbox delete in one transaction" never
 * loses a completion. JSON is split over `D0…Dn` string properties (Table properties hold ≤ 64 KiB).
 */
import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import { type StorageConnection, tableClientFor } from '../connections.js';
import type { HistoryEvent } from './history.js';

export type RuntimeStatus =
  | 'Pending'
  | 'Running'
  | 'Completed'
  | 'ContinuedAsNew'
  | 'Failed'
  | 'Terminated'
  | 'Suspended'
  | 'Canceled';

export const TERMINAL: ReadonlySet<RuntimeStatus> = new Set([
  'Completed',
  'Failed',
  'Terminated',
  'Canceled',
]);

export interface ParentLink {
  instanceId: string;
  executionId: string;
  taskScheduledId: number;
  name: string;
}

export interface InstanceRecord {
  instanceId: string;
  name: string;
  executionId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  parent: ParentLink | null;
  version: string;
  /** Committed episodes of the current execution (rows H|executionId|1…episodes). */
  episodes: number;
}

export interface CommittedAction {
  sig: string;
  /** Sequence id, for actions that consume one (activities, sub-orchestrations, timers). */
  id?: number;
}

export interface EpisodeRow {
  events: HistoryEvent[];
  actions: CommittedAction[];
  canceledTimers: number[];
}

export interface InboxMessage {
  /** Set for completions that belong to one execution; raised events (no executionId) follow continueAsNew. */
  executionId?: string;
  event: HistoryEvent;
}

export interface StoredMessage extends InboxMessage {
  key: string;
}

const CHUNK = 30_000; // UTF-16 chars per string property (64 KiB limit)
const MAX_CHUNKS = 15; // keeps an entity under the 1 MiB limit
const RECORD_KEY = '$instance';

/** A row would exceed what one Table entity holds: deterministic, so retrying the write can never succeed. */
export class PayloadTooLargeError extends Error {}

function pack(json: string, what: string): Record<string, string | number> {
  const chunks = Math.max(1, Math.ceil(json.length / CHUNK));
  if (chunks > MAX_CHUNKS) {
    throw new PayloadTooLargeError(
      `${what} is ${json.length} characters of JSON; the local durable store holds at most ${CHUNK * MAX_CHUNKS} per ` +
        'row. Pass large payloads by reference (e.g. a blob name) instead of as orchestration data.',
    );
  }
  const props: Record<string, string | number> = { DN: chunks };
  for (let i = 0; i < chunks; i++) props[`D${i}`] = json.slice(i * CHUNK, (i + 1) * CHUNK);
  return props;
}

function unpack<T>(entity: Record<string, unknown>): T {
  const n = Number(entity.DN ?? 0);
  let json = '';
  for (let i = 0; i < n; i++) json += String(entity[`D${i}`] ?? '');
  return JSON.parse(json) as T;
}

/** PartitionKey may not contain / \ # ? or control characters; escape them (and %) as %XX. */
export function partitionKeyOf(instanceId: string): string {
  let out = '';
  for (const c of instanceId) {
    const code = c.charCodeAt(0);
    const forbidden = '%/\\#?'.includes(c) || code < 0x20 || (code >= 0x7f && code <= 0x9f);
    out += forbidden ? `%${code.toString(16).padStart(2, '0').toUpperCase()}` : c;
  }
  return out;
}

export function episodeKey(executionId: string, index: number): string {
  return `H|${executionId}|${String(index).padStart(6, '0')}`;
}

let lastStamp = 0;
let counter = 0;
/** Inbox keys sort by arrival, also across host restarts (wall clock, not the virtual clock). */
function nextMessageKey(): string {
  const stamp = Date.now();
  counter = stamp === lastStamp ? counter + 1 : 0;
  lastStamp = stamp;
  return `M|${String(stamp).padStart(15, '0')}${String(counter).padStart(6, '0')}`;
}

export interface PartitionState {
  record: InstanceRecord | undefined;
  episodes: EpisodeRow[];
  messages: StoredMessage[];
  /** Rows of earlier executions (left behind by continueAsNew) that can be deleted. */
  staleKeys: string[];
}

export interface CommitOptions {
  record: InstanceRecord;
  episode?: { index: number; row: EpisodeRow };
  addMessages?: InboxMessage[];
  deleteMessages?: string[];
}

export class DurableStore {
  private constructor(readonly table: TableClient) {}

  static async open(connection: StorageConnection, taskHub: string): Promise<DurableStore> {
    if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(taskHub)) {
      throw new Error(
        `Task hub name "${taskHub}" is invalid: use 3–45 letters and digits, starting with a letter ` +
          '(host.json extensions.durableTask.hubName).',
      );
    }
    const table = tableClientFor(connection, `${taskHub}Instances`);
    try {
      await table.createTable();
    } catch (error) {
      throw new Error(
        `Cannot create or open table "${taskHub}Instances" with the storage connection "${connection.name}": ` +
          `${(error as Error).message}. Is Azurite (or the storage account) running, and is its CA trusted ` +
          '(NODE_EXTRA_CA_CERTS)? An identity-based connection also needs a token for it.',
      );
    }
    return new DurableStore(table);
  }

  async listRecords(): Promise<InstanceRecord[]> {
    const out: InstanceRecord[] = [];
    const rows = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `RowKey eq '${RECORD_KEY}'` },
    });
    for await (const row of rows) out.push(unpack<InstanceRecord>(row));
    return out;
  }

  async readRecord(instanceId: string): Promise<InstanceRecord | undefined> {
    try {
      const row = await this.table.getEntity<Record<string, unknown>>(partitionKeyOf(instanceId), RECORD_KEY);
      return unpack<InstanceRecord>(row);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async loadPartition(instanceId: string): Promise<PartitionState> {
    const pk = partitionKeyOf(instanceId);
    const rows: Record<string, unknown>[] = [];
    for await (const row of this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${pk.replace(/'/g, "''")}'` },
    })) {
      rows.push(row);
    }
    rows.sort((a, b) => (String(a.rowKey) < String(b.rowKey) ? -1 : 1));
    const recordRow = rows.find((r) => r.rowKey === RECORD_KEY);
    const record = recordRow ? unpack<InstanceRecord>(recordRow) : undefined;
    const episodes: EpisodeRow[] = [];
    const messages: StoredMessage[] = [];
    const staleKeys: string[] = [];
    for (const row of rows) {
      const key = String(row.rowKey);
      if (key.startsWith('H|')) {
        const [, executionId, index] = key.split('|');
        // Rows beyond `episodes` cannot exist (commits are transactions); other executions are stale.
        if (record && executionId === record.executionId && Number(index) <= record.episodes) {
          episodes.push(unpack<EpisodeRow>(row));
        } else {
          staleKeys.push(key);
        }
      } else if (key.startsWith('M|')) {
        messages.push({ key, ...unpack<InboxMessage>(row) });
      }
    }
    return { record, episodes, messages, staleKeys };
  }

  /** Writes a new inbox row (durable before anyone acts on it). */
  async addMessage(instanceId: string, message: InboxMessage): Promise<string> {
    const key = nextMessageKey();
    await this.table.createEntity({
      partitionKey: partitionKeyOf(instanceId),
      rowKey: key,
      ...pack(JSON.stringify(message), `Event for instance "${instanceId}"`),
    });
    return key;
  }

  /** One atomic transaction: episode row, record, new and consumed inbox rows. */
  async commit(options: CommitOptions): Promise<string[]> {
    const pk = partitionKeyOf(options.record.instanceId);
    const actions: TransactionAction[] = [];
    const addedKeys: string[] = [];
    if (options.episode) {
      actions.push([
        'upsert',
        {
          partitionKey: pk,
          rowKey: episodeKey(options.record.executionId, options.episode.index),
          ...pack(
            JSON.stringify(options.episode.row),
            `An episode of instance "${options.record.instanceId}"`,
          ),
        },
        'Replace',
      ]);
    }
    actions.push(['upsert', this.recordEntity(options.record), 'Replace']);
    for (const message of options.addMessages ?? []) {
      const key = nextMessageKey();
      addedKeys.push(key);
      actions.push([
        'create',
        { partitionKey: pk, rowKey: key, ...pack(JSON.stringify(message), 'An inbox event') },
      ]);
    }
    const deletes = [...(options.deleteMessages ?? [])];
    // An entity-group transaction holds at most 100 operations; consumed rows beyond that are deleted
    // afterwards (a crash in between only leaves rows that recovery recognises as already applied).
    const inTransaction = deletes.splice(0, Math.max(0, 100 - actions.length));
    for (const key of inTransaction) actions.push(['delete', { partitionKey: pk, rowKey: key }]);
    await this.table.submitTransaction(actions);
    await this.deleteRows(options.record.instanceId, deletes);
    return addedKeys;
  }

  async writeRecord(record: InstanceRecord): Promise<void> {
    await this.table.upsertEntity(this.recordEntity(record), 'Replace');
  }

  async deleteRows(instanceId: string, rowKeys: string[]): Promise<void> {
    const pk = partitionKeyOf(instanceId);
    for (let i = 0; i < rowKeys.length; i += 100) {
      const batch = rowKeys
        .slice(i, i + 100)
        .map((rowKey): TransactionAction => ['delete', { partitionKey: pk, rowKey }]);
      try {
        await this.table.submitTransaction(batch);
      } catch {
        // A row already gone fails the whole batch; fall back to one by one, ignoring 404s.
        for (const [, entity] of batch) {
          await this.table
            .deleteEntity(pk, (entity as TableEntity).rowKey)
            .catch((e: { statusCode?: number }) => {
              if (e.statusCode !== 404) throw e;
            });
        }
      }
    }
  }

  /** Deletes everything stored for the instance (record, history, inbox). */
  async purge(instanceId: string): Promise<void> {
    const pk = partitionKeyOf(instanceId);
    const keys: string[] = [];
    for await (const row of this.table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${pk.replace(/'/g, "''")}'`, select: ['RowKey'] },
    })) {
      keys.push(String(row.rowKey));
    }
    await this.deleteRows(instanceId, keys);
  }

  private recordEntity(record: InstanceRecord): TableEntity {
    return {
      partitionKey: partitionKeyOf(record.instanceId),
      rowKey: RECORD_KEY,
      // Scalar copies make the table readable in Storage Explorer; the JSON is the source of truth.
      Name: record.name,
      RuntimeStatus: record.runtimeStatus,
      CreatedTime: record.createdTime,
      ...pack(JSON.stringify(record), `Instance "${record.instanceId}" (input/output/custom status)`),
    };
  }
}
