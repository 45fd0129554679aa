/**
 * Unit tests of `shared/formats/parquetRows.ts`: page decompression bounded by what is accepted, not by what a
 * page header claims.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MAX_PAGE_BYTES } from '../../../shared/formats/parquetRows.js';
import { loadHyparquet } from '../../../shared/parquet/hyparquet.js';
import { boundedCompressors } from '../../../shared/parquet/pages.js';

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
