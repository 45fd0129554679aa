// Property tests of the Parquet footer reader and page checks: random bytes, real footers with random damage,
// hand-built metadata whose every count and offset is drawn from the values that break readers (negative,
// 2³¹, 2⁶³−1, past the end), and real column chunks with damaged pages. Whatever the input, validation returns a
// report (it never throws: these buffers have no storage to fail), and what it reads stays within the bound it
// enforces: every slice inside the file and no larger than the footer or row-group limit, each byte fetched at
// most about twice. The limits are set small here so that the bound is tight.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  columnChunk,
  concatBytes,
  encodeStruct,
  fileMetaData,
  i32,
  i64,
  list,
  PARQUET,
  parquetFile,
  rowGroup,
  schemaElement,
  structs,
  T,
  type ThriftFields,
} from '../../../local/standins/parquetCraft.js';
import { laneLevelSample, roadMatchingSample } from '../../../local/standins/samples.js';
import type { AsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import { validateLaneLevelInput } from '../../../shared/parquet/laneLevel.js';
import type { ValidationLimits } from '../../../shared/parquet/limits.js';
import { RULE_IDS } from '../../../shared/parquet/report.js';
import { validateRoadMatchingInput } from '../../../shared/parquet/roadMatching.js';
import { readThriftStruct, ThriftBoundsError } from '../../../shared/parquet/thrift.js';

const LIMITS: Partial<ValidationLimits> = {
  maxFooterBytes: 64 * 1024,
  maxRowGroupBytes: 1024 * 1024,
  maxValueBytes: 4096,
  maxRowBytes: 8192,
  batchRows: 64,
  maxRows: 100_000,
};
const MAX_SLICE = Math.max(LIMITS.maxFooterBytes! + 8, LIMITS.maxRowGroupBytes!);

/** Validates through a buffer that records every slice, and checks the bound on what was read. */
async function validateBounded(bytes: Uint8Array, lane = false) {
  const slices: [number, number][] = [];
  const file: AsyncBuffer = {
    byteLength: bytes.byteLength,
    slice: (start: number, end?: number) => {
      slices.push([start, end ?? bytes.byteLength]);
      return bytes.slice(start, end).buffer as ArrayBuffer;
    },
  };
  const report = lane
    ? await validateLaneLevelInput(file, { limits: LIMITS })
    : await validateRoadMatchingInput(file, { limits: LIMITS });
  for (const [start, end] of slices) {
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeLessThanOrEqual(bytes.byteLength);
    expect(end - start).toBeLessThanOrEqual(MAX_SLICE);
  }
  const read = slices.reduce((n, [s, e]) => n + (e - s), 0);
  // The tail and footer are read twice (8 bytes, then the footer with them); every other byte at most once,
  // plus the few-KiB gaps hyparquet joins between neighbouring chunks.
  expect(read).toBeLessThanOrEqual(2 * bytes.byteLength + 16);
  expect(RULE_IDS).toEqual(expect.arrayContaining(Object.keys(report.problemCounts)));
  // A valid road report checked every row; lane-level checks are structural only.
  if (report.valid && !lane) expect(report.checkedRows).toBe(report.rowCount);
  expect(report.checkedRows).toBeLessThanOrEqual(Math.max(report.rowCount, 0));
  return report;
}

const footerOf = (bytes: Uint8Array) => {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.byteLength - 8, true);
  return { start: bytes.byteLength - 8 - length, end: bytes.byteLength - 8 };
};

const BASES = [
  roadMatchingSample('valid', { rows: 30, seed: 1 }),
  roadMatchingSample('duplicate-ids', { rows: 300, rowGroupSize: 100, seed: 2 }),
  roadMatchingSample('valid', { rows: 40, idType: 'string', seed: 3 }),
];

/** Damage to apply at a position (taken modulo the region's length). */
const damage = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('set', 'varint', 'insert', 'delete', 'list'),
  byte: fc.integer({ min: 0, max: 255 }),
});

function damaged(region: Uint8Array, edits: { at: number; kind: string; byte: number }[]): Uint8Array {
  let bytes = Array.from(region);
  for (const { at, kind, byte } of edits) {
    const k = bytes.length ? at % bytes.length : 0;
    if (kind === 'set') bytes[k] = byte;
    else if (kind === 'insert') bytes.splice(k, 0, byte);
    else if (kind === 'delete') bytes.splice(k, 1);
    // A 5-byte varint claiming ~2³² (a length, a count, a list size), or a list header claiming a varint size.
    else if (kind === 'varint') bytes.splice(k, 1, 0xff, 0xff, 0xff, 0xff, 0x0f);
    else bytes.splice(k, 1, 0xf0 | (byte & 0x0f), 0xff, 0xff, 0xff, 0x7f);
    if (bytes.length === 0) bytes = [0];
  }
  return new Uint8Array(bytes);
}

