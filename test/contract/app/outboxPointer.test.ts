// The shared `latest.json` pointer against Azurite's real conditional writes: runs of one name racing to point
// at themselves converge on the newest whatever order they finish in, an older run never moves it back, the
// same run may write it again, and something that is not a pointer is replaced.
import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createMatchActivities } from '../../../shared/activities/match.js';
import { MAX_POINTER_BYTES, recordLatestRun } from '../../../shared/outbox.js';
import type { Services } from '../../../shared/services.js';
import {
  type LatestRunDocument,
  latestBlobName,
  outboxLocationFor,
} from '../../../shared/workflow/outboxNames.js';
import type { DeliverResultsInput, MatchSource } from '../../../shared/workflow/types.js';
import { sampleMatchInput } from '../../support/matchInput.js';

const stack = inject('stack');
const outbox = BlobServiceClient.fromConnectionString(stack.storageConnectionString).getContainerClient(
  `pointer-${randomUUID().slice(0, 8)}`,
);

beforeAll(async () => {
  await outbox.createIfNotExists();
});

const source: MatchSource = { kind: 'inbox', container: 'inbox', blobName: 'roads.parquet' };
const run = (n: number) => ({
  source,
  run: `match-${String(n).padStart(2, '0')}`,
  requestedAt: new Date(Date.UTC(2026, 1, 18, 10, 0, n)).toISOString(),
  outcome: 'succeeded' as const,
  outputs: { summary: `k/match-${n}/summary.json` },
});

async function readPointer(nameKey: string): Promise<{ document: LatestRunDocument; etag: string }> {
  const blob = outbox.getBlobClient(latestBlobName(nameKey));
  const bytes = await blob.downloadToBuffer();
  return { document: JSON.parse(bytes.toString('utf8')), etag: (await blob.getProperties()).etag ?? '' };
}

describe('recordLatestRun against Azurite', () => {
  it('twelve runs racing in random order leave the newest in latest.json', async () => {
    for (let round = 0; round < 3; round++) {
      const nameKey = `race-${round}-${randomUUID().slice(0, 8)}`;
      const runs = Array.from({ length: 12 }, (_, i) => run(i)).sort(() => Math.random() - 0.5);
      const outcomes = await Promise.all(runs.map((r) => recordLatestRun(outbox, nameKey, r)));
      expect((await readPointer(nameKey)).document).toMatchObject({ run: 'match-11', version: 1 });
      expect(outcomes).toContain('written');
    }
  });

  it('an older run never moves it back; the same run may write it again', async () => {
    const nameKey = `order-${randomUUID().slice(0, 8)}`;
    expect(await recordLatestRun(outbox, nameKey, run(5))).toBe('written');
    const before = await readPointer(nameKey);
    expect(await recordLatestRun(outbox, nameKey, run(4))).toBe('newer-kept');
    expect(await readPointer(nameKey)).toEqual(before);
    expect(await recordLatestRun(outbox, nameKey, run(5))).toBe('written');
    expect((await readPointer(nameKey)).document).toEqual(before.document);
    expect(await recordLatestRun(outbox, nameKey, run(6))).toBe('written');
    expect((await readPointer(nameKey)).document.run).toBe('match-06');
  });

  it('replaces what is not a pointer: not JSON, or larger than a pointer can be', async () => {
    for (const junk of ['not json', 'x'.repeat(MAX_POINTER_BYTES + 1)]) {
      const nameKey = `junk-${randomUUID().slice(0, 8)}`;
      await outbox.getBlockBlobClient(latestBlobName(nameKey)).upload(junk, junk.length);
      expect(await recordLatestRun(outbox, nameKey, run(1))).toBe('written');
      expect((await readPointer(nameKey)).document.run).toBe('match-01');
    }
  });
});

describe('deliverResults of two runs of one name, the older finishing last', () => {
  it('keeps each run’s document in its own folder and latest.json at the newer run', async () => {
    const activities = createMatchActivities({ outbox, tomtom: {} } as unknown as Services);
    const input = (instanceId: string, requestedAt: string): DeliverResultsInput => ({
      request: sampleMatchInput({ source, outbox: outboxLocationFor(source, instanceId), requestedAt }),
      instanceId,
      pdgFilename: 'roads-abc.parquet',
      jobId: 7,
      poll: null,
      timedOut: true,
      lastGemStatus: 'IN_PROGRESS',
      deadline: '2026-02-20T10:00:00Z',
      startedAt: requestedAt,
      submittedAt: requestedAt,
      polls: 3,
      finishedAt: '2026-02-20T10:00:07Z',
    });
    const older = input(`match-old-${randomUUID().slice(0, 8)}`, '2026-02-18T10:00:00.000Z');
    const newer = input(`match-new-${randomUUID().slice(0, 8)}`, '2026-02-18T10:05:00.000Z');
    const newerResult = await activities.deliverResults(newer);
    const olderResult = await activities.deliverResults(older);
    expect(olderResult.summaryBlob).not.toBe(newerResult.summaryBlob);
    const read = async (name: string) =>
      JSON.parse((await outbox.getBlobClient(name).downloadToBuffer()).toString('utf8'));
    expect((await read(olderResult.summaryBlob)).instanceId).toBe(older.instanceId);
    expect((await read(newerResult.summaryBlob)).instanceId).toBe(newer.instanceId);
    expect((await readPointer(newer.request.outbox.nameKey)).document).toMatchObject({
      run: newer.instanceId,
      outputs: { error: newerResult.summaryBlob },
    });
  });
});
