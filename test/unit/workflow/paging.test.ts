/**
 * Unit tests of `shared/workflow/paging.ts`: pageByCreatedTime.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../../local/standins/samples.js';
import {
  compareNewestFirst,
  type InstanceRef,
  type PageCursor,
  type PageRequest,
  pageByCreatedTime,
  type StatusQuery,
} from '../../../shared/workflow/paging.js';

interface Row extends InstanceRef {
  name: string;
}

interface Stored {
  instanceId: string;
  name: string;
  /** Full precision, as the task hub stores it. */
  createdMs: number;
}

/**
 * `getStatusBy` as the Azure Storage provider answers it: both bounds inclusive on the full-precision
 * created time (OrchestrationInstanceStatusQueryCondition: `ge` / `le`), rows in instance-id order (the
 * Instances table's partition key), `createdTime` reported to the second (HttpApiHandler `ToString("s")`).
 */
function taskHub(stored: Stored[]) {
  const calls: { from: number; to: number | undefined; returned: number }[] = [];
  const query: StatusQuery<Row> = async ({ createdTimeFrom, createdTimeTo }) => {
    const from = createdTimeFrom.getTime();
    const to = createdTimeTo?.getTime();
    const rows = stored
      .filter((s) => s.createdMs >= from && (to === undefined || s.createdMs <= to))
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1))
      .map((s) => ({
        instanceId: s.instanceId,
        name: s.name,
        createdTime: new Date(Math.floor(s.createdMs / 1000) * 1000),
      }));
    calls.push({ from, to, returned: rows.length });
    return rows;
  };
  return { query, calls };
}

const NOW = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3_600_000;

async function allPages(
  query: StatusQuery<Row>,
  request: Omit<PageRequest<Row>, 'after'>,
): Promise<{ pages: Row[][]; cursors: PageCursor[] }> {
  const pages: Row[][] = [];
  const cursors: PageCursor[] = [];
  let after: PageCursor | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await pageByCreatedTime(query, { ...request, ...(after ? { after } : {}) });
    pages.push(page.items);
    if (!page.next) return { pages, cursors };
    cursors.push(page.next);
    after = page.next;
  }
  throw new Error('paging did not end');
}

function expectedOrder(stored: Stored[], from: number, to?: number, name?: string): string[] {
  return stored
    .filter((s) => s.createdMs >= from && (to === undefined || s.createdMs <= to))
    .filter((s) => name === undefined || s.name === name)
    .map((s) => ({ instanceId: s.instanceId, createdTime: new Date(s.createdMs) }))
    .sort(compareNewestFirst)
    .map((s) => s.instanceId);
}

