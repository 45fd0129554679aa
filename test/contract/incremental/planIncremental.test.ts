// The planIncremental activity against Azurite with the real Storage SDK: a GEM Parquet input replaced in the
// inbox by its next version (rows changed, added, deleted), compared with the previous run found through the
// outbox (latest.json, its summary.json), gives a delta of exactly the new and changed rows and the previous
// results of exactly the unchanged ones; a retry reuses the plan; every refusal is a reason, not an error.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { planIncremental } from '../../../shared/activities/planIncremental.js';
import { createGemParquetWriter } from '../../../shared/formats/gemParquet.js';
import type { PreparedInput } from '../../../shared/formats/prepared.js';
import type { MatchInput } from '../../../shared/workflow/types.js';
import { readParquet } from '../../e2e/harness.js';
import { gersId, type HandResult, resultsParquet } from '../../unit/results/support.js';

const stack = inject('stack');
const appBlobs = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
const inbox = appBlobs.getContainerClient(stack.inboxContainer);
const outbox = appBlobs.getContainerClient(stack.outboxContainer);
const services = { appBlobs, outbox };
let tempDir: string;

beforeAll(async () => {
  await inbox.createIfNotExists();
  await outbox.createIfNotExists();
  tempDir = await mkdtemp(join(tmpdir(), 'plan-incremental-'));
});
afterAll(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

interface Road {
  id: string;
  wkt: string;
  navigable: boolean | null;
}

const road = (i: number): Road => ({
  id: `r${i}`,
  wkt: `LINESTRING (${i / 100} 52, ${i / 100 + 0.001} 52.001)`,
  navigable: i % 5 !== 0,
});

/** Uploads a GEM Parquet file of `roads` as the inbox blob `name` and describes it as its own prepared file. */
async function uploadGemParquet(name: string, roads: Road[]): Promise<PreparedInput> {
  const path = join(tempDir, `${randomUUID()}.parquet`);
  const writer = await createGemParquetWriter({ path, withNavigable: true, rowGroupRows: 64 });
  for (const [k, r] of roads.entries()) {
    await writer.write({ id: r.id, wkt: r.wkt, isNavigable: r.navigable, sourceIndex: k, part: 0 });
  }
  const { bytes } = await writer.finish();
  const uploaded = await inbox.getBlockBlobClient(name).uploadData(await readFile(path));
  const file = { container: inbox.containerName, name, etag: uploaded.etag!, byteLength: bytes };
  return {
    format: 'gem-parquet',
    source: { container: file.container, name, etag: file.etag },
    options: { outputFormat: 'geoparquet' },
    layer: null,
    crs: null,
    prepared: file,
    featureCount: roads.length,
    gemRowCount: roads.length,
  };
}

/** One or two result rows per road, as GEM gives matches. */
const resultsFor = (roads: Road[]): HandResult[] =>
  roads.flatMap((r, k) =>
    Array.from({ length: 1 + (k % 2) }, (_, piece) => ({
      id: r.id,
      gers: gersId(k * 2 + piece),
      confidence: 60 + (k % 40),
      lr_id: '[0.000, 1.000]',
      lr_gers: '[0.000, 1.000]',
    })),
  );

function requestFor(nameKey: string, run: string, overrides: Partial<MatchInput> = {}): MatchInput {
  return {
    source: { kind: 'inbox', container: inbox.containerName, blobName: `${nameKey}.parquet` },
    storageId: 'storage-001',
    jobType: 'ROAD_MATCHING',
    overtureRelease: '2026-01-21.0',
    outbox: { nameKey, run },
    trigger: 'http',
    requestedAt: '2026-02-01T00:00:00Z',
    incremental: true,
    ...overrides,
  };
}

/** What a succeeded run leaves in the outbox: its results, its summary and latest.json at it. */
async function recordSucceededRun(nameKey: string, run: string, prepared: PreparedInput, roads: Road[]) {
  const results = `${nameKey}/${run}/results.parquet`;
  await outbox.getBlockBlobClient(results).uploadData(resultsParquet(resultsFor(roads)));
  const summary = {
    kind: 'gem-flow.match-summary',
    outcome: 'succeeded',
    instanceId: run,
    input: { jobType: 'ROAD_MATCHING', overtureRelease: '2026-01-21.0', orbisVersion: null },
    preparedFile: prepared.prepared,
  };
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  await outbox.getBlockBlobClient(`${nameKey}/${run}/summary.json`).uploadData(json(summary));
  await outbox
    .getBlockBlobClient(`${nameKey}/latest.json`)
    .uploadData(
      json({ kind: 'gem-flow.latest-run', run, outcome: 'succeeded', requestedAt: '2026-01-01T00:00:00Z' }),
    );
}

/** The previous version (400 roads) and the next: 4 changed (geometry or navigability), 5 new, 3 deleted. */
function versions() {
  const before = Array.from({ length: 400 }, (_, i) => road(i));
  const after = before
    .filter((_, i) => ![7, 150, 399].includes(i))
    .map((r, i) => {
      if (i === 10 || i === 200) return { ...r, wkt: r.wkt.replace('52.001', '52.002') };
      if (i === 50 || i === 300) return { ...r, navigable: !r.navigable };
      return r;
    });
  for (let i = 400; i < 405; i++) after.push(road(i));
  return { before, after };
}

describe('planIncremental (Azurite)', () => {
  it('sends GEM exactly the new and changed rows and carries the results of the others over', async () => {
    const nameKey = `contract-${randomUUID()}`;
    const name = `${nameKey}.parquet`;
    const { before, after } = versions();
    const previous = await uploadGemParquet(name, before);
    // The first run keeps its fingerprint although it has nothing to compare with.
    expect(
      await planIncremental(services, {
        request: requestFor(nameKey, 'run-1'),
        instanceId: 'run-1',
        prepared: previous,
      }),
    ).toEqual({
      applied: false,
      reason: 'this input name has no earlier run to compare with',
      previousMatchId: null,
    });
    await recordSucceededRun(nameKey, 'run-1', previous, before);
    // The next version replaces the previous one in the inbox: only the fingerprint is left of it.
    const current = await uploadGemParquet(name, after);
    const input = { request: requestFor(nameKey, 'run-2'), instanceId: 'run-2', prepared: current };

    const plan = await planIncremental(services, input);

    if (!plan.applied) throw new Error(plan.reason);
    expect(plan.counts).toEqual({ unchanged: 393, changed: 4, new: 5, deleted: 3 });
    expect(plan.previousMatchId).toBe('run-1');
    const delta = await readParquet(await outbox.getBlobClient(plan.delta.name).downloadToBuffer());
    const previousById = new Map(before.map((r) => [r.id, JSON.stringify(r)]));
    const sent = after.filter((r) => previousById.get(r.id) !== JSON.stringify(r)).map((r) => r.id);
    expect(sent).toEqual(['r11', 'r51', 'r202', 'r302', 'r400', 'r401', 'r402', 'r403', 'r404']);
    expect(delta.map((row) => row.id)).toEqual(sent);
    const changed = after.find((r) => r.id === 'r11')!;
    expect(delta[0]).toMatchObject({ id: 'r11', geometry: changed.wkt, is_navigable: changed.navigable });
    expect(plan.delta.rows).toBe(9);
    const carried = await readParquet(await outbox.getBlobClient(plan.carried.blobName).downloadToBuffer());
    const unchanged = new Set(after.map((r) => r.id).filter((id) => !delta.some((row) => row.id === id)));
    const expected = resultsFor(before).filter((row) => unchanged.has(row.id));
    expect(carried).toEqual(expected);
    expect(plan.carried.rows).toBe(expected.length);

    // A retry finds the plan and its files and writes nothing again.
    const etag = (await outbox.getBlobClient(plan.delta.name).getProperties()).etag;
    expect(await planIncremental(services, input)).toEqual(plan);
    expect((await outbox.getBlobClient(plan.delta.name).getProperties()).etag).toBe(etag);
  });

  it('re-matches everything when the release differs, or the previous file is gone without a fingerprint', async () => {
    const nameKey = `contract-${randomUUID()}`;
    const name = `${nameKey}.parquet`;
    const { before, after } = versions();
    const previous = await uploadGemParquet(name, before);
    await recordSucceededRun(nameKey, 'run-1', previous, before);
    const current = await uploadGemParquet(name, after);

    const otherRelease = requestFor(nameKey, 'run-2', { overtureRelease: '2026-02-18.0' });
    expect(
      await planIncremental(services, { request: otherRelease, instanceId: 'run-2', prepared: current }),
    ).toEqual({
      applied: false,
      reason: expect.stringMatching(/matched Overture release 2026-01-21\.0, this run 2026-02-18\.0/),
      previousMatchId: 'run-1',
    });
    expect(
      await planIncremental(services, {
        request: requestFor(nameKey, 'run-2'),
        instanceId: 'run-2',
        prepared: current,
      }),
    ).toEqual({
      applied: false,
      reason: expect.stringMatching(/prepared file .* has been replaced and that run kept no fingerprint/),
      previousMatchId: 'run-1',
    });
    const named = requestFor(nameKey, 'run-2', { previousMatchId: 'match-0123456789abcdef0123456789abcdef' });
    expect(
      await planIncremental(services, { request: named, instanceId: 'run-2', prepared: current }),
    ).toEqual({
      applied: false,
      reason: 'no completed match match-0123456789abcdef0123456789abcdef of this input name',
      previousMatchId: 'match-0123456789abcdef0123456789abcdef',
    });
  });
});
