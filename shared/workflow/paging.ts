/**
 * Pages of orchestration instances, newest first, without loading every instance in the task hub.
 *
 * `DurableClient.getStatusBy` follows the Durable HTTP API's `x-ms-continuation-token` itself and returns every
 * match of its filter, and the filter knows only created-time bounds and runtime statuses. So a page is built
 * from consecutive created-time slices, newest first, each one a `getStatusBy` call: the first slice is short
 * and each next one several times longer, until the page is full (with one instance to spare, so the page
 * knows whether more exist) or the window is exhausted. Memory is bounded by the instances of the slices a
 * page needs, never by the task hub.
 *
 * Ordering is by created time to the second, then instance id, both descending: the Durable HTTP API reports
 * `createdTime` to the second (`ToString("s") + "Z"` in the extension's HttpApiHandler.cs, ConvertFrom), so
 * instances created in the same second are common and only the id tells them apart. The cursor is the last
 * instance returned: the next page queries up to the end of that instance's second (the task hub filters on
 * the full-precision time) and skips what sorts at or before the cursor. Slice boundaries fall on whole
 * seconds, so one second is never split between a loaded and an unloaded slice; boundaries are inclusive at
 * both ends (as the Azure Storage provider's `ge`/`le` filter is), and an instance on one is seen twice and
 * kept once.
 */

/** What paging reads of an instance; `DurableOrchestrationStatus` has it. */
export interface InstanceRef {
  readonly instanceId: string;
  readonly createdTime: Date | string;
}

export interface CreatedTimeFilter {
  readonly createdTimeFrom: Date;
  readonly createdTimeTo?: Date;
}

/** One `getStatusBy` call; the caller adds its own runtime-status filter. */
export type StatusQuery<T extends InstanceRef> = (filter: CreatedTimeFilter) => Promise<readonly T[]>;

/** The last instance a page returned: the next page continues after it. */
export interface PageCursor {
  /** Its created time, whole seconds, ISO 8601. */
  readonly createdTime: string;
  readonly instanceId: string;
}

export interface PageRequest<T extends InstanceRef> {
  /** Inclusive lower bound of the window. */
  readonly from: Date;
  /** Inclusive upper bound; undefined = no upper bound. */
  readonly to?: Date;
  /** Continue after this instance (from the previous page). */
  readonly after?: PageCursor;
  /** Most instances per page. */
  readonly limit: number;
  /** Which instances belong in the listing (e.g. one orchestration name). */
  readonly accept?: (instance: T) => boolean;
  /** Reference time for the first slice when there is no upper bound. */
  readonly now: Date;
}

export interface Page<T extends InstanceRef> {
  readonly items: T[];
  /** Set when more instances may follow. */
  readonly next: PageCursor | undefined;
  /** Instances the queries returned, accepted or not: what the page cost in memory. */
  readonly loaded: number;
  readonly queries: number;
}

export interface SliceOptions {
  /** Length of the first slice; default 15 minutes. */
  readonly firstSliceMs?: number;
  /** Each next slice is this many times longer; default 4. */
  readonly growth?: number;
}

const SECOND = 1000;
const floorSecond = (ms: number) => Math.floor(ms / SECOND) * SECOND;
const secondOf = (instance: InstanceRef) => floorSecond(new Date(instance.createdTime).getTime());

/** Newest first: created second descending, then instance id descending (ordinal). */
export function compareNewestFirst(a: InstanceRef, b: InstanceRef): number {
  const bySecond = secondOf(b) - secondOf(a);
  if (bySecond !== 0) return bySecond;
  return a.instanceId < b.instanceId ? 1 : a.instanceId > b.instanceId ? -1 : 0;
}

function cursorOf(instance: InstanceRef): PageCursor {
  return { createdTime: new Date(secondOf(instance)).toISOString(), instanceId: instance.instanceId };
}

/** True when `instance` sorts strictly after the cursor, i.e. belongs to a later page. */
function isAfter(instance: InstanceRef, cursor: PageCursor): boolean {
  return compareNewestFirst(cursorRef(cursor), instance) < 0;
}

const cursorRef = (cursor: PageCursor): InstanceRef => ({
  instanceId: cursor.instanceId,
  createdTime: cursor.createdTime,
});

/** The inclusive upper bound of the first slice: the request's, tightened to the cursor's second. */
function firstUpperBound(request: Pick<PageRequest<InstanceRef>, 'after' | 'to'>): number | undefined {
  const cursorEnd = request.after ? Date.parse(request.after.createdTime) + SECOND : undefined;
  const to = request.to?.getTime();
  if (cursorEnd === undefined) return to;
  return to === undefined ? cursorEnd : Math.min(to, cursorEnd);
}

/** One page, newest first, of the instances created in the request's window. */
export async function pageByCreatedTime<T extends InstanceRef>(
  query: StatusQuery<T>,
  request: PageRequest<T>,
  options: SliceOptions = {},
): Promise<Page<T>> {
  const fromMs = request.from.getTime();
  const growth = options.growth ?? 4;
  let span = options.firstSliceMs ?? 15 * 60 * SECOND;
  let hi = firstUpperBound(request);
  const kept = new Map<string, T>();
  let loaded = 0;
  let queries = 0;
  let exhausted = hi !== undefined && hi < fromMs;

  while (!exhausted) {
    const lo = Math.max(fromMs, floorSecond((hi ?? request.now.getTime()) - span));
    const rows = await query({
      createdTimeFrom: new Date(lo),
      ...(hi !== undefined ? { createdTimeTo: new Date(hi) } : {}),
    });
    queries += 1;
    loaded += rows.length;
    for (const row of rows) {
      if (request.after && !isAfter(row, request.after)) continue;
      if (request.accept && !request.accept(row)) continue;
      kept.set(row.instanceId, row);
    }
    exhausted = lo <= fromMs;
    // Every unloaded instance is older than `lo`, a whole second, so it sorts after everything kept.
    if (kept.size > request.limit) break;
    hi = lo;
    span *= growth;
  }

  const sorted = [...kept.values()].sort(compareNewestFirst);
  const items = sorted.slice(0, request.limit);
  const last = items.at(-1);
  // The loop ends with one instance to spare, or with the window exhausted.
  return { items, next: sorted.length > request.limit && last ? cursorOf(last) : undefined, loaded, queries };
}
