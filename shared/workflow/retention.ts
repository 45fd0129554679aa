/**
 * Retention: which matches leave the task hub, and in what order things happen so nothing is lost.
 *
 * A match is retired when it finished (Completed, Failed, Terminated) and was created at or before the
 * cutoff (`MATCH_RETENTION_DAYS` before the run). Its inbox file is archived first (shared/workflow/archive.ts)
 * and the instance purged only after that succeeded; a match whose file cannot be archived stays for the
 * next run. Never retired: a match that is still active (its status is read again just before the purge,
 * because purging by id purges whatever the status: durabletask's AzureTableTrackingStore
 * PurgeInstanceHistoryAsync(instanceId)), and a finished match whose inbox file a running match is still
 * reading (a re-run started with another idempotency key). Outbox documents are never touched.
 *
 * Instances are found a page at a time with `pageByCreatedTime` (never the whole task hub at once), oldest
 * slices last; each batch returns the cursor the next one continues from.
 */
import type { ArchiveOutcome, InboxFileVersion } from './archive.js';
import { type InstanceRef, type PageCursor, pageByCreatedTime, type StatusQuery } from './paging.js';

export const FINISHED_RUNTIME_STATUSES = ['Completed', 'Failed', 'Terminated', 'Canceled'] as const;

/** Matches examined per batch (one activity): bounded work and a small orchestration history. */
export const RETENTION_BATCH_SIZE = 100;
/** Reasons a match was kept, reported per batch; more are only counted. */
const MAX_REPORTED = 20;
const DAY_MS = 86_400_000;

/** What retention reads of an instance; `DurableOrchestrationStatus` has it. */
export interface RetainableInstance extends InstanceRef {
  readonly name: string;
  readonly runtimeStatus: string;
  readonly input?: unknown;
}

export interface RetentionTaskHub<T extends RetainableInstance> {
  /** Finished instances in a created-time window (`getStatusBy` with `FINISHED_RUNTIME_STATUSES`). */
  readonly listFinished: StatusQuery<T>;
  /** Instances still running, with their inputs. */
  listActive(): Promise<readonly T[]>;
  /** The instance as it is now, input included; undefined when it no longer exists. */
  status(instanceId: string): Promise<T | undefined>;
  purge(instanceId: string): Promise<void>;
}

export interface RetentionCounts {
  examined: number;
  purged: number;
  archived: number;
  alreadyArchived: number;
  replaced: number;
  missing: number;
  /** Purged without an inbox file (the match read a file already in PDG storage). */
  withoutInboxFile: number;
  keptActive: number;
  keptInputInUse: number;
  keptArchiveFailed: number;
}

export interface RetireBatchRequest {
  /** Matches created at or before this instant are due. */
  readonly cutoff: string;
  readonly after?: PageCursor;
  readonly limit?: number;
  /** The orchestration whose instances are matches. */
  readonly orchestrationName: string;
}

export interface RetireBatchResult {
  readonly counts: RetentionCounts;
  readonly kept: { instanceId: string; reason: string }[];
  /** Set when more due matches may follow. */
  readonly next: PageCursor | undefined;
}

export const emptyRetentionCounts = (): RetentionCounts => ({
  examined: 0,
  purged: 0,
  archived: 0,
  alreadyArchived: 0,
  replaced: 0,
  missing: 0,
  withoutInboxFile: 0,
  keptActive: 0,
  keptInputInUse: 0,
  keptArchiveFailed: 0,
});

export function addRetentionCounts(a: RetentionCounts, b: RetentionCounts): RetentionCounts {
  const sum = emptyRetentionCounts();
  for (const key of Object.keys(sum) as (keyof RetentionCounts)[]) sum[key] = a[key] + b[key];
  return sum;
}

/** The instant before which finished matches are due, `days` before `now`. */
export function retentionCutoff(now: Date, days: number): Date {
  return new Date(now.getTime() - days * DAY_MS);
}

export function isFinishedRuntimeStatus(status: string): boolean {
  return (FINISHED_RUNTIME_STATUSES as readonly string[]).includes(status);
}

/** The inbox file version a match read, from its orchestration input (`{ request: { source } }`). */
export function inboxFileOf(input: unknown): InboxFileVersion | undefined {
  const source = (input as { request?: { source?: Record<string, unknown> } } | null)?.request?.source;
  if (source?.kind !== 'inbox') return undefined;
  const { container, blobName, etag } = source;
  if (typeof container !== 'string' || typeof blobName !== 'string' || typeof etag !== 'string' || !etag) {
    return undefined;
  }
  return { container, blobName, etag };
}

const fileKey = (file: InboxFileVersion) => [file.container, file.blobName, file.etag].join('\u0000');

/** Why a due match must stay, or undefined when it may go. */
function reasonToKeep(current: RetainableInstance, filesInUse: ReadonlySet<string>): string | undefined {
  if (!isFinishedRuntimeStatus(current.runtimeStatus)) return `still ${current.runtimeStatus}`;
  const file = inboxFileOf(current.input);
  if (file && filesInUse.has(fileKey(file))) return 'its inbox file is the input of a running match';
  return undefined;
}

/** One batch: finds up to `limit` due matches after the cursor, archives their inbox files, purges them. */
export async function retireBatch<T extends RetainableInstance>(
  hub: RetentionTaskHub<T>,
  archive: (file: InboxFileVersion) => Promise<ArchiveOutcome>,
  request: RetireBatchRequest,
): Promise<RetireBatchResult> {
  const cutoff = new Date(request.cutoff);
  const page = await pageByCreatedTime(
    hub.listFinished,
    {
      from: new Date(0),
      to: cutoff,
      ...(request.after ? { after: request.after } : {}),
      limit: request.limit ?? RETENTION_BATCH_SIZE,
      accept: (instance) => instance.name === request.orchestrationName,
      now: cutoff,
    },
    { firstSliceMs: DAY_MS },
  );
  const active = await hub.listActive();
  const filesInUse = new Set(
    active.flatMap((a) => (inboxFileOf(a.input) ? [fileKey(inboxFileOf(a.input)!)] : [])),
  );
  const counts = emptyRetentionCounts();
  const kept: RetireBatchResult['kept'] = [];
  const keep = (instanceId: string, reason: string, counter: keyof RetentionCounts) => {
    counts[counter] += 1;
    if (kept.length < MAX_REPORTED) kept.push({ instanceId, reason });
  };

  for (const listed of page.items) {
    counts.examined += 1;
    const current = await hub.status(listed.instanceId);
    if (!current) continue; // purged meanwhile
    const reason = reasonToKeep(current, filesInUse);
    if (reason) {
      keep(listed.instanceId, reason, reason.startsWith('still') ? 'keptActive' : 'keptInputInUse');
      continue;
    }
    const file = inboxFileOf(current.input);
    if (file) {
      try {
        counts[OUTCOME_COUNTER[await archive(file)]] += 1;
      } catch (error) {
        keep(listed.instanceId, (error as Error)?.message ?? String(error), 'keptArchiveFailed');
        continue;
      }
    } else {
      counts.withoutInboxFile += 1;
    }
    await hub.purge(listed.instanceId);
    counts.purged += 1;
  }
  return { counts, kept, next: page.next };
}

const OUTCOME_COUNTER: Record<ArchiveOutcome, keyof RetentionCounts> = {
  archived: 'archived',
  'already-archived': 'alreadyArchived',
  replaced: 'replaced',
  missing: 'missing',
};
