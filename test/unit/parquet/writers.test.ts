// The page checks must never refuse a file a real writer produced. hyparquet-writer writes v2 data pages only;
// these files come from arrow-rs (the Rust Parquet implementation, through parquet-wasm), which by default writes
// v1 data pages with RLE levels and dictionary pages, the layout pyarrow and Spark write too. Every codec the
// validator decodes, both page versions, dictionary or not: only the defects put in are reported, at their rows.
import { Table as ArrowTable, Bool, Int64, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { Compression, Table, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm/node';
import { describe, expect, it } from 'vitest';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import { validateRoadMatchingInput } from '../../../shared/parquet/roadMatching.js';

const ROWS = 20_000;
const NULL_GEOMETRY = (i: number) => i % 97 === 5;
const DUPLICATE = { row: 15_001, of: 7 };
const BAD = 12_345;

function roadsIpc(): Uint8Array {
  const ids = BigInt64Array.from({ length: ROWS }, (_, i) =>
    BigInt(1000 + (i === DUPLICATE.row ? DUPLICATE.of : i)),
  );
  const geometries = Array.from({ length: ROWS }, (_, i) =>
    NULL_GEOMETRY(i)
      ? null
      : i === BAD
        ? 'POINT (4.9 52.3)'
        : `LINESTRING (4.${8900 + (i % 1000)} 52.3702, 4.${8900 + (i % 1000)} 52.3710)`,
  );
  const navigable = Array.from({ length: ROWS }, (_, i) => (i % 13 === 0 ? null : i % 3 !== 0));
  const table = new ArrowTable({
    id: vectorFromArray([...ids], new Int64()),
    geometry: vectorFromArray(geometries, new Utf8()),
    is_navigable: vectorFromArray(navigable, new Bool()),
  });
  return tableToIPC(table, 'stream');
}

const nulls = Array.from({ length: ROWS }, (_, i) => i).filter(NULL_GEOMETRY);

describe('files written by arrow-rs', () => {
  const ipc = roadsIpc();
  const cases = (['V1', 'V2'] as const).flatMap((pages) =>
    (['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'BROTLI', 'ZSTD'] as const).flatMap((codec) =>
      [true, false].map((dictionary) => ({ pages, codec, dictionary })),
    ),
  );

  it.each(cases)('data pages $pages, $codec, dictionary $dictionary: only the defects put in', async (c) => {
    const properties = new WriterPropertiesBuilder()
      .setWriterVersion(WriterVersion[c.pages])
      .setCompression(Compression[c.codec])
      .setDictionaryEnabled(c.dictionary)
      .setMaxRowGroupSize(7_000)
      .build();
    const bytes = writeParquet(Table.fromIPCStream(ipc), properties);
    const report = await validateRoadMatchingInput(bufferAsyncBuffer(bytes), {
      limits: { batchRows: 3_000 },
      maxProblems: 1_000,
    });
    expect(report.checkedRows).toBe(ROWS);
    const rows = (rule: string) => report.problems.filter((p) => p.rule === rule).map((p) => p.row);
    expect(rows('geometry-not-null')).toEqual(nulls);
    expect(rows('id-unique')).toEqual([DUPLICATE.row]);
    expect(rows('geometry-wkt-linestring')).toEqual([BAD]);
    expect(report.problems).toHaveLength(nulls.length + 2);
  });
});
