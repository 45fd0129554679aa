// Hostile and oversized inputs: every count, size and offset a file states is checked before it is believed, and
// each limit exceeded is a finding naming the rule, the row where known and the fix. A counting AsyncBuffer
// shows what the validator read: never a byte range a claim asked for that the checks refused.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { hostileSample } from '../../../local/standins/hostileSamples.js';
import {
  concatBytes,
  craftedFile,
  craftedRoads,
  dataPage,
  encodeStruct,
  fileMetaData,
  i32,
  i64,
  levelBlock,
  list,
  PARQUET,
  parquetFile,
  plainInt64,
  plainStrings,
  rleRun,
  roadSchema,
  schemaElement,
  struct,
  structs,
  T,
} from '../../../local/standins/parquetCraft.js';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { type AsyncBuffer, bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import { validateLaneLevelInput } from '../../../shared/parquet/laneLevel.js';
import type { ValidationLimits } from '../../../shared/parquet/limits.js';
import type { ValidationReport } from '../../../shared/parquet/report.js';
import { validateRoadMatchingInput } from '../../../shared/parquet/roadMatching.js';

interface Counted {
  file: AsyncBuffer;
  slices: [number, number][];
  /** Bytes returned in all. */
  bytes(): number;
  largest(): number;
}

function counted(bytes: Uint8Array): Counted {
  const inner = bufferAsyncBuffer(bytes);
  const slices: [number, number][] = [];
  return {
    file: {
      byteLength: inner.byteLength,
      slice: async (start, end) => {
        slices.push([start, end ?? inner.byteLength]);
        return inner.slice(start, end);
      },
    },
    slices,
    bytes: () => slices.reduce((n, [s, e]) => n + (e - s), 0),
    largest: () => Math.max(0, ...slices.map(([s, e]) => e - s)),
  };
}

const validate = (bytes: Uint8Array, limits?: Partial<ValidationLimits>) =>
  validateRoadMatchingInput(bufferAsyncBuffer(bytes), { limits });

/** Rules with a non-zero count. */
const failing = (r: ValidationReport) =>
  Object.entries(r.problemCounts)
    .filter(([, n]) => n > 0)
    .map(([rule]) => rule);

const road = (i: number) => `LINESTRING (4.${8900 + i} 52.3702, 4.${8900 + i} 52.3710)`;

describe('the hostile sample files', () => {
  it('a footer claiming 2³¹ rows in a few hundred bytes: row-limit, nothing read beyond the footer', async () => {
    const bytes = hostileSample('claims-2e31-rows');
    expect(bytes.byteLength).toBeLessThan(600);
    const file = counted(bytes);
    const report = await validateRoadMatchingInput(file.file);
    expect(failing(report)).toEqual(['row-limit']);
    expect(report.rowCount).toBe(2 ** 31);
    expect(report.checkedRows).toBe(0);
    expect(report.problems[0]!.message).toContain('2,147,483,648 rows');
    expect(report.problems[0]!.message).toContain('VALIDATION_MAX_ROWS');
    expect(file.bytes()).toBeLessThanOrEqual(2 * bytes.byteLength);
  });

  it('the same claim under a raised row limit: its column chunks hold 1 value, not 2³¹', async () => {
    const report = await validate(hostileSample('claims-2e31-rows'), { maxRows: 3_000_000_000 });
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toContain('column "id" holds 1 values for 2147483648 rows');
  });

  it('zero rows: rows-present, and no GEM-ready verdict', async () => {
    const report = await validate(hostileSample('zero-rows'));
    expect(report.valid).toBe(false);
    expect(failing(report)).toEqual(['rows-present']);
    expect(report.problems[0]!.message).toMatch(/no rows/);
  });

  it('a 20,000-deep schema: schema-depth from both validators, no exception', async () => {
    const bytes = hostileSample('deep-schema');
    const road = await validate(bytes);
    expect(failing(road)).toEqual(['schema-depth']);
    expect(road.problems[0]).toMatchObject({ column: 'nested0' });
    expect(road.problems[0]!.message).toContain('more than 32 levels deep');
    const lane = await validateLaneLevelInput(bufferAsyncBuffer(bytes));
    expect(failing(lane)).toEqual(['schema-depth']);
  });

  it('a row of one huge LINESTRING: value-size at row 0, refused before its page is decompressed', async () => {
    const bytes = hostileSample('giant-row', { points: 100_000 }); // 2.2 MB of WKT
    const report = await validate(bytes);
    expect(failing(report)).toEqual(['value-size']);
    expect(report.problems[0]).toMatchObject({ row: 0, column: 'geometry', rule: 'value-size' });
    expect(report.problems[0]!.message).toContain('VALIDATION_MAX_VALUE_BYTES');
    expect(report.problems[0]!.message).toMatch(/split it into road segments/);
    expect(report.checkedRows).toBe(0);
  });
});

describe('the footer', () => {
  it('a footer over VALIDATION_MAX_FOOTER_BYTES: footer-size, and the footer is never fetched', async () => {
    const bytes = roadMatchingSample('valid', { rows: 50 });
    const file = counted(bytes);
    const report = await validateRoadMatchingInput(file.file, { limits: { maxFooterBytes: 64 } });
    expect(failing(report)).toEqual(['footer-size']);
    expect(report.problems[0]!.message).toContain('VALIDATION_MAX_FOOTER_BYTES');
    expect(file.slices).toEqual([[bytes.byteLength - 8, bytes.byteLength]]);
  });

  it('a footer length beyond the file, and a length of 2³²−1: unreadable after an 8-byte read', async () => {
    const metadata = fileMetaData({ schema: roadSchema(), numRows: 0, rowGroups: [] });
    for (const claimed of [5000, 0xffff_ffff]) {
      const file = counted(parquetFile(metadata, new Uint8Array(0), claimed));
      const report = await validateRoadMatchingInput(file.file);
      expect(failing(report)).toEqual(['parquet-readable']);
      expect(report.problems[0]!.message).toMatch(/footer claims [\d,]+ bytes but the file has only/);
      expect(file.bytes()).toBe(8);
    }
  });

  it('a list claiming 2³⁰ schema elements in a few bytes is refused before hyparquet sizes an array for it', async () => {
    const footer = encodeStruct({ 1: i32(2), 2: list(T.STRUCT, [struct({})], 2 ** 30), 3: i64(0) });
    const report = await validate(parquetFile(footer));
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toMatch(/a list of 1073741824 elements/);
  });

  it('more Thrift objects than the footer limit allows (one per 16 bytes) are refused', async () => {
    const schema = [...roadSchema(), ...Array.from({ length: 5000 }, () => ({}))];
    const report = await validate(parquetFile(fileMetaData({ schema, numRows: 0, rowGroups: [] })), {
      maxFooterBytes: 16 * 1024,
    });
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toMatch(/more than 1024 structs and strings/);
  });

  it('Thrift nested 100,000 deep (no recursion to overflow) is refused', async () => {
    // FileMetaData, then field 7 holding a struct whose field 1 is a struct, 100,000 times over.
    const depth = 100_000;
    const head = encodeStruct({ 1: i32(2), 2: structs(roadSchema()), 3: i64(0), 4: structs([]) });
    const footer = concatBytes(
      head.subarray(0, head.byteLength - 1),
      new Uint8Array([0x3c]),
      new Uint8Array(depth).fill(0x1c),
      new Uint8Array(depth + 2),
    );
    const report = await validate(parquetFile(footer));
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toMatch(/nested more than 24 levels deep/);
  });

  it("a column group claiming −1 children (hyparquet's footer parse would loop forever on it) is refused first", async () => {
    const schema = [
      schemaElement({ name: 'root', numChildren: 2 }),
      roadSchema()[1]!,
      schemaElement({ name: 'nested', numChildren: -1 }),
    ];
    const report = await validate(parquetFile(fileMetaData({ schema, numRows: 0, rowGroups: [] })));
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toContain('"nested" claims -1 children');
  });

  it('a column without a name (a required field) is corrupt, not a crash', async () => {
    const nameless = { ...schemaElement({ name: 'x', type: PARQUET.type.INT32 }), 4: undefined };
    const schema = [schemaElement({ name: 'root', numChildren: 4 }), ...roadSchema().slice(1), nameless];
    for (const validateInput of [validateRoadMatchingInput, validateLaneLevelInput]) {
      const report = await validateInput(
        bufferAsyncBuffer(parquetFile(fileMetaData({ schema, numRows: 0, rowGroups: [] }))),
      );
      expect(failing(report)).toEqual(['parquet-readable']);
      expect(report.problems[0]!.message).toContain('schema element 4 has no name');
    }
  });

  it('a schema wider than the validator reads: schema-width', async () => {
    const schema = [schemaElement({ name: 'root', numChildren: 12 }), ...roadSchema().slice(1)];
    for (let k = 0; k < 9; k++) schema.push(schemaElement({ name: `extra${k}`, type: PARQUET.type.INT32 }));
    const report = await validate(parquetFile(fileMetaData({ schema, numRows: 0, rowGroups: [] })), {
      maxSchemaElements: 10,
    });
    expect(failing(report)).toEqual(['schema-width']);
  });

  it('a schema whose groups claim more children than exist, or a negative count, is corrupt', async () => {
    for (const root of [
      schemaElement({ name: 'root', numChildren: 7 }),
      schemaElement({ name: 'root', numChildren: -3 }),
    ]) {
      const schema = [root, ...roadSchema().slice(1)];
      const report = await validate(parquetFile(fileMetaData({ schema, numRows: 0, rowGroups: [] })));
      expect(failing(report)).toEqual(['parquet-readable']);
      expect(report.problems[0]!.message).toMatch(/schema is inconsistent/);
    }
  });
});

describe('row groups and column chunks', () => {
  const ids = [11n, 12n, 13n];
  const roads = craftedRoads(ids, [road(1), road(2), road(3)], [true, false, null]);

  it('a hand-built file with true claims validates', async () => {
    const report = await validate(craftedFile(roads, 3));
    expect(report.problems).toEqual([]);
    expect(report.checkedRows).toBe(3);
  });

  it('a footer row count that disagrees with its row groups, or is negative, is corrupt', async () => {
    for (const numRows of [4, -1n]) {
      const report = await validate(craftedFile(roads, 3, { numRows }));
      expect(failing(report)).toEqual(['parquet-readable']);
    }
  });

  it.each([
    ['a negative offset', { dataPageOffset: -40 }],
    ['an offset past the data', { dataPageOffset: 1_000_000 }],
    ['a size overflowing the file', { totalCompressedSize: 2n ** 62n }],
    ['a negative size', { totalCompressedSize: -5 }],
  ])(
    '%s in a column chunk is corrupt, named with the column and rows, and nothing is read for it',
    async (_, override) => {
      const bytes = craftedFile(roads, 3, {
        chunk: (spec) => (spec.path[0] === 'geometry' ? { ...spec, ...override } : spec),
      });
      const file = counted(bytes);
      const report = await validateRoadMatchingInput(file.file);
      expect(failing(report)).toEqual(['parquet-readable']);
      expect(report.problems[0]!.message).toMatch(/Row group 0 \(rows 0–2\): column "geometry"/);
      expect(file.largest()).toBeLessThanOrEqual(bytes.byteLength);
    },
  );

  it('a row count its chunk bytes could not encode is corrupt, even when every count agrees', async () => {
    const report = await validate(craftedFile(roads, 2 ** 31), { maxRows: 3_000_000_000 });
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toMatch(
      /column "id" claims 2,147,483,648 rows in \d+ bytes, more than those bytes can encode/,
    );
  });

  it('a chunk whose num_values disagrees with the row group is corrupt', async () => {
    const report = await validate(
      craftedFile(roads, 3, { chunk: (spec) => ({ ...spec, numValues: 2 ** 31 }) }),
    );
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toMatch(/holds 2147483648 values for 3 rows/);
  });

  it('a row group over VALIDATION_MAX_ROW_GROUP_BYTES: row-group-size, and its chunks are not fetched', async () => {
    const bytes = roadMatchingSample('valid', { rows: 40_000, seed: 5 });
    const file = counted(bytes);
    const report = await validateRoadMatchingInput(file.file, { limits: { maxRowGroupBytes: 1024 * 1024 } });
    expect(failing(report)).toEqual(['row-group-size']);
    // hyparquet-writer's first row group has 1,000 rows; the second, the other 39,000, is too large.
    expect(report.problems[0]!.message).toMatch(
      /Row group 1 \(rows 1,000–39,999\) stores [\d.]+ MB of id, geometry, is_navigable/,
    );
    expect(report.problems[0]!.message).toContain('row_group_size=');
    expect(file.largest()).toBeLessThan(64 * 1024);
  });
});

describe('pages', () => {
  const geometry = (pages: Uint8Array) => {
    const roads = craftedRoads([1n], [road(1)], [true]);
    roads[1] = { ...roads[1]!, pages };
    return craftedFile(roads, 1);
  };
  const onePage = (body: Uint8Array, header: Partial<Parameters<typeof dataPage>[0]> = {}) =>
    geometry(dataPage({ numValues: 1, body, ...header }));
  const valid = concatBytes(levelBlock(rleRun(1, 1)), plainStrings([road(1)]));

  it('a page claiming 1 GiB decompressed: page-size, before any buffer is sized from it', async () => {
    const roads = craftedRoads([1n], [road(1)], [true]);
    roads[0] = {
      ...roads[0]!,
      codec: PARQUET.codec.SNAPPY,
      pages: dataPage({ numValues: 1, body: plainInt64([1n]), uncompressedSize: 2 ** 30 }),
    };
    const report = await validate(craftedFile(roads, 1));
    expect(failing(report)).toEqual(['page-size']);
    expect(report.problems[0]).toMatchObject({ row: 0, column: 'id' });
    expect(report.problems[0]!.message).toMatch(
      /is 1 GiB decompressed, more than the 32 MiB a page may take/,
    );
    expect(report.problems[0]!.message).toContain('VALIDATION_MAX_ROW_GROUP_BYTES');
  });

  it('a geometry page claiming 1 GiB for one value: value-size, the more telling finding', async () => {
    const report = await validate(onePage(valid, { uncompressedSize: 2 ** 30 }));
    expect(failing(report)).toEqual(['value-size']);
    expect(report.problems[0]).toMatchObject({ row: 0, column: 'geometry' });
  });

  it('a page claiming more values than a page may hold: page-size', async () => {
    const report = await validate(geometry(dataPage({ numValues: 2 ** 28, body: valid })));
    expect(failing(report)).toEqual(['page-size']);
    expect(report.problems[0]!.message).toMatch(/claims 268,435,456 values, more than the 8,388,608/);
  });

  it('a page claiming more stored bytes than the chunk has is corrupt', async () => {
    const report = await validate(onePage(valid, { compressedSize: 10_000 }));
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toMatch(/claims 10000 stored bytes/);
  });

  it('an RLE run of 2³⁰ definition levels in a one-value page (hyparquet would write them all) is corrupt', async () => {
    const body = concatBytes(levelBlock(rleRun(2 ** 30, 1)), plainStrings([road(1)]));
    const report = await validate(onePage(body));
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toMatch(/a run of 1,073,741,824 values where 1 are left/);
  });

  it('an RLE run of 2³⁰ dictionary indexes is corrupt too', async () => {
    const body = concatBytes(levelBlock(rleRun(1, 1)), new Uint8Array([8]), rleRun(2 ** 30, 0));
    const report = await validate(onePage(body, { encoding: PARQUET.encoding.RLE_DICTIONARY }));
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]!.message).toMatch(/a run of 1,073,741,824 values/);
  });

  it('a GZIP page that inflates past the size it states stops at that size (no decompression bomb)', async () => {
    const bomb = gzipSync(new Uint8Array(32 * 1024 * 1024));
    const roads = craftedRoads([1n], [road(1)], [true]);
    roads[1] = {
      ...roads[1]!,
      codec: PARQUET.codec.GZIP,
      pages: dataPage({ numValues: 1, body: bomb, uncompressedSize: 4096 }),
    };
    const report = await validate(craftedFile(roads, 1));
    expect(failing(report)).toEqual(['parquet-readable']);
    expect(report.problems[0]).toMatchObject({ column: 'geometry', row: 0 });
  });

  it('pages whose values do not add up to the row group are corrupt', async () => {
    const short = craftedRoads([1n, 2n], [road(1), road(2)], [true, true]);
    short[1] = { ...short[1]!, pages: dataPage({ numValues: 1, body: valid }) };
    const bad = await validate(craftedFile(short, 2));
    expect(failing(bad)).toEqual(['parquet-readable']);
    expect(bad.problems[0]!.message).toMatch(/its pages hold 1 values for the 2 rows/);
  });
});

