/**
 * Unit tests of `shared/formats/parquetRows.ts`: page decompression bounded by what is accepted, not by what a
 * page header claims.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { MAX_PAGE_BYTES } from '../../../shared/formats/parquetRows.js';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import { loadHyparquet } from '../../../shared/parquet/hyparquet.js';
import { assertSnappyFits, boundedCompressors } from '../../../shared/parquet/pages.js';
import { validateRoadMatchingInput } from '../../../shared/parquet/roadMatching.js';

describe('page decompression bounded by what is accepted, not by what a page header claims', () => {
  it('a page claiming 4 GiB is refused before anything is allocated', async () => {
    const { snappyUncompress } = await loadHyparquet();
    let called = false;
    const compressors = boundedCompressors(MAX_PAGE_BYTES, (input, output) => {
      called = true;
      snappyUncompress(input, output);
    });
    expect(() => compressors.SNAPPY!(new Uint8Array(10), 4 * 1024 ** 3)).toThrow(/exceeds the/);
    expect(() => compressors.GZIP!(gzipSync(Buffer.alloc(10)), MAX_PAGE_BYTES + 1)).toThrow(/exceeds the/);
    expect(called).toBe(false);
  });

  it('a gzip page that inflates past its claimed size stops at the claim', async () => {
    const { snappyUncompress } = await loadHyparquet();
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024));
    expect(() => boundedCompressors(MAX_PAGE_BYTES, snappyUncompress).GZIP!(bomb, 1024)).toThrow();
    expect(
      boundedCompressors(MAX_PAGE_BYTES, snappyUncompress).GZIP!(gzipSync(Buffer.from('abc')), 3),
    ).toEqual(Buffer.from('abc'));
  });
});

describe('Snappy streams checked against the page size before they are inflated', () => {
  it('lets a real Snappy stream of exactly the page size through, and refuses it for a smaller page', async () => {
    const { snappyCompress } = await import('hyparquet-writer/src/snappy.js');
    const text = new TextEncoder().encode('LINESTRING (4.863271 52.394764, 4.863610 52.395065) '.repeat(400));
    const compressed = snappyCompress(text);
    expect(() => assertSnappyFits(compressed, text.length)).not.toThrow();
    expect(() => assertSnappyFits(compressed, text.length - 1)).toThrow(/inflate past the page's stated/);
  });

  it('refuses a damaged page whose copies would run past the end, the case that once took seconds to decode', async () => {
    // One byte of a real geometry page set to 252 (a copy tag of length 64): the page still parses, and its
    // elements would write far past the page's stated size. It must be refused as corrupt, not inflated.
    const base = roadMatchingSample('valid', { rows: 200, rowGroupSize: 100, seed: 4 });
    const damaged = base.slice();
    damaged[4 + 14353] = 252;
    const report = await validateRoadMatchingInput(bufferAsyncBuffer(damaged));
    const unreadable = report.problems.find((p) => p.rule === 'parquet-readable');
    expect(unreadable?.message).toMatch(/inflate past the page's stated \d+ bytes/);
  });
});
