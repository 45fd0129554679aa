/**
 * Unit tests of `shared/formats/normalise.ts`: normaliseFeature; GEM ids; the documented is_navigable mapping.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type Projection, projectionFor } from '../../../shared/formats/crs.js';
import {
  gemIdFor,
  navigableValue,
  normaliseFeature,
  partId,
  WKT_DECIMALS,
} from '../../../shared/formats/normalise.js';
import type { SourceFeature } from '../../../shared/formats/types.js';
import { parseLineString } from '../../../shared/parquet/wkt.js';

let lonLat: Projection;
let rd: Projection;
beforeAll(async () => {
  lonLat = await projectionFor({ kind: 'crs84', source: 't' });
  rd = await projectionFor({ kind: 'epsg', code: 28992, source: 't' });
});
const limits = { maxVertices: 100 };

const feature = (geometry: SourceFeature['geometry'], extra: Partial<SourceFeature> = {}): SourceFeature => ({
  index: 7,
  id: 'road-7',
  geometry,
  properties: { name: 'Damrak', oneway: 'yes' },
  ...extra,
});

describe('normaliseFeature', () => {
  it("keeps a LineString as one row GEM's own strict parser accepts", () => {
    const { rows, findings } = normaliseFeature(
      feature({
        type: 'LineString',
        coordinates: [
          [4.9, 52.37],
          [4.91, 52.38],
        ],
      }),
      { projection: lonLat, limits },
    );
    expect(findings).toEqual([]);
    expect(rows).toEqual([
      { id: 'road-7', wkt: 'LINESTRING (4.9 52.37, 4.91 52.38)', sourceIndex: 7, part: 0 },
    ]);
    expect(parseLineString(rows[0]!.wkt)).toEqual({
      points: [
        [4.9, 52.37],
        [4.91, 52.38],
      ],
    });
  });

  it('explodes a MultiLineString into one row per part, ids suffixed, parts kept', () => {
    const { rows } = normaliseFeature(
      feature({
        type: 'MultiLineString',
        coordinates: [
          [
            [4.9, 52.37],
            [4.91, 52.38],
          ],
          [
            [4.91, 52.38],
            [4.92, 52.39],
            [4.93, 52.4],
          ],
        ],
      }),
      { projection: lonLat, limits },
    );
    expect(rows.map((r) => [r.id, r.part, r.sourceIndex])).toEqual([
      ['road-7#0', 0, 7],
      ['road-7#1', 1, 7],
    ]);
    expect(rows.every((r) => 'points' in parseLineString(r.wkt))).toBe(true);
  });

  it('a one-part MultiLineString (every Shapefile line) keeps the plain id', () => {
    const { rows } = normaliseFeature(
      feature({
        type: 'MultiLineString',
        coordinates: [
          [
            [4.9, 52.37],
            [4.91, 52.38],
          ],
        ],
      }),
      { projection: lonLat, limits },
    );
    expect(rows.map((r) => r.id)).toEqual(['road-7']);
  });

  it('drops Z and M', () => {
    const { rows } = normaliseFeature(
      feature({
        type: 'LineString',
        coordinates: [
          [4.9, 52.37, 1.5, 9],
          [4.91, 52.38, Number.NaN, 10],
        ],
      }),
      { projection: lonLat, limits },
    );
    expect(rows[0]!.wkt).toBe('LINESTRING (4.9 52.37, 4.91 52.38)');
  });

  it('reprojects from RD New within 1e-7° of the projection, written with 8 decimals', () => {
    const { rows } = normaliseFeature(
      feature({
        type: 'LineString',
        coordinates: [
          [121000, 487000],
          [121100, 487050],
        ],
      }),
      { projection: rd, limits },
    );
    const parsed = parseLineString(rows[0]!.wkt);
    if (!('points' in parsed)) throw new Error(parsed.error.message);
    const expected = [rd.toLonLat(121000, 487000), rd.toLonLat(121100, 487050)];
    parsed.points.forEach(([lon, lat], i) => {
      expect(Math.abs(lon - expected[i]![0])).toBeLessThanOrEqual(0.5 * 10 ** -WKT_DECIMALS + 1e-15);
      expect(Math.abs(lat - expected[i]![1])).toBeLessThanOrEqual(0.5 * 10 ** -WKT_DECIMALS + 1e-15);
    });
  });

  it('never writes exponent notation or "-0"', () => {
    const { rows } = normaliseFeature(
      feature({
        type: 'LineString',
        coordinates: [
          [1e-12, -1e-12],
          [-0.0000000001, 3e-9],
        ],
      }),
      { projection: lonLat, limits },
    );
    expect(rows[0]!.wkt).toBe('LINESTRING (0 0, 0 0)');
    expect(rows[0]!.wkt).not.toMatch(/e|-0\b/);
  });

  it.each([
    ['a Point', { type: 'Point', coordinates: [4.9, 52.37] }, 'geometry-type'],
    [
      'a Polygon',
      {
        type: 'Polygon',
        coordinates: [
          [
            [4.9, 52.37],
            [4.91, 52.37],
            [4.91, 52.38],
            [4.9, 52.37],
          ],
        ],
      },
      'geometry-type',
    ],
    ['no geometry', null, 'geometry-missing'],
    ['a 1-point line', { type: 'LineString', coordinates: [[4.9, 52.37]] }, 'geometry-min-points'],
    [
      'lat/lon swapped out of range',
      {
        type: 'LineString',
        coordinates: [
          [-37.8, 145.2],
          [-37.81, 145.21],
        ],
      },
      'geometry-coordinate-range',
    ],
    ['an empty MultiLineString', { type: 'MultiLineString', coordinates: [] }, 'geometry-missing'],
  ] as const)('%s is a finding naming the feature, with a fix', (_, geometry, rule) => {
    const { rows, findings } = normaliseFeature(feature(geometry as SourceFeature['geometry']), {
      projection: lonLat,
      limits,
    });
    expect(rows).toEqual([]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule, index: 7, id: 'road-7' });
    expect(findings[0]!.message).toContain('feature 7');
    expect(findings[0]!.remedy.length).toBeGreaterThan(10);
  });

  it('projected coordinates read as lon/lat are out of range, with the CRS hint', () => {
    const { findings } = normaliseFeature(
      feature({
        type: 'LineString',
        coordinates: [
          [121000, 487000],
          [121100, 487050],
        ],
      }),
      { projection: lonLat, limits },
    );
    expect(findings[0]!.rule).toBe('geometry-coordinate-range');
    expect(findings[0]!.remedy).toContain('sourceCrs');
  });

  it('a bad part of a MultiLineString is named; its good parts still go to GEM', () => {
    const { rows, findings } = normaliseFeature(
      feature({
        type: 'MultiLineString',
        coordinates: [
          [[4.9, 52.37]],
          [
            [4.9, 52.37],
            [4.91, 52.38],
          ],
        ],
      }),
      { projection: lonLat, limits },
    );
    expect(rows.map((r) => r.id)).toEqual(['road-7#1']);
    expect(findings).toMatchObject([{ rule: 'geometry-min-points', part: 0 }]);
  });

  it('too many vertices', () => {
    const line = Array.from({ length: 101 }, (_, i) => [4.9 + i * 1e-4, 52.37]);
    expect(
      normaliseFeature(feature({ type: 'LineString', coordinates: line }), { projection: lonLat, limits })
        .findings[0]!.rule,
    ).toBe('geometry-too-many-vertices');
  });

  it("passes a reader's problem through as a finding", () => {
    const f = feature(null, { problem: { rule: 'geometry-unreadable', message: 'bad WKB' } });
    expect(normaliseFeature(f, { projection: lonLat, limits }).findings[0]).toMatchObject({
      rule: 'geometry-unreadable',
      index: 7,
    });
  });

  it('maps is_navigable only when a column is named', () => {
    const g = {
      type: 'LineString' as const,
      coordinates: [
        [4.9, 52.37],
        [4.91, 52.38],
      ],
    };
    expect(normaliseFeature(feature(g), { projection: lonLat, limits }).rows[0]).not.toHaveProperty(
      'isNavigable',
    );
    expect(
      normaliseFeature(feature(g), { projection: lonLat, limits, navigableColumn: 'oneway' }).rows[0]!
        .isNavigable,
    ).toBe(true);
    const bad = normaliseFeature(feature(g, { properties: { oneway: 'sometimes' } }), {
      projection: lonLat,
      limits,
      navigableColumn: 'oneway',
    });
    expect(bad.findings[0]!.rule).toBe('is-navigable-value');
  });
});

describe('GEM ids', () => {
  const f = feature(null, { index: 3, id: 42, properties: { osm_id: 'w123', empty: '' } });
  it('from idColumn, else the source id, else the index', () => {
    expect(gemIdFor(f, 'osm_id')).toEqual({ id: 'w123' });
    expect(gemIdFor(f)).toEqual({ id: '42' });
    expect(gemIdFor({ ...f, id: null })).toEqual({ id: '3' });
    expect(gemIdFor({ ...f, id: null, properties: { big: 9_007_199_254_740_993n } }, 'big')).toEqual({
      id: '9007199254740993',
    });
  });
  it('a missing or empty idColumn value is a finding', () => {
    expect(gemIdFor(f, 'nope')).toMatchObject({ finding: { rule: 'id-missing' } });
    expect(gemIdFor(f, 'empty')).toMatchObject({ finding: { rule: 'id-missing' } });
  });
  it('suffixes parts only when there are several', () => {
    expect(partId('a', 0, 1)).toBe('a');
    expect(partId('a', 1, 2)).toBe('a#1');
  });
});

describe('the documented is_navigable mapping', () => {
  it.each([
    [true, true],
    [false, false],
    [1, true],
    [0, false],
    [' Yes ', true],
    ['N', false],
    ['TRUE', true],
    ['0', false],
    ['', null],
    [null, null],
    [undefined, null],
    [2, undefined],
    ['maybe', undefined],
  ])('%j → %j', (value, expected) => {
    expect(navigableValue(value as never)).toBe(expected);
  });
});
