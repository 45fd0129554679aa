/**
 * Unit tests of `shared/workflow/retention.ts`: retireBatch; inboxFileOf and retentionCutoff.
 */
import { describe, expect, it, vi } from 'vitest';
import type { ArchiveOutcome, InboxFileVersion } from '../../../shared/workflow/archive.js';
import {
  inboxFileOf,
  type RetainableInstance,
  type RetentionTaskHub,
  retentionCutoff,
  retireBatch,
} from '../../../shared/workflow/retention.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T03:00:00Z');
const CUTOFF = new Date(NOW - 30 * DAY).toISOString();

interface Instance extends RetainableInstance {
  createdMs: number;
}

const inboxInput = (blobName: string, etag: string) => ({
  request: { source: { kind: 'inbox', container: 'inbox', blobName, etag } },
  policy: {},
});

function instance(
  instanceId: string,
  daysAgo: number,
  runtimeStatus: string,
  input: unknown = inboxInput(`${instanceId}.parquet`, `0x${instanceId}`),
  name = 'matchFile',
): Instance {
  const createdMs = NOW - daysAgo * DAY;
  return { instanceId, name, runtimeStatus, input, createdMs, createdTime: new Date(createdMs) };
}

/** A task hub with getStatusBy's filter semantics and per-id purge, recording the order of what happens. */
function fakeHub(instances: Instance[]) {
  const live = new Map(instances.map((i) => [i.instanceId, i]));
  const events: string[] = [];
  const FINISHED = ['Completed', 'Failed', 'Terminated', 'Canceled'];
  const hub: RetentionTaskHub<Instance> = {
    listFinished: async ({ createdTimeFrom, createdTimeTo }) =>
      [...live.values()].filter(
        (i) =>
          FINISHED.includes(i.runtimeStatus) &&
          i.createdMs >= createdTimeFrom.getTime() &&
          (!createdTimeTo || i.createdMs <= createdTimeTo.getTime()),
      ),
    listActive: async () => [...live.values()].filter((i) => !FINISHED.includes(i.runtimeStatus)),
    status: async (id) => live.get(id),
    purge: async (id) => {
      events.push(`purge ${id}`);
      live.delete(id);
    },
  };
  const archive = vi.fn(async (file: InboxFileVersion): Promise<ArchiveOutcome> => {
    events.push(`archive ${file.blobName}`);
    return 'archived';
  });
  return { hub, live, events, archive };
}

const run = (hub: RetentionTaskHub<Instance>, archive: (f: InboxFileVersion) => Promise<ArchiveOutcome>) =>
  retireBatch(hub, archive, { cutoff: CUTOFF, orchestrationName: 'matchFile' });