describe('footer fuzzing', () => {
  it('random bytes, with or without the Parquet markers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2048 }),
        fc.boolean(),
        fc.nat(),
        async (body, marked, claimed) => {
          const bytes = marked ? parquetFile(body, new Uint8Array(0), claimed % (body.length + 64)) : body;
          await validateBounded(bytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('real footers with random damage, and a random footer length', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...BASES),
        fc.array(damage, { minLength: 1, maxLength: 6 }),
        fc.option(fc.integer({ min: -64, max: 64 })),
        async (base, edits, lengthDelta) => {
          const { start, end } = footerOf(base);
          const footer = damaged(base.subarray(start, end), edits);
          const bytes = concatBytes(base.subarray(0, start), footer, new Uint8Array(8));
          new DataView(bytes.buffer).setUint32(
            bytes.byteLength - 8,
            Math.max(0, footer.byteLength + (lengthDelta ?? 0)),
            true,
          );
          bytes.set([0x50, 0x41, 0x52, 0x31], bytes.byteLength - 4);
          await validateBounded(bytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lane-level footers with random damage', async () => {
    const base = laneLevelSample({ rows: 5 });
    const { start, end } = footerOf(base);
    await fc.assert(
      fc.asyncProperty(fc.array(damage, { minLength: 1, maxLength: 4 }), async (edits) => {
        const footer = damaged(base.subarray(start, end), edits);
        await validateBounded(parquetFile(footer, base.subarray(4, start)), true);
      }),
      { numRuns: 150 },
    );
  });
});

/** The counts and offsets that break readers. */
const hostileInt = fc.oneof(
  fc.constantFrom(
    0n,
    1n,
    -1n,
    4n,
    2n ** 31n - 1n,
    2n ** 31n,
    2n ** 32n,
    2n ** 53n,
    2n ** 63n - 1n,
    -(2n ** 63n),
  ),
  fc.bigInt({ min: 0n, max: 5000n }),
);

const schemaArb = fc.oneof(
  // Flat, with the road columns and random extras.
  fc.array(fc.constantFrom(0, 1, 2, 6), { maxLength: 12 }).map((types) => [
    schemaElement({ name: 'root', numChildren: 3 + types.length }),
    schemaElement({ name: 'id', type: PARQUET.type.INT64, repetition: PARQUET.repetition.REQUIRED }),
    schemaElement({
      name: 'geometry',
      type: PARQUET.type.BYTE_ARRAY,
      repetition: PARQUET.repetition.OPTIONAL,
      convertedType: PARQUET.converted.UTF8,
    }),
    schemaElement({
      name: 'is_navigable',
      type: PARQUET.type.BOOLEAN,
      repetition: PARQUET.repetition.OPTIONAL,
    }),
    ...types.map((type, k) => schemaElement({ name: `c${k}`, type })),
  ]),
  // A chain of groups of random depth, and children counts that may lie.
  fc
    .tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: -2, max: 3 }))
    .map(([depth, lie]) => [
      schemaElement({ name: 'root', numChildren: 1 }),
      ...Array.from({ length: depth }, (_, k) =>
        schemaElement({ name: `g${k}`, numChildren: k === 0 ? 1 + lie : 1 }),
      ),
      schemaElement({ name: 'leaf', type: PARQUET.type.INT32 }),
    ]),
);

const chunkArb = fc.record({
  path: fc.constantFrom<string[]>(['id'], ['geometry'], ['is_navigable'], ['c0'], []),
  type: fc.constantFrom<number>(0, 1, 2, 6),
  numValues: hostileInt,
  dataPageOffset: hostileInt,
  dictionaryPageOffset: fc.option(hostileInt, { nil: undefined }),
  totalCompressedSize: hostileInt,
});

describe('hand-built hostile metadata', () => {
  it('any row counts, offsets, sizes, schemas and list sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        schemaArb,
        hostileInt,
        fc.array(fc.tuple(hostileInt, fc.array(chunkArb, { maxLength: 5 })), { maxLength: 3 }),
        fc.uint8Array({ maxLength: 512 }),
        fc.option(fc.constantFrom(2 ** 20, 2 ** 30, 2 ** 31 - 1), { nil: undefined }),
        async (schema, numRows, groups, data, claimedGroups) => {
          const rowGroups = groups.map(([rows, chunks]) => rowGroup(chunks.map(columnChunk), rows));
          const metadata: ThriftFields = fileMetaData({
            schema,
            numRows,
            rowGroups:
              claimedGroups === undefined
                ? rowGroups
                : list(
                    T.STRUCT,
                    rowGroups.map((g) => ({ t: 'struct', v: g })),
                    claimedGroups,
                  ),
          });
          await validateBounded(parquetFile(metadata, data));
        },
      ),
      { numRuns: 300, timeout: 3000 },
    );
  });
});

describe('page fuzzing', () => {
  it('real column chunks with damaged pages', async () => {
    const base = roadMatchingSample('valid', { rows: 200, rowGroupSize: 100, seed: 4 });
    const { start } = footerOf(base);
    await fc.assert(
      fc.asyncProperty(fc.array(damage, { minLength: 1, maxLength: 6 }), async (edits) => {
        // Same-length damage only, so the footer's offsets still point at (damaged) pages.
        const data = base.slice(4, start);
        for (const { at, byte, kind } of edits) {
          const k = at % data.length;
          if (kind === 'varint') data.set([0xff, 0xff, 0xff, 0xff, 0x0f].slice(0, data.length - k), k);
          else data[k] = byte;
        }
        await validateBounded(concatBytes(base.subarray(0, 4), data, base.subarray(start)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('the bounded Thrift reader', () => {
  it('either reads a struct within its bounds or throws ThriftBoundsError, on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const bounds = { maxDepth: 8, maxObjects: 64 };
        try {
          const read = readThriftStruct(bytes, 0, bytes.byteLength, bounds);
          expect(read.depth).toBeLessThanOrEqual(bounds.maxDepth);
          expect(read.objects).toBeLessThanOrEqual(bounds.maxObjects);
          expect(read.end).toBeLessThanOrEqual(bytes.byteLength);
        } catch (err) {
          expect(err).toBeInstanceOf(ThriftBoundsError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reads what the encoder wrote', () => {
    const bytes = encodeStruct({ 1: i32(-7), 3: i64(2n ** 40n), 4: structs([{ 1: i32(1) }, {}]) });
    const read = readThriftStruct(bytes, 0, bytes.byteLength, { maxDepth: 8, maxObjects: 64 });
    expect(read.value).toEqual({ 1: -7, 3: 2n ** 40n, 4: [{ 1: 1 }, {}] });
    expect(read.end).toBe(bytes.byteLength);
  });
});
