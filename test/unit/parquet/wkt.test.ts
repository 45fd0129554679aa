/**
 * Unit tests of `shared/parquet/wkt.ts`: parseLineString; lineLengthKm.
 */
import { describe, expect, it } from 'vitest';
import { lineLengthKm, parseLineString } from '../../../shared/parquet/wkt.js';

const errorCode = (wkt: string) => {
  const r = parseLineString(wkt);
  return 'error' in r ? r.error.code : 'ok';
};

describe('parseLineString', () => {
  it('parses lon-first pairs, any keyword case, flexible whitespace and exponents', () => {
    expect(parseLineString('LINESTRING (4.8952 52.3702, 4.8960 52.3710)')).toEqual({
      points: [
        [4.8952, 52.3702],
        [4.896, 52.371],
      ],
    });
    expect(parseLineString('  linestring(1 2,3 4)  ')).toEqual({
      points: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(parseLineString('LineString\t(\n-1.5e1 +2 ,\t.5 -3.)')).toEqual({
      points: [
        [-15, 2],
        [0.5, -3],
      ],
    });
  });

  it.each([
    ['', 'syntax'],
    ['   ', 'syntax'],
    ['POINT (4.89 52.37)', 'wrong-type'],
    ['MULTILINESTRING ((1 2, 3 4))', 'wrong-type'],
    ['POLYGON ((1 2, 3 4, 5 6, 1 2))', 'wrong-type'],
    ['LINESTRING ((145.18 -37.87, 145.19 -37.88))', 'syntax'],
    ['LINESTRING (145.18156)', 'syntax'],
    ['LINESTRING (145.18156 -37.87)', 'too-few-points'],
    ['LINESTRING EMPTY', 'empty'],
    ['LINESTRING ()', 'empty'],
    ['LINESTRING Z (1 2 3, 4 5 6)', 'not-2d'],
    ['LINESTRING M (1 2 3, 4 5 6)', 'not-2d'],
    ['LINESTRING ZM (1 2 3 4, 4 5 6 7)', 'not-2d'],
    ['LINESTRING (1 2 3, 4 5 6)', 'not-2d'],
    ['SRID=4326;LINESTRING (1 2, 3 4)', 'syntax'],
    ['LINESTRING (NaN 2, 3 4)', 'syntax'],
    ['LINESTRING (1 Infinity, 3 4)', 'syntax'],
    ['LINESTRING (1 2, 3 4', 'syntax'],
    ['LINESTRING (1 2, 3 4) extra', 'syntax'],
    ['LINESTRING (1 2; 3 4)', 'syntax'],
    ['LINESTRING (1,2, 3,4)', 'syntax'],
    ['LINESTRING (1.2.3 4, 5 6)', 'syntax'],
    ['LINESTRING (1 2,)', 'syntax'],
    ['LINESTRINGZ (1 2, 3 4)', 'syntax'],
    ['{"type":"LineString"}', 'syntax'],
  ])('rejects %j as %s', (wkt, code) => {
    expect(errorCode(wkt)).toBe(code);
  });

  it('explains extra parentheses and wrong types in words', () => {
    const r = parseLineString('LINESTRING ((1 2, 3 4))');
    expect('error' in r && r.error.message).toMatch(/extra parentheses/);
    const p = parseLineString('point (1 2)');
    expect('error' in p && p.error.message).toMatch(/POINT/);
  });
});

describe('lineLengthKm', () => {
  it('is zero for fewer than two points', () => {
    expect(lineLengthKm([])).toBe(0);
    expect(lineLengthKm([[4.9, 52.37]])).toBe(0);
  });

  it('gives 1/360 of the meridian circumference for one degree of latitude', () => {
    const km = lineLengthKm([
      [0, 0],
      [0, 1],
    ]);
    expect(km).toBeCloseTo((2 * Math.PI * 6371.0088) / 360, 6);
  });

  it('sums segments and shrinks longitude degrees with latitude', () => {
    const atEquator = lineLengthKm([
      [0, 0],
      [1, 0],
    ]);
    const at60 = lineLengthKm([
      [0, 60],
      [1, 60],
    ]);
    expect(at60 / atEquator).toBeCloseTo(0.5, 3);
    const there = lineLengthKm([
      [0, 0],
      [1, 0],
    ]);
    const andBack = lineLengthKm([
      [0, 0],
      [1, 0],
      [0, 0],
    ]);
    expect(andBack).toBeCloseTo(2 * there, 9);
  });
});
