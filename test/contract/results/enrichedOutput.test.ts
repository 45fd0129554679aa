import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import * as geojsonSamples from '../../../local/standins/format-samples/geojson.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import type { PreparedInput } from '../../../shared/formats/prepared.js';
import { deliverEnriched } from '../../../shared/results/enrichedOutput.js';
import { gersId, type HandResult, resultsParquet } from '../../unit/results/support.js';

// The real Storage SDK against Azurite: the source is read by ranged, etag-conditional GETs and the output
// uploaded as a block blob, exactly as in Azure.
const stack = inject('stack');
const appBlobs = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
const inbox = appBlobs.getContainerClient(stack.inboxContainer);
const outbox = appBlobs.getContainerClient(stack.outboxContainer);
const roads = sampleRoads({ rows: 8 });

async function setUp(results: HandResult[]) {
  await inbox.createIfNotExists();
  await outbox.createIfNotExists();
  const folder = `contract-${randomUUID()}`;
  const source = inbox.getBlockBlobClient(`${folder}/roads.geojson`);
  const uploaded = await source.uploadData(geojsonSamples.valid(roads));
  const resultsBlob = `${folder}/run-1/results.parquet`;
  await outbox.getBlockBlobClient(resultsBlob).uploadData(resultsParquet(results));
  const prepared: PreparedInput = {
    format: 'geojson',
    source: { container: stack.inboxContainer, name: source.name, etag: uploaded.etag! },
    options: { outputFormat: 'geojson' },
    layer: null,
    crs: null,
    prepared: { container: stack.inboxContainer, name: 'unused', etag: '', byteLength: 0 },
    featureCount: roads.length,
    gemRowCount: roads.length,
  };
  return { source, prepared, location: { nameKey: folder, run: 'run-1' }, resultsBlob };
}

const ONE_MATCH: HandResult[] = [
  {
    id: String(roads[0]!.id),
    gers: gersId(1),
    confidence: 77,
    lr_id: '[0.000, 1.000]',
    lr_gers: '[0.000, 1.000]',
  },
];

describe('the enriched output in the outbox (Azurite)', () => {
  it('writes matched.geojson whole, with its content type, and again with the same bytes on a retry', async () => {
    const { prepared, location, resultsBlob } = await setUp(ONE_MATCH);
    const services = { appBlobs, outbox };
    const first = await deliverEnriched(services, { prepared, location, resultsBlob });
    expect(first.report).toMatchObject({ status: 'written', format: 'geojson', features: roads.length });
    const blob = outbox.getBlobClient(`${location.nameKey}/run-1/matched.geojson`);
    const properties = await blob.getProperties();
    expect(properties.contentType).toBe('application/geo+json');
    const bytes = await blob.downloadToBuffer();
    const collection = JSON.parse(bytes.toString('utf8'));
    expect(collection.features).toHaveLength(roads.length);
    expect(collection.features[0].properties).toMatchObject({ gers: gersId(1), match: 'full' });
    expect(first.counts?.roads).toEqual({ full: 1, partial: 0, unmatched: roads.length - 1 });

    const retry = await deliverEnriched(services, { prepared, location, resultsBlob });
    expect(retry.report).toEqual(first.report);
    expect(Buffer.compare(await blob.downloadToBuffer(), bytes)).toBe(0);
  });

  it('reports, instead of throwing, results it cannot join and a source replaced since the run started', async () => {
    const bad = await setUp([{ ...ONE_MATCH[0]!, lr_id: '[0.5 1.0]' }]);
    const refused = await deliverEnriched({ appBlobs, outbox }, bad);
    expect(refused).toMatchObject({
      counts: null,
      report: { status: 'failed', format: 'geojson', code: 'GemResultsUnreadable' },
    });
    if (refused.report.status !== 'failed') throw new Error('expected a failure report');
    expect(refused.report.message).toMatch(/row 0: lr_id is "\[0\.5 1\.0\]"/);
    expect(refused.report.remedy).toMatch(/raw results\.parquet is delivered/);
    expect(await outbox.getBlobClient(`${bad.location.nameKey}/run-1/matched.geojson`).exists()).toBe(false);

    const replaced = await setUp(ONE_MATCH);
    await replaced.source.uploadData(geojsonSamples.valid(roads.slice(0, 2)));
    const stale = await deliverEnriched({ appBlobs, outbox }, replaced);
    // The etag-conditional read answers 412: a retry cannot help, so it is reported.
    expect(stale.report).toMatchObject({ status: 'failed', code: 'BLOB_READ_FAILED' });
    expect(await outbox.getBlobClient(`${replaced.location.nameKey}/run-1/matched.geojson`).exists()).toBe(
      false,
    );
  });
});