describe('values and rows', () => {
  const limits = { maxValueBytes: 1024, maxRowBytes: 1500 };

  it('a value over VALIDATION_MAX_VALUE_BYTES among small ones: value-size at its row, the others still checked', async () => {
    const long = `LINESTRING (${Array.from({ length: 70 }, (_, k) => `4.${8900 + k} 52.3702`).join(', ')})`;
    expect(long.length).toBeGreaterThan(1024);
    const geometries = [road(0), road(1), long, road(3), 'POINT (1 2)'];
    const bytes = craftedFile(
      craftedRoads([1n, 2n, 3n, 4n, 5n], geometries, [true, true, true, true, true]),
      5,
    );
    const report = await validate(bytes, limits);
    expect(failing(report).sort()).toEqual(['geometry-wkt-linestring', 'value-size']);
    expect(report.problems.find((p) => p.rule === 'value-size')).toMatchObject({
      row: 2,
      column: 'geometry',
    });
    expect(report.problems.find((p) => p.rule === 'value-size')!.message).toContain(
      'VALIDATION_MAX_VALUE_BYTES',
    );
    expect(report.checkedRows).toBe(5);
  });

  it('a row over VALIDATION_MAX_ROW_BYTES (id and geometry each within the value limit): row-size at its row', async () => {
    const id = `road-${'x'.repeat(900)}`;
    const geometry = `LINESTRING (${Array.from({ length: 50 }, (_, k) => `4.${8900 + k} 52.3702`).join(', ')})`;
    const columns = [
      {
        path: 'id',
        type: PARQUET.type.BYTE_ARRAY,
        pages: dataPage({
          numValues: 2,
          body: concatBytes(levelBlock(rleRun(2, 1)), plainStrings(['a', id])),
        }),
      },
      ...craftedRoads([0n, 0n], [road(0), geometry], [true, true]).slice(1),
    ];
    const schema = roadSchema();
    schema[1] = schemaElement({
      name: 'id',
      type: PARQUET.type.BYTE_ARRAY,
      repetition: PARQUET.repetition.OPTIONAL,
      convertedType: PARQUET.converted.UTF8,
    });
    const report = await validate(craftedFile(columns, 2, { schema }), limits);
    expect(failing(report)).toEqual(['row-size']);
    expect(report.problems[0]).toMatchObject({ row: 1, rule: 'row-size' });
    expect(report.problems[0]!.message).toContain('VALIDATION_MAX_ROW_BYTES');
  });

  it('more rows than VALIDATION_MAX_ROWS: row-limit, no row read', async () => {
    const file = counted(roadMatchingSample('valid', { rows: 200 }));
    const report = await validateRoadMatchingInput(file.file, { limits: { maxRows: 199 } });
    expect(failing(report)).toEqual(['row-limit']);
    expect(file.slices).toHaveLength(2); // the tail, then the footer
  });
});

