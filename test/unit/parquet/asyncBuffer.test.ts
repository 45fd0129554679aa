/**
 * Unit tests of `shared/parquet/asyncBuffer.ts`: bufferAsyncBuffer; blobAsyncBuffer.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import {
  BlobReadError,
  blobAsyncBuffer,
  bufferAsyncBuffer,
  type RangeReadableBlob,
} from '../../../shared/parquet/asyncBuffer.js';
import { validateRoadMatchingInput } from '../../../shared/parquet/roadMatching.js';

/** A BlobClient stand-in that serves ranges of a byte array and records every request. */
function fakeBlob(bytes: Uint8Array, etag = '"0x1"') {
  const ranges: [offset: number, count: number][] = [];
  let propertiesCalls = 0;
  const conditions: unknown[] = [];
  const blob: RangeReadableBlob = {
    url: 'https://account.blob.core.windows.net/inbox/roads.parquet?sig=SECRET',
    async getProperties() {
      propertiesCalls++;
      return { contentLength: bytes.byteLength, etag };
    },
    async download(offset = 0, count, options) {
      const end = count === undefined ? bytes.byteLength : offset + count;
      ranges.push([offset, end - offset]);
      conditions.push(options?.conditions);
      // Deliver in small chunks, as a socket would.
      const body = bytes.slice(offset, end);
      const chunks = Array.from({ length: Math.ceil(body.length / 1000) }, (_, i) =>
        body.slice(i * 1000, (i + 1) * 1000),
      );
      return { readableStreamBody: Readable.from(chunks), contentLength: body.length };
    },
  };
  return { blob, ranges, conditions, properties: () => propertiesCalls };
}

const bytesOf = async (p: ArrayBuffer | Promise<ArrayBuffer>) => new Uint8Array(await p);

describe('bufferAsyncBuffer', () => {
  it('slices like ArrayBuffer.slice, including a Uint8Array view into a larger buffer', async () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 4, 9]);
    const view = backing.subarray(2, 6);
    const file = bufferAsyncBuffer(view);
    expect(file.byteLength).toBe(4);
    expect(await bytesOf(file.slice(1, 3))).toEqual(new Uint8Array([2, 3]));
    expect(await bytesOf(file.slice(2))).toEqual(new Uint8Array([3, 4]));
  });
});

describe('blobAsyncBuffer', () => {
  const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);

  it('returns the right bytes for any range, from one footer request and cached blocks', async () => {
    const fake = fakeBlob(bytes);
    const file = await blobAsyncBuffer(fake.blob, { footerBytes: 1000, blockBytes: 2000 });
    expect(file.byteLength).toBe(bytes.length);
    expect(await bytesOf(file.slice(9996))).toEqual(bytes.slice(9996));
    expect(await bytesOf(file.slice(9500, 9600))).toEqual(bytes.slice(9500, 9600));
    expect(fake.ranges).toEqual([[9000, 1000]]);
    expect(await bytesOf(file.slice(100, 150))).toEqual(bytes.slice(100, 150));
    expect(await bytesOf(file.slice(150, 2000))).toEqual(bytes.slice(150, 2000));
    expect(fake.ranges).toEqual([
      [9000, 1000],
      [100, 2000],
    ]);
    // At least a block long: fetched as asked, not cached.
    expect(await bytesOf(file.slice(3000, 6000))).toEqual(bytes.slice(3000, 6000));
    expect(fake.ranges.at(-1)).toEqual([3000, 3000]);
    expect(file.stats.requests).toBe(3);
    expect(file.stats.cacheHits).toBe(2);
  });

  it('makes every ranged read conditional on the etag and skips getProperties when size is known', async () => {
    const fake = fakeBlob(bytes);
    const file = await blobAsyncBuffer(fake.blob, { size: bytes.length, etag: '"0xE"' });
    await file.slice(0, 10);
    expect(fake.properties()).toBe(0);
    expect(fake.conditions).toEqual([{ ifMatch: '"0xE"' }]);
  });

  it('keeps at most maxBlocks blocks', async () => {
    const fake = fakeBlob(bytes);
    const file = await blobAsyncBuffer(fake.blob, { footerBytes: 100, blockBytes: 1000, maxBlocks: 2 });
    await file.slice(0, 10);
    await file.slice(2000, 2010);
    await file.slice(4000, 4010); // evicts the block at 0
    await file.slice(2000, 2010); // still cached
    await file.slice(0, 10); // fetched again
    expect(fake.ranges.map(([o]) => o)).toEqual([0, 2000, 4000, 0]);
  });

  it('validates a multi-row-group file by ranges without downloading it whole', async () => {
    const sample = roadMatchingSample('valid', { rows: 4000, rowGroupSize: 500, seed: 2 });
    const fake = fakeBlob(sample);
    const file = await blobAsyncBuffer(fake.blob, { footerBytes: 16 * 1024, blockBytes: 16 * 1024 });
    const report = await validateRoadMatchingInput(file);
    expect(report.valid).toBe(true);
    expect(report.checkedRows).toBe(4000);
    const largest = Math.max(...fake.ranges.map(([, count]) => count));
    expect(largest).toBeLessThan(sample.length / 4);
    expect(fake.ranges.some(([o, c]) => o === 0 && c === sample.length)).toBe(false);
    expect(fake.ranges.length).toBeGreaterThan(8); // at least one read per row group
    console.log(
      `ranged reads for a ${sample.length}-byte, 8-row-group sample: ${file.stats.requests} requests, ` +
        `${file.stats.bytes} bytes, ${file.stats.cacheHits} cache hits`,
    );
  });

  it('turns storage failures into BlobReadError without the SAS query', async () => {
    const blob: RangeReadableBlob = {
      url: 'https://account.blob.core.windows.net/inbox/roads.parquet?sig=SECRET',
      getProperties: async () => {
        throw Object.assign(new Error('The specified blob does not exist.'), { statusCode: 404 });
      },
      download: async () => ({}),
    };
    const err = await blobAsyncBuffer(blob).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobReadError);
    expect((err as BlobReadError).statusCode).toBe(404);
    expect((err as BlobReadError).retriable).toBe(false);
    expect((err as Error).message).not.toContain('SECRET');
    expect((err as Error).message).toContain('does not exist');
  });

  it('reports a blob changed mid-read (412) as not retriable', async () => {
    const fake = fakeBlob(bytes);
    fake.blob.download = async () => {
      throw Object.assign(new Error('Condition not met'), { statusCode: 412 });
    };
    const file = await blobAsyncBuffer(fake.blob);
    const err = await Promise.resolve(file.slice(0, 10)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobReadError);
    expect((err as Error).message).toMatch(/changed while it was being read/);
  });
});
