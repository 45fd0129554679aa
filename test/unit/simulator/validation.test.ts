/**
 * Unit tests of `local/standins/simulator/validation.ts`: ROAD_MATCHING validation against the shared samples;
 * check order; is_navigable semantics; parseLineString; LANE_LEVEL_MATCHING structural check.
 */
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import {
  laneLevelSample,
  ROAD_SAMPLE_KINDS,
  type RoadSampleKind,
  roadMatchingRecords,
  roadMatchingSample,
} from '../../../local/standins/samples.js';
import {
  failureMessage,
  parseLineString,
  ROAD_CHECKS,
  validateLaneLevelInput,
  validateRoadMatchingInput,
} from '../../../local/standins/simulator/validation.js';

const parquet = (columnData: Parameters<typeof parquetWriteBuffer>[0]['columnData']) =>
  new Uint8Array(parquetWriteBuffer({ columnData }));

const EXPECTED_CHECK: Record<Exclude<RoadSampleKind, 'valid'>, string> = {
  'not-parquet': 'parquet-readable',
  'missing-id': 'id-column-present',
  'missing-geometry': 'geometry-column-present',
  'duplicate-ids': 'id-unique',
  'not-a-linestring': 'geometry-linestring',
  'single-point': 'geometry-linestring',
  'coordinates-out-of-range': 'geometry-linestring',
  'non-boolean-is-navigable': 'is-navigable-boolean',
};

const EXPECTED_REASON: Record<Exclude<RoadSampleKind, 'valid'>, RegExp> = {
  'not-parquet': /not a readable Parquet file/,
  'missing-id': /required column 'id' is missing/,
  'missing-geometry': /required column 'geometry' is missing/,
  'duplicate-ids': /'id' values must be unique/,
  'not-a-linestring': /must be a WKT LINESTRING, got POINT|extra parentheses/,
  'single-point': /at least 2 points, this one has 1/,
  'coordinates-out-of-range': /out of range/,
  'non-boolean-is-navigable': /'is_navigable' must be boolean; found type string/,
};

describe('ROAD_MATCHING validation against the shared samples', () => {
  for (const idType of ['int32', 'int64', 'string'] as const) {
    it(`accepts a valid file with ${idType} ids and returns every road with string ids`, async () => {
      const records = roadMatchingRecords('valid', { idType, rows: 30, seed: 7 });
      const result = await validateRoadMatchingInput(
        roadMatchingSample('valid', { idType, rows: 30, seed: 7 }),
      );
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.rows.map((r) => r.id)).toEqual(records.ids!.map(String));
      expect(result.rows.every((r) => r.coordinates.length >= 2)).toBe(true);
    });
  }

  for (const kind of ROAD_SAMPLE_KINDS.filter((k) => k !== 'valid')) {
    it(`fails '${kind}' at check ${EXPECTED_CHECK[kind]} with a specific message`, async () => {
      const records = roadMatchingRecords(kind, { seed: 3 });
      const result = await validateRoadMatchingInput(roadMatchingSample(kind, { seed: 3 }));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.check).toBe(EXPECTED_CHECK[kind]);
      const message = failureMessage(result);
      expect(message).toContain(`check '${EXPECTED_CHECK[kind]}'`);
      expect(message).toMatch(EXPECTED_REASON[kind]);
      if (records.defectRows.length > 0) {
        // The example row is the first defective row, reported 1-based.
        expect(result.rowNumber).toBe(records.defectRows[0]! + 1);
        expect(message).toContain(`Example: row ${records.defectRows[0]! + 1} {id=`);
      }
    });
  }
});

