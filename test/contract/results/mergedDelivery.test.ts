// deliverResults of a run whose results come from several files (a partitioned or incremental run), against
// Azurite with the real Storage SDK: two GEM result files in a PDG container and one results-shaped file in the
// outbox become one results.parquet with every row in the order given, and a retry writes the same bytes.
import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { describe, expect, inject, it } from 'vitest';
import { createMatchActivities } from '../../../shared/activities/match.js';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import type { Services } from '../../../shared/services.js';
import { outboxLocationFor } from '../../../shared/workflow/outboxNames.js';
import type { DeliverResultsInput } from '../../../shared/workflow/types.js';
import { sampleMatchInput } from '../../support/matchInput.js';
import { gersId, type HandResult, resultsParquet } from '../../unit/results/support.js';

const stack = inject('stack');
const blobs = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
const outbox = blobs.getContainerClient(stack.outboxContainer);
const pdg = blobs.getContainerClient(`pdg-merge-${randomUUID().slice(0, 8)}`);

const rows = (prefix: string, n: number): HandResult[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    gers: gersId(i),
    confidence: 70,
    lr_id: '[0.000, 1.000]',
    lr_gers: '[0.000, 1.000]',
  }));

/** The TomTom client's two credential calls, answered without a secret the test could leak. */
const tomtom = {
  getStorageCredentials: async () => ({ wrapped: true }),
  unwrapStorageCredentials: async () => ({ clientSecret: 'not-a-real-secret' }),
};

describe('deliverResults with resultSources (Azurite)', () => {
  it('merges PDG and outbox sources into results.parquet and names them in the summary', async () => {
    await outbox.createIfNotExists();
    await pdg.createIfNotExists();
    const instanceId = `merge-${randomUUID().slice(0, 8)}`;
    const source = { kind: 'inbox', container: 'inbox', blobName: `${instanceId}.parquet` } as const;
    const location = outboxLocationFor(source, instanceId);
    const carried = `${location.nameKey}/.prepared/carried.parquet`;
    const [p1, p2, kept] = [rows('p1-', 5), rows('p2-', 3), rows('kept-', 4)];
    await pdg.getBlockBlobClient('roads-p1.results.parquet').uploadData(resultsParquet(p1));
    await pdg.getBlockBlobClient('roads-p2.results.parquet').uploadData(resultsParquet(p2));
    await outbox.getBlockBlobClient(carried).uploadData(resultsParquet(kept));
    const services = { outbox, tomtom, pdgContainer: () => pdg } as unknown as Services;
    const input: DeliverResultsInput = {
      request: sampleMatchInput({ source, outbox: location }),
      instanceId,
      pdgFilename: 'roads-p1.parquet',
      jobId: 1,
      poll: {
        jobId: 1,
        status: 'SUCCESS',
        terminal: true,
        succeeded: true,
        resultFilename: null,
        statistics: { parts: 2 },
        message: null,
      },
      timedOut: false,
      lastGemStatus: 'SUCCESS',
      deadline: '2026-02-20T10:00:00Z',
      startedAt: '2026-02-18T10:00:00Z',
      submittedAt: '2026-02-18T10:00:00Z',
      polls: 4,
      finishedAt: '2026-02-18T12:00:00Z',
      resultSources: [
        { kind: 'outbox', blobName: carried },
        { kind: 'pdg', filename: 'roads-p1.results.parquet' },
        { kind: 'pdg', filename: 'roads-p2.results.parquet' },
      ],
    };
    const activities = createMatchActivities(services);
    const result = await activities.deliverResults(input);
    expect(result.outcome).toBe('succeeded');
    const bytes = await outbox.getBlobClient(result.outputs.results!).downloadToBuffer();
    const file = bufferAsyncBuffer(new Uint8Array(bytes));
    const merged = await parquetReadObjects({
      file,
      metadata: parquetMetadata(file.slice(0) as ArrayBuffer),
    });
    expect(merged.map((r) => r.id)).toEqual([...kept, ...p1, ...p2].map((r) => r.id));
    const summary = JSON.parse(
      (await outbox.getBlobClient(result.summaryBlob).downloadToBuffer()).toString(),
    );
    expect(summary.statistics).toEqual({ parts: 2 });
    expect(summary.outputs.gemResultFilename).toBeNull();
    expect(summary.outputs.resultSources).toEqual(input.resultSources);

    await activities.deliverResults(input);
    expect(await outbox.getBlobClient(result.outputs.results!).downloadToBuffer()).toEqual(bytes);
  });
});