describe('pageByCreatedTime', () => {
  it('lists every instance once, newest first, when many share a second and slices split seconds apart', async () => {
    // 40 instances in three seconds (sub-second times, ids in no relation to time), and a few older ones
    // exactly on whole-second and slice boundaries.
    const random = prng(7);
    const stored: Stored[] = [];
    for (let i = 0; i < 40; i++) {
      stored.push({
        instanceId: `m-${Math.floor(random() * 1e9).toString(36)}-${i}`,
        name: 'matchFile',
        createdMs: NOW - HOUR + Math.floor(random() * 3000),
      });
    }
    for (const ms of [NOW - 2 * HOUR, NOW - 2 * HOUR - 15 * 60_000, NOW - 5 * HOUR, NOW - 5 * HOUR + 999]) {
      stored.push({ instanceId: `edge-${ms}`, name: 'matchFile', createdMs: ms });
    }
    const { query } = taskHub(stored);
    const from = new Date(NOW - 24 * HOUR);
    for (const limit of [1, 3, 7, 50]) {
      const { pages } = await allPages(query, { from, limit, now: new Date(NOW) });
      expect(pages.flat().map((r) => r.instanceId)).toEqual(expectedOrder(stored, from.getTime()));
      expect(pages.slice(0, -1).every((page) => page.length === limit)).toBe(true);
    }
  });

  it('never ends a slice inside a second, where an unloaded instance could sort before the cursor', async () => {
    // A first slice of 9.5 s would start half-way through second S. Unaligned, it would load A and X but not
    // B, cut the page after A, and B (same second, higher id) would then sort before the cursor and be lost.
    const S = NOW - 10_000;
    const stored: Stored[] = [
      { instanceId: 'n', name: 'matchFile', createdMs: NOW - 1000 },
      { instanceId: 'a', name: 'matchFile', createdMs: S + 900 },
      { instanceId: '0', name: 'matchFile', createdMs: S + 700 },
      { instanceId: 'b', name: 'matchFile', createdMs: S + 100 },
    ];
    const { query } = taskHub(stored);
    const pages: string[][] = [];
    let after: PageCursor | undefined;
    do {
      const page = await pageByCreatedTime(
        query,
        { from: new Date(NOW - HOUR), limit: 2, now: new Date(NOW), ...(after ? { after } : {}) },
        { firstSliceMs: 9500 },
      );
      pages.push(page.items.map((r) => r.instanceId));
      after = page.next;
    } while (after);
    expect(pages).toEqual([
      ['n', 'b'],
      ['a', '0'],
    ]);
  });

  it('agrees with a full listing on random task hubs, windows and page sizes', async () => {
    for (let seed = 1; seed <= 25; seed++) {
      const random = prng(seed);
      const stored: Stored[] = Array.from({ length: 1 + Math.floor(random() * 120) }, (_, i) => ({
        instanceId: `${random() < 0.5 ? 'match' : 'list'}-${i.toString(16)}-${Math.floor(random() * 1e6)}`,
        name: random() < 0.8 ? 'matchFile' : 'listStorages',
        // Bursts: a few distinct seconds carry most instances.
        createdMs:
          random() < 0.5
            ? NOW - Math.floor(random() * 6) * 37_000 - Math.floor(random() * 1000)
            : NOW - Math.floor(random() * 10 * 24 * HOUR),
      }));
      const from = NOW - Math.floor(random() * 12 * 24 * HOUR);
      const to = random() < 0.5 ? undefined : NOW - Math.floor(random() * HOUR);
      const limit = 1 + Math.floor(random() * 10);
      const { query } = taskHub(stored);
      const { pages } = await allPages(query, {
        from: new Date(from),
        ...(to !== undefined ? { to: new Date(to) } : {}),
        limit,
        accept: (r) => r.name === 'matchFile',
        now: new Date(NOW),
      });
      expect(
        pages.flat().map((r) => r.instanceId),
        `seed ${seed}`,
      ).toEqual(expectedOrder(stored, from, to, 'matchFile'));
    }
  });

  it('loads the slices a page needs, not the whole window', async () => {
    // 30 days of matches, one every 4 minutes: 10,800 instances.
    const stored: Stored[] = Array.from({ length: 10_800 }, (_, i) => ({
      instanceId: `match-${i}`,
      name: 'matchFile',
      createdMs: NOW - i * 240_000,
    }));
    const { query, calls } = taskHub(stored);
    const page = await pageByCreatedTime(query, {
      from: new Date(NOW - 30 * 24 * HOUR),
      limit: 50,
      now: new Date(NOW),
    });
    expect(page.items.map((r) => r.instanceId)).toEqual(stored.slice(0, 50).map((s) => s.instanceId));
    // Slices of 15 min, 1 h and 4 h (15 instances an hour): the 51st instance is in the third.
    expect(calls.map((c) => c.to === undefined)).toEqual([true, false, false]);
    expect(page.queries).toBe(3);
    expect(page.loaded).toBe(calls.reduce((sum, c) => sum + c.returned, 0));
    expect(page.loaded).toBeLessThan(100);
    expect(page.next).toEqual({
      createdTime: new Date(stored[49]!.createdMs).toISOString(),
      instanceId: 'match-49',
    });
  });

  it('keeps the window: inclusive bounds, and nothing newer than the cursor second', async () => {
    const stored: Stored[] = [
      { instanceId: 'a', name: 'matchFile', createdMs: NOW - 10_000 },
      { instanceId: 'b', name: 'matchFile', createdMs: NOW - 20_000 },
      { instanceId: 'c', name: 'matchFile', createdMs: NOW - 30_000 },
      { instanceId: 'd', name: 'matchFile', createdMs: NOW - 40_000 },
    ];
    const { query } = taskHub(stored);
    const page = await pageByCreatedTime(query, {
      from: new Date(NOW - 30_000),
      to: new Date(NOW - 20_000),
      limit: 10,
      now: new Date(NOW),
    });
    expect(page.items.map((r) => r.instanceId)).toEqual(['b', 'c']);
    expect(page.next).toBeUndefined();

    const afterA = await pageByCreatedTime(query, {
      from: new Date(NOW - HOUR),
      after: { createdTime: new Date(NOW - 10_000).toISOString(), instanceId: 'a' },
      limit: 1,
      now: new Date(NOW),
    });
    expect(afterA.items.map((r) => r.instanceId)).toEqual(['b']);
    expect(afterA.next?.instanceId).toBe('b');
  });

  it('ends without a cursor when the last page is exactly full', async () => {
    const stored = ['x', 'y'].map((id, i) => ({
      instanceId: id,
      name: 'matchFile',
      createdMs: NOW - i * 1000,
    }));
    const { query } = taskHub(stored);
    const page = await pageByCreatedTime(query, { from: new Date(NOW - HOUR), limit: 2, now: new Date(NOW) });
    expect(page.items).toHaveLength(2);
    expect(page.next).toBeUndefined();
  });
});
