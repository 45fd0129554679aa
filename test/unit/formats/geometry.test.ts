/**
 * Unit tests of `shared/formats/geometry.ts`: WKT; WKB.
 */
import { describe, expect, it } from 'vitest';
import {
  geometryToWkb,
  geometryToWkt,
  wkbToGeometry,
  wktToGeometry,
} from '../../../shared/formats/geometry.js';
import type { Geometry } from '../../../shared/formats/types.js';
import { loadHyparquet } from '../../../shared/parquet/hyparquet.js';

describe('WKT', () => {
  it.each([
    [
      'LINESTRING (1 2, 3 4)',
      {
        type: 'LineString',
        coordinates: [
          [1, 2],
          [3, 4],
        ],
      },
    ],
    [
      'LINESTRING Z (1 2 3, 4 5 6)',
      {
        type: 'LineString',
        coordinates: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
    ],
    [
      'LINESTRING M (1 2 3, 4 5 6)',
      {
        type: 'LineString',
        coordinates: [
          [1, 2, Number.NaN, 3],
          [4, 5, Number.NaN, 6],
        ],
      },
    ],
    [
      'LINESTRING ZM (1 2 3 4, 4 5 6 7)',
      {
        type: 'LineString',
        coordinates: [
          [1, 2, 3, 4],
          [4, 5, 6, 7],
        ],
      },
    ],
    [
      'MULTILINESTRING ((1 2, 3 4), (5 6, 7 8))',
      {
        type: 'MultiLineString',
        coordinates: [
          [
            [1, 2],
            [3, 4],
          ],
          [
            [5, 6],
            [7, 8],
          ],
        ],
      },
    ],
    [
      'SRID=28992;LINESTRING (1 2, 3 4)',
      {
        type: 'LineString',
        coordinates: [
          [1, 2],
          [3, 4],
        ],
      },
    ],
    ['POINT (1 2)', { type: 'Point', coordinates: [1, 2] }],
    [
      'POLYGON ((0 0, 1 0, 1 1, 0 0))',
      {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 0],
          ],
        ],
      },
    ],
    ['LINESTRING EMPTY', null],
  ])('%s', (wkt, expected) => {
    expect(wktToGeometry(wkt)).toEqual(expected);
  });

  it.each([
    'LINESTRING (1 a, 3 4)',
    'LINESTRING (1 2, 3 4) trailing',
    'LINESTRING (1 2, 3 4',
    'LINESTRING (NaN 2, 3 4)',
    'LINESTRING Z (1 2, 3 4 5)',
    'LINESTRING (1 2, 3)',
    'hello',
    '',
  ])('refuses %j, where wkx alone would be lenient or fail', (wkt) => {
    expect(() => wktToGeometry(wkt)).toThrow();
  });

  it('writes Z and M back as tagged WKT', () => {
    expect(
      geometryToWkt({
        type: 'LineString',
        coordinates: [
          [1, 2, Number.NaN, 3],
          [4, 5, Number.NaN, 6],
        ],
      }),
    ).toBe('LINESTRING M (1 2 3,4 5 6)');
    expect(
      wktToGeometry(
        geometryToWkt({
          type: 'MultiLineString',
          coordinates: [
            [
              [1, 2, 3],
              [4, 5, 6],
            ],
          ],
        }),
      ),
    ).toEqual({
      type: 'MultiLineString',
      coordinates: [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
      ],
    });
  });
});

describe('WKB', () => {
  const cases: Geometry[] = [
    {
      type: 'LineString',
      coordinates: [
        [1, 2],
        [3, 4],
      ],
    },
    {
      type: 'LineString',
      coordinates: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    },
    {
      type: 'LineString',
      coordinates: [
        [1, 2, Number.NaN, 3],
        [4, 5, Number.NaN, 6],
      ],
    },
    {
      type: 'MultiLineString',
      coordinates: [
        [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
        [
          [9, 10, 11, 12],
          [13, 14, 15, 16],
        ],
      ],
    },
    {
      type: 'Polygon',
      coordinates: [
        [
          [0, 0],
          [1, 0],
          [1, 1],
          [0, 0],
        ],
      ],
    },
  ];
  it.each(cases)('round-trips %j', (g) => {
    expect(wkbToGeometry(geometryToWkb(g))).toEqual(g);
  });

  it("writes ISO WKB that hyparquet's own decoder reads (XY, XYZ)", async () => {
    const { parquetMetadata: _ } = await loadHyparquet();
    const { wkbToGeojson } = await import('hyparquet/src/wkb.js');
    for (const g of cases.slice(0, 2)) {
      const bytes = geometryToWkb(g);
      expect(
        wkbToGeojson({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }),
      ).toEqual(g);
    }
  });

  it('a count claiming more points than the bytes hold fails without allocating them', () => {
    const bytes = Uint8Array.from([1, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, ...new Array(16).fill(0)]);
    expect(() => wkbToGeometry(bytes)).toThrow();
  });
});
