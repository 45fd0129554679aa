/**
 * Unit tests of `shared/parquet/roadMatching.ts`: validateRoadMatchingInput on generated samples;
 * validateRoadMatchingInput on hand-built files.
 */
import type { ColumnSource, SchemaElement } from 'hyparquet-writer';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import {
  ROAD_SAMPLE_KINDS,
  type RoadSampleKind,
  roadMatchingRecords,
  roadMatchingSample,
} from '../../../local/standins/samples.js';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import {
  estimateSegments,
  RULE_IDS,
  type RuleId,
  type ValidationReport,
} from '../../../shared/parquet/report.js';
import { validateRoadMatchingInput } from '../../../shared/parquet/roadMatching.js';

const validate = (bytes: Uint8Array | ArrayBuffer, maxProblems?: number) =>
  validateRoadMatchingInput(bufferAsyncBuffer(bytes), { maxProblems });

const write = (columnData: ColumnSource[], schema?: SchemaElement[]) =>
  parquetWriteBuffer({ columnData, ...(schema ? { schema } : {}) });

const line = (i: number) => `LINESTRING (4.${8900 + i} 52.3702, 4.${8900 + i} 52.3710)`;
const lines = (n: number) => Array.from({ length: n }, (_, i) => line(i));

/** Rules with a non-zero count. */
const failing = (r: ValidationReport) =>
  Object.entries(r.problemCounts)
    .filter(([, n]) => n > 0)
    .map(([rule]) => rule);

const expectedRule: Record<Exclude<RoadSampleKind, 'valid'>, RuleId> = {
  'not-parquet': 'parquet-readable',
  'missing-id': 'id-present',
  'missing-geometry': 'geometry-present',
  'duplicate-ids': 'id-unique',
  'not-a-linestring': 'geometry-wkt-linestring',
  'single-point': 'geometry-min-points',
  'coordinates-out-of-range': 'geometry-coordinate-range',
  'non-boolean-is-navigable': 'is-navigable-type',
};

describe('validateRoadMatchingInput on generated samples', () => {
  for (const idType of ['int32', 'int64', 'string'] as const) {
    it(`accepts a valid file with ${idType} ids and reports its columns`, async () => {
      const report = await validate(roadMatchingSample('valid', { rows: 120, idType, seed: 7 }));
      expect(report.problems).toEqual([]);
      expect(report.valid).toBe(true);
      expect(report.rowCount).toBe(120);
      expect(report.checkedRows).toBe(120);
      expect(report.columns).toEqual([
        { name: 'id', type: { int32: 'INT32', int64: 'INT64', string: 'STRING' }[idType] },
        { name: 'geometry', type: 'STRING' },
        { name: 'is_navigable', type: 'BOOLEAN' },
      ]);
    });
  }

  for (const kind of ROAD_SAMPLE_KINDS.filter((k): k is Exclude<RoadSampleKind, 'valid'> => k !== 'valid')) {
    it(`finds exactly the '${expectedRule[kind]}' defect in a '${kind}' sample, at the rows it was put`, async () => {
      const options = { rows: 80, seed: 3 };
      const report = await validate(roadMatchingSample(kind, options));
      expect(report.valid).toBe(false);
      expect(failing(report)).toEqual([expectedRule[kind]]);
      const { defectRows } = roadMatchingRecords(kind, options);
      expect(report.problems.map((p) => p.row).filter((r) => r !== undefined)).toEqual(defectRows);
    });
  }

  it('names the first occurrence of a duplicate id', async () => {
    const options = { rows: 60, seed: 11 };
    const { duplicateOf, defectRows } = roadMatchingRecords('duplicate-ids', options);
    const report = await validate(roadMatchingSample('duplicate-ids', options));
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatchObject({ row: defectRows[0], column: 'id', rule: 'id-unique' });
    expect(report.problems[0]!.message).toContain(`row ${duplicateOf}`);
  });

  it('hints that longitude must come first when latitude was written first', async () => {
    const report = await validate(roadMatchingSample('coordinates-out-of-range', { rows: 10 }));
    expect(report.problems[0]!.message).toMatch(/longitude must come first/);
  });

  it('notes null is_navigable values and a missing is_navigable column', async () => {
    const options = { rows: 200, seed: 5 };
    const nulls = roadMatchingRecords('valid', options).isNavigable!.filter((v) => v === null).length;
    expect(nulls).toBeGreaterThan(0);
    const withColumn = await validate(roadMatchingSample('valid', options));
    expect(withColumn.notes.join('\n')).toContain(`${nulls} rows have a null is_navigable`);
    const without = await validate(roadMatchingSample('valid', { ...options, withIsNavigable: false }));
    expect(without.valid).toBe(true);
    expect(without.notes.join('\n')).toMatch(/every road as navigable/);
  });

  it('reads every row group of a multi-row-group file', async () => {
    const report = await validate(
      roadMatchingSample('single-point', { rows: 500, rowGroupSize: 64, seed: 9 }),
    );
    expect(report.checkedRows).toBe(500);
    expect(report.problems.map((p) => p.row)).toEqual(
      roadMatchingRecords('single-point', { rows: 500, seed: 9 }).defectRows,
    );
  });
});

