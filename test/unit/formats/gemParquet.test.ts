/**
 * Unit tests of `shared/formats/gemParquet.ts`: GEM-ready Parquet writer; GEM Parquet reader.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { roadMatchingRecords, roadMatchingSample } from '../../../local/standins/samples.js';
import { createGemParquetWriter, openGemParquet } from '../../../shared/formats/gemParquet.js';
import { bytesSourceFile, localSourceFile } from '../../../shared/formats/sourceFile.js';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import { loadHyparquet } from '../../../shared/parquet/hyparquet.js';
import { validateRoadMatchingInput } from '../../../shared/parquet/roadMatching.js';
import { assertOnlyFormatErrors, drain, readOptions, scratch } from './support.js';

const dir = scratch();

describe('GEM-ready Parquet writer', () => {
  it("writes rows GEM's own validator accepts, in several row groups, with the mapping columns", async () => {
    const path = join(dir, 'gem.parquet');
    const writer = await createGemParquetWriter({ path, withNavigable: true, rowGroupRows: 40 });
    const n = 100;
    for (let i = 0; i < n; i++) {
      await writer.write({
        id: `r${i}#${i % 2}`,
        wkt: `LINESTRING (4.9 52.${i}, 4.91 52.${i})`,
        isNavigable: i % 3 === 0 ? null : i % 2 === 0,
        sourceIndex: Math.floor(i / 2),
        part: i % 2,
      });
    }
    const { rows, bytes } = await writer.finish();
    expect(rows).toBe(n);
    const file = new Uint8Array(await readFile(path));
    expect(bytes).toBe(file.byteLength);

    const report = await validateRoadMatchingInput(bufferAsyncBuffer(file));
    expect(report.problems).toEqual([]);
    expect(report.valid).toBe(true);
    expect(report.rowCount).toBe(n);

    const { parquetMetadata, parquetReadObjects } = await loadHyparquet();
    const metadata = parquetMetadata(file.buffer);
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([40, 40, 20]);
    const read = await parquetReadObjects({ file: bufferAsyncBuffer(file) });
    expect(Object.keys(read[0]!)).toEqual(['id', 'geometry', 'is_navigable', 'source_index', 'part']);
    expect(read[5]).toEqual({
      id: 'r5#1',
      geometry: 'LINESTRING (4.9 52.5, 4.91 52.5)',
      is_navigable: false,
      source_index: 2n,
      part: 1,
    });
  });

  it('cuts a row group early at rowGroupBytes of WKT and id, before rowGroupRows', async () => {
    const path = join(dir, 'gem-bytes.parquet');
    // Each row: 32 characters of WKT plus a 2-character id, so a 100-byte budget closes a group every 3 rows.
    const writer = await createGemParquetWriter({
      path,
      withNavigable: false,
      rowGroupRows: 1000,
      rowGroupBytes: 100,
    });
    for (let i = 0; i < 10; i++) {
      await writer.write({ id: `r${i}`, wkt: 'LINESTRING (4.9 52.1, 4.91 52.2)', sourceIndex: i, part: 0 });
    }
    expect((await writer.finish()).rows).toBe(10);
    const { parquetMetadata, parquetReadObjects } = await loadHyparquet();
    const file = new Uint8Array(await readFile(path));
    expect(parquetMetadata(file.buffer).row_groups.map((g) => Number(g.num_rows))).toEqual([3, 3, 3, 1]);
    const read = await parquetReadObjects({ file: bufferAsyncBuffer(file) });
    expect(read.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
  });

  it('leaves out is_navigable when no column was mapped, and abort deletes the file', async () => {
    const path = join(dir, 'gem2.parquet');
    const writer = await createGemParquetWriter({ path, withNavigable: false });
    await writer.write({ id: 'a', wkt: 'LINESTRING (1 2, 3 4)', sourceIndex: 0, part: 0 });
    await writer.finish();
    const { parquetReadObjects } = await loadHyparquet();
    const rows = await parquetReadObjects({ file: bufferAsyncBuffer(new Uint8Array(await readFile(path))) });
    expect(Object.keys(rows[0]!)).toEqual(['id', 'geometry', 'source_index', 'part']);

    const aborted = await createGemParquetWriter({ path: join(dir, 'gem3.parquet'), withNavigable: false });
    await aborted.write({ id: 'a', wkt: 'LINESTRING (1 2, 3 4)', sourceIndex: 0, part: 0 });
    await aborted.abort();
    await expect(readFile(join(dir, 'gem3.parquet'))).rejects.toThrow();
  });
});

describe('GEM Parquet reader', () => {
  it("reads GEM's own sample: ids as feature ids, WKT parsed, every column a property", async () => {
    const records = roadMatchingRecords('valid', { rows: 30 });
    const source = await openGemParquet(
      bytesSourceFile(roadMatchingSample('valid', { rows: 30, rowGroupSize: 7 }), 'roads.parquet'),
      readOptions(dir),
    );
    expect(source.format).toBe('gem-parquet');
    expect(source.fields).toEqual([
      { name: 'id', type: 'bigint' },
      { name: 'is_navigable', type: 'boolean' },
    ]);
    const features = await drain(source);
    expect(features).toHaveLength(30);
    features.forEach((f, i) => {
      expect(f.index).toBe(i);
      expect(f.id).toBe(Number(records.ids![i]));
      expect(f.properties).toEqual({ id: records.ids![i], is_navigable: records.isNavigable![i] });
      expect(f.geometry?.type).toBe('LineString');
      expect(f.problem).toBeUndefined();
    });
  });

  it("a row with WKT that does not parse is that feature's problem; the rest reads on", async () => {
    const source = await openGemParquet(
      bytesSourceFile(roadMatchingSample('not-a-linestring', { rows: 20 }), 'r.parquet'),
      readOptions(dir),
    );
    const features = await drain(source);
    const records = roadMatchingRecords('not-a-linestring', { rows: 20 });
    const [point, doubled] = records.defectRows;
    expect(features[point!]!.geometry?.type).toBe('Point');
    expect(features[doubled!]!.problem?.rule).toBe('geometry-unreadable');
    expect(features.filter((f) => f.problem)).toHaveLength(1);
  });

  it('reads from a local file as from bytes', async () => {
    const path = join(dir, 'local.parquet');
    await (await import('node:fs/promises')).writeFile(path, roadMatchingSample('valid', { rows: 5 }));
    const features = await drain(await openGemParquet(await localSourceFile(path), readOptions(dir)));
    expect(features).toHaveLength(5);
  });

  it('property test: truncated or mutated files throw nothing but FormatError', async () => {
    const base = roadMatchingSample('valid', { rows: 12, rowGroupSize: 4 });
    await assertOnlyFormatErrors(base, async (f) => drain(await openGemParquet(f, readOptions(dir))), {
      passes: 4,
      maxFlips: 4,
    });
  });
});
