/**
 * Contract tests of `shared/formats/sourceFile.ts`, with real components (Azurite, the real SDK clients):
 * blob-backed SourceFile against Azurite (the real BlobClient).
 */
import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import * as geojson from '../../../local/standins/format-samples/geojson.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { detectFormat } from '../../../shared/formats/detect.js';
import { openGeoJson } from '../../../shared/formats/geojson.js';
import { blobSourceFile } from '../../../shared/formats/sourceFile.js';
import { BlobReadError } from '../../../shared/parquet/asyncBuffer.js';

const stack = inject('stack');
const service = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
const limits = { maxFeatureBytes: 1 << 20, maxVertices: 100_000, maxFields: 100, maxDepth: 32 };

async function upload(bytes: Uint8Array) {
  const inbox = service.getContainerClient(stack.inboxContainer);
  await inbox.createIfNotExists();
  const blob = inbox.getBlockBlobClient(`contract-formats-${randomUUID()}/roads.geojson`);
  await blob.uploadData(bytes);
  return blob;
}

describe('blob-backed SourceFile against Azurite (the real BlobClient)', () => {
  it('detects and reads a GeoJSON blob by ranges and a stream', async () => {
    const roads = sampleRoads({ rows: 200 });
    const blob = await upload(geojson.valid(roads));
    const file = await blobSourceFile(blob, { name: 'roads.geojson' });
    expect((await detectFormat(file)).format).toBe('geojson');
    const source = await openGeoJson(file, { limits, tempDir: '/tmp' });
    let n = 0;
    for await (const f of source.features()) expect(f.id).toBe(roads[n++]!.id);
    expect(n).toBe(200);
  });

  it('fails with 412 when the blob is replaced after it was opened', async () => {
    const blob = await upload(geojson.valid(sampleRoads({ rows: 20 })));
    const file = await blobSourceFile(blob, { name: 'roads.geojson' });
    await blob.uploadData(geojson.valid(sampleRoads({ rows: 21 })));
    const err = await (async () => {
      for await (const _ of file.stream()) {
        // drain
      }
    })().catch((e) => e);
    expect(err).toBeInstanceOf(BlobReadError);
    expect(err.statusCode).toBe(412);
    await expect(file.slice(0, 10)).rejects.toMatchObject({ statusCode: 412 });
  });
});