describe('retireBatch', () => {
  it('purges finished matches older than the cutoff, each only after its inbox file is archived', async () => {
    const { hub, live, events, archive } = fakeHub([
      instance('old-done', 45, 'Completed'),
      instance('old-failed', 31, 'Failed'),
      instance('old-cancelled', 90, 'Terminated'),
      instance('young-done', 10, 'Completed'),
      instance('old-pdg', 60, 'Completed', { request: { source: { kind: 'pdg', filename: 'x.parquet' } } }),
      instance('old-inventory', 60, 'Completed', {}, 'listStorages'),
    ]);
    const result = await run(hub, archive);
    expect([...live.keys()].sort()).toEqual(['old-inventory', 'young-done']);
    expect(result.counts).toMatchObject({ examined: 4, purged: 4, archived: 3, withoutInboxFile: 1 });
    for (const id of ['old-done', 'old-failed', 'old-cancelled']) {
      expect(events.indexOf(`archive ${id}.parquet`)).toBeLessThan(events.indexOf(`purge ${id}`));
    }
    expect(result.next).toBeUndefined();
  });

  it('never purges a running match, even one listed as finished a moment before', async () => {
    const stale = instance('restarted', 40, 'Completed');
    const { hub, live, archive } = fakeHub([stale, instance('running-old', 40, 'Running')]);
    // Between the listing and the purge the instance became active again.
    hub.status = async (id) => (id === 'restarted' ? { ...stale, runtimeStatus: 'Running' } : live.get(id));
    const result = await run(hub, archive);
    expect(live.has('restarted')).toBe(true);
    expect(live.has('running-old')).toBe(true);
    expect(archive).not.toHaveBeenCalled();
    expect(result.counts).toMatchObject({ purged: 0, keptActive: 1 });
    expect(result.kept).toEqual([{ instanceId: 'restarted', reason: 'still Running' }]);
  });

  it('keeps a finished match whose inbox file a running match (another idempotency key) still reads', async () => {
    const shared = inboxInput('shared.parquet', '0xabc');
    const { hub, live, archive } = fakeHub([
      instance('first-run', 40, 'Completed', shared),
      instance('re-run', 1, 'Running', shared),
    ]);
    const result = await run(hub, archive);
    expect(live.has('first-run')).toBe(true);
    expect(archive).not.toHaveBeenCalled();
    expect(result.counts.keptInputInUse).toBe(1);
  });

  it('keeps a match whose file could not be archived, and carries on with the others', async () => {
    const { hub, live, archive } = fakeHub([instance('a', 40, 'Completed'), instance('b', 41, 'Completed')]);
    archive.mockRejectedValueOnce(new Error('archive container missing'));
    const result = await run(hub, archive);
    expect([...live.keys()]).toEqual(['a']);
    expect(result.counts).toMatchObject({ purged: 1, keptArchiveFailed: 1 });
    expect(result.kept).toEqual([{ instanceId: 'a', reason: 'archive container missing' }]);
  });

  it('does no harm when run again: nothing left to purge, nothing archived twice', async () => {
    const { hub, live, archive } = fakeHub([instance('a', 40, 'Completed'), instance('b', 5, 'Completed')]);
    await run(hub, archive);
    const again = await run(hub, archive);
    expect(again.counts).toMatchObject({ examined: 0, purged: 0 });
    expect(archive).toHaveBeenCalledTimes(1);
    expect([...live.keys()]).toEqual(['b']);
  });

  it('works through a backlog in bounded batches that continue from a cursor', async () => {
    const backlog = Array.from({ length: 250 }, (_, i) => instance(`m-${i}`, 31 + i / 10, 'Completed'));
    const { hub, live, archive } = fakeHub(backlog);
    let after: Awaited<ReturnType<typeof run>>['next'];
    const sizes: number[] = [];
    do {
      const result = await retireBatch(hub, archive, {
        cutoff: CUTOFF,
        orchestrationName: 'matchFile',
        limit: 100,
        ...(after ? { after } : {}),
      });
      sizes.push(result.counts.purged);
      after = result.next;
    } while (after);
    expect(sizes).toEqual([100, 100, 50]);
    expect(live.size).toBe(0);
  });
});

describe('inboxFileOf and retentionCutoff', () => {
  it('reads the inbox file version from a matchFile input, and nothing else', () => {
    expect(inboxFileOf(inboxInput('a/b.parquet', '0x1'))).toEqual({
      container: 'inbox',
      blobName: 'a/b.parquet',
      etag: '0x1',
    });
    expect(inboxFileOf({ request: { source: { kind: 'pdg', filename: 'x' } } })).toBeUndefined();
    expect(
      inboxFileOf({ request: { source: { kind: 'inbox', container: 'inbox', blobName: 'x' } } }),
    ).toBeUndefined();
    expect(inboxFileOf(null)).toBeUndefined();
    expect(inboxFileOf('text')).toBeUndefined();
  });

  it('counts days back from now, fractions included', () => {
    expect(retentionCutoff(new Date(NOW), 0.5).getTime()).toBe(NOW - DAY / 2);
  });
});