describe('check order', () => {
  it('lists the checks in the documented order', () => {
    expect(ROAD_CHECKS).toEqual([
      'parquet-readable',
      'id-column-present',
      'geometry-column-present',
      'id-type',
      'id-unique',
      'geometry-linestring',
      'is-navigable-boolean',
    ]);
  });

  it('reports the earliest failing check when a file has several defects', async () => {
    const dupAndBadGeometryAndBadNav = parquet([
      { name: 'id', data: [1, 1, 2], type: 'INT32' },
      { name: 'geometry', data: ['POINT (1 2)', 'POINT (1 2)', 'POINT (1 2)'], type: 'STRING' },
      { name: 'is_navigable', data: ['yes', 'no', 'yes'], type: 'STRING' },
    ]);
    const r1 = await validateRoadMatchingInput(dupAndBadGeometryAndBadNav);
    expect(r1.ok || r1.check).toBe('id-unique');

    const badIdTypeAndMissingGeometry = parquet([{ name: 'id', data: [1.5, 2.5], type: 'DOUBLE' }]);
    const r2 = await validateRoadMatchingInput(badIdTypeAndMissingGeometry);
    expect(r2.ok || r2.check).toBe('geometry-column-present');

    const badIdType = parquet([
      { name: 'id', data: [1.5, 2.5], type: 'DOUBLE' },
      { name: 'geometry', data: ['POINT (1 2)', 'POINT (1 2)'], type: 'STRING' },
    ]);
    const r3 = await validateRoadMatchingInput(badIdType);
    expect(r3.ok || r3.check).toBe('id-type');
    expect(r3.ok || r3.reason).toContain('expected int32, int64 or string');
  });

  it('treats a null id as a uniqueness failure on that row', async () => {
    const r = await validateRoadMatchingInput(
      parquet([
        { name: 'id', data: ['a', null], type: 'STRING' },
        { name: 'geometry', data: ['LINESTRING (1 2, 3 4)', 'LINESTRING (1 2, 3 4)'], type: 'STRING' },
      ]),
    );
    expect(r.ok || [r.check, r.rowNumber]).toEqual(['id-unique', 2]);
  });
});

describe('is_navigable semantics', () => {
  it('missing column → navigable; null in a present column → not navigable', async () => {
    const geometry = {
      name: 'geometry',
      data: ['LINESTRING (1 2, 3 4)', 'LINESTRING (1 2, 3 4)'],
      type: 'STRING' as const,
    };
    const without = await validateRoadMatchingInput(
      parquet([{ name: 'id', data: [1, 2], type: 'INT32' }, geometry]),
    );
    expect(without.ok && without.rows.map((r) => r.navigable)).toEqual([true, true]);
    const withNull = await validateRoadMatchingInput(
      parquet([
        { name: 'id', data: [1, 2], type: 'INT32' },
        geometry,
        { name: 'is_navigable', data: [true, null], type: 'BOOLEAN' },
      ]),
    );
    expect(withNull.ok && withNull.rows.map((r) => r.navigable)).toEqual([true, false]);
  });
});

describe('parseLineString', () => {
  it.each([
    [
      'LINESTRING (4.8952 52.3702, 4.8960 52.3710)',
      [
        [4.8952, 52.3702],
        [4.896, 52.371],
      ],
    ],
    [
      'linestring(0 0,1 1)',
      [
        [0, 0],
        [1, 1],
      ],
    ],
    [
      'LINESTRING Z (1 2 3, 4 5 6)',
      [
        [1, 2],
        [4, 5],
      ],
    ],
    [
      'LINESTRING (-180 -90, 180 90)',
      [
        [-180, -90],
        [180, 90],
      ],
    ],
  ])('parses %s', (wkt, coords) => {
    expect(parseLineString(wkt)).toEqual({ ok: true, coordinates: coords });
  });

  it.each([
    ['POINT (145.18 -37.87)', 'not-linestring'],
    ['LINESTRING (145.18156)', 'malformed'],
    ['LINESTRING ((145.18 -37.87, 145.19 -37.88))', 'malformed'],
    ['LINESTRING (145.18 -37.87)', 'too-few-points'],
    ['LINESTRING (-37.87 145.18, -37.88 145.19)', 'out-of-range'],
    ['LINESTRING (181 0, 0 0)', 'out-of-range'],
    ['LINESTRING (a b, c d)', 'malformed'],
    ['', 'not-linestring'],
    [null, 'not-string'],
    [42, 'not-string'],
  ])('rejects %j as %s', (wkt, kind) => {
    const r = parseLineString(wkt);
    expect(r.ok || r.kind).toBe(kind);
  });
});

describe('LANE_LEVEL_MATCHING structural check', () => {
  it('accepts id + points and rejects a file without points', async () => {
    const ok = await validateLaneLevelInput(laneLevelSample({ rows: 3 }));
    expect(ok.ok && ok.rows.length).toBe(3);
    const missing = await validateLaneLevelInput(parquet([{ name: 'id', data: ['t1'], type: 'STRING' }]));
    expect(missing.ok || missing.check).toBe('points-column-present');
  });
});
