import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { boundedCompressors, MAX_PAGE_BYTES } from '../../../shared/formats/parquetRows.js';
import { loadHyparquet } from '../../../shared/parquet/hyparquet.js';

describe('page decompression bounded by what is accepted, not by what a page header claims', () => {
  it('a page claiming 4 GiB is refused before anything is allocated', async () => {
    const { snappyUncompress } = await loadHyparquet();
    let called = false;
    const compressors = boundedCompressors((input, output) => {
      called = true;
      snappyUncompress(input, output);
    });
    expect(() => compressors.SNAPPY!(new Uint8Array(10), 4 * 1024 ** 3)).toThrow(/claims/);
    expect(() => compressors.GZIP!(gzipSync(Buffer.alloc(10)), MAX_PAGE_BYTES + 1)).toThrow(/claims/);
    expect(called).toBe(false);
  });

  it('a gzip page that inflates past its claimed size stops at the claim', async () => {
    const { snappyUncompress } = await loadHyparquet();
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024));
    expect(() => boundedCompressors(snappyUncompress).GZIP!(bomb, 1024)).toThrow();
    expect(boundedCompressors(snappyUncompress).GZIP!(gzipSync(Buffer.from('abc')), 3)).toEqual(
      Buffer.from('abc'),
    );
  });
});