describe('validateRoadMatchingInput on hand-built files', () => {
  it('accepts int32, int64 and string ids and rejects other id types with the actual type', async () => {
    const geometry: ColumnSource = { name: 'geometry', data: lines(3), type: 'STRING' };
    for (const [data, type] of [
      [[1, 2, 3], 'INT32'],
      [[1n, 2n, 3n], 'INT64'],
      [['a', 'b', 'c'], 'STRING'],
    ] as const) {
      expect((await validate(write([{ name: 'id', data: [...data], type }, geometry]))).valid).toBe(true);
    }
    for (const [data, type, shown] of [
      [[1.5, 2.5, 3.5], 'DOUBLE', 'DOUBLE'],
      [[new Date(0), new Date(1), new Date(2)], 'TIMESTAMP', 'INT64 (TIMESTAMP_MILLIS)'],
      [[true, false, true], 'BOOLEAN', 'BOOLEAN'],
    ] as const) {
      const report = await validate(write([{ name: 'id', data: [...data], type }, geometry]));
      expect(failing(report)).toEqual(['id-type']);
      expect(report.problems[0]).toMatchObject({ rule: 'id-type', column: 'id', value: shown });
    }
  });

  it('reports each null and empty id with its row', async () => {
    const report = await validate(
      write([
        { name: 'id', data: ['a', null, 'c', '  ', null], type: 'STRING' },
        { name: 'geometry', data: lines(5), type: 'STRING' },
      ]),
    );
    expect(failing(report)).toEqual(['id-not-null']);
    expect(report.problems.map((p) => p.row)).toEqual([1, 3, 4]);
  });

  it('reports null geometries and a non-string geometry column', async () => {
    const nulls = await validate(
      write([
        { name: 'id', data: [1, 2, 3], type: 'INT32' },
        { name: 'geometry', data: [line(0), null, line(2)], type: 'STRING' },
      ]),
    );
    expect(nulls.problems).toEqual([expect.objectContaining({ row: 1, rule: 'geometry-not-null' })]);

    const wkb = await validate(
      write([
        { name: 'id', data: [1], type: 'INT32' },
        {
          name: 'geometry',
          data: [
            {
              type: 'LineString',
              coordinates: [
                [4.89, 52.37],
                [4.9, 52.38],
              ],
            },
          ],
          type: 'GEOMETRY',
        },
      ]),
    );
    expect(failing(wkb)).toEqual(['geometry-type']);
    expect(wkb.problems[0]!.message).toMatch(/WKB/);
  });

  it('points at a near-miss column name', async () => {
    const report = await validate(
      write([
        { name: 'ID', data: [1, 2], type: 'INT32' },
        { name: 'geom', data: lines(2), type: 'STRING' },
      ]),
    );
    expect(failing(report).sort()).toEqual(['geometry-present', 'id-present']);
    expect(report.problems.map((p) => p.message).join('\n')).toMatch(
      /Rename "ID" to "id"[\s\S]*Rename "geom" to "geometry"/,
    );
  });

  it('rejects LINESTRING Z and out-of-range coordinates without a swap hint when swapping would not help', async () => {
    const report = await validate(
      write([
        { name: 'id', data: [1, 2, 3], type: 'INT32' },
        {
          name: 'geometry',
          data: ['LINESTRING Z (4.89 52.37 1, 4.90 52.38 2)', 'LINESTRING (200 10, 201 11)', line(2)],
          type: 'STRING',
        },
      ]),
    );
    expect(report.problems.map((p) => [p.row, p.rule])).toEqual([
      [0, 'geometry-wkt-linestring'],
      [1, 'geometry-coordinate-range'],
    ]);
    expect(report.problems[1]!.message).not.toMatch(/longitude must come first/);
  });

  it('lists the first 100 of 250 problems and counts all of them', async () => {
    const rows = 400;
    const geometry = lines(rows).map((g, i) => (i % 8 < 5 && i < 400 ? 'POINT (4.89 52.37)' : g));
    const bad = geometry.filter((g) => g.startsWith('POINT')).length;
    expect(bad).toBe(250);
    const report = await validate(
      parquetWriteBuffer({
        columnData: [
          { name: 'id', data: Array.from({ length: rows }, (_, i) => i), type: 'INT32' },
          { name: 'geometry', data: geometry, type: 'STRING' },
        ],
        rowGroupSize: 50,
      }),
    );
    expect(report.problems).toHaveLength(100);
    expect(report.problemCounts['geometry-wkt-linestring']).toBe(250);
    expect(report.truncated).toBe(true);
    const firstBadRows = geometry.flatMap((g, i) => (g.startsWith('POINT') ? [i] : [])).slice(0, 100);
    expect(report.problems.map((p) => p.row)).toEqual(firstBadRows);
    const small = await validate(
      write([
        { name: 'id', data: [1, 1, 1], type: 'INT32' },
        { name: 'geometry', data: lines(3), type: 'STRING' },
      ]),
      1,
    );
    expect(small.problems).toHaveLength(1);
    expect(small.problemCounts['id-unique']).toBe(2);
  });

  it('has a count for every rule id, and truncated values', async () => {
    const long = `LINESTRING (${Array.from({ length: 100 }, () => '500.123456 500.123456').join(', ')})`;
    const report = await validate(
      write([
        { name: 'id', data: [1], type: 'INT32' },
        { name: 'geometry', data: [long], type: 'STRING' },
      ]),
    );
    expect(Object.keys(report.problemCounts).sort()).toEqual([...RULE_IDS].sort());
    expect(report.problems[0]!.value!.length).toBeLessThanOrEqual(120);
  });

  it('reports garbage and truncated files as unreadable, and estimates no segments for them', async () => {
    const tiny = await validate(new Uint8Array([1, 2, 3]));
    expect(failing(tiny)).toEqual(['parquet-readable']);
    const good = new Uint8Array(roadMatchingSample('valid', { rows: 30 }));
    const cut = good.slice(0, good.length - 20);
    const cutReport = await validate(cut);
    expect(failing(cutReport)).toEqual(['parquet-readable']);
    expect(estimateSegments(cutReport)).toBe(0);
    // Footer intact, data pages corrupted: decoding fails on the row group, not the footer.
    const corrupt = good.slice();
    for (let i = 4; i < 200; i++) corrupt[i] = 0xff;
    const corruptReport = await validate(corrupt);
    expect(failing(corruptReport)).toEqual(['parquet-readable']);
    expect(corruptReport.problems[0]!.message).toMatch(/Row group 0/);
  });

  it('estimates one segment per row of a readable file', async () => {
    expect(estimateSegments(await validate(roadMatchingSample('valid', { rows: 77 })))).toBe(77);
  });

  it('re-throws storage failures instead of calling the file unreadable', async () => {
    const bytes = roadMatchingSample('valid', { rows: 20 });
    const failure = new Error('connection reset');
    let calls = 0;
    const flaky = {
      byteLength: bytes.byteLength,
      slice: async (s: number, e?: number) => {
        calls++;
        if (calls > 2) throw failure;
        return bufferAsyncBuffer(bytes).slice(s, e);
      },
    };
    await expect(validateRoadMatchingInput(flaky)).rejects.toBe(failure);
  });
});