describe('bounded reading', () => {
  it('reads in batches of VALIDATION_BATCH_ROWS, each chunk fetched once, and finds duplicates across batches and row groups', async () => {
    const bytes = roadMatchingSample('duplicate-ids', { rows: 3000, rowGroupSize: 1000, seed: 9 });
    const file = counted(bytes);
    const batched = await validateRoadMatchingInput(file.file, { limits: { batchRows: 97 } });
    const whole = await validate(bytes);
    expect(batched.problems).toEqual(whole.problems);
    expect(batched.checkedRows).toBe(3000);
    expect(failing(batched)).toEqual(['id-unique']);
    // Every byte of the file at most once, plus the tail and footer read twice.
    expect(file.bytes()).toBeLessThan(bytes.byteLength + 2 * 64 * 1024);
  });

  it('checks ids in several passes when the id index would exceed its memory, with the same findings', async () => {
    const rows = 6000;
    const ids = Array.from({ length: rows }, (_, k) => BigInt(1_000_000 + k));
    for (const [dup, of] of [
      [4000, 17],
      [5999, 3001],
      [2500, 2499],
    ] as const)
      ids[dup] = ids[of]!;
    const columns = craftedRoads(
      ids,
      ids.map((_, k) => road(k % 1000)),
      ids.map(() => true),
    );
    const bytes = craftedFile(columns, rows);
    const single = await validate(bytes);
    const multi = await validate(bytes, { maxIdIndexBytes: 12 * 1024 });
    const pairs = (r: ValidationReport) => r.problems.map((p) => `${p.row}:${p.message}`).sort();
    expect(pairs(single)).toEqual([
      '2500:duplicate id; first used at row 2499',
      '4000:duplicate id; first used at row 17',
      '5999:duplicate id; first used at row 3001',
    ]);
    expect(pairs(multi)).toEqual(pairs(single));
    expect(multi.notes.join(' ')).toMatch(/in 6 passes over the id column/);
  });
});
