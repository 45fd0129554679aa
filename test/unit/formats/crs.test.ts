/**
 * Unit tests of `shared/formats/crs.ts`: control points with independently known WGS 84 positions; registry
 * coverage and round trips; axis order: data is always x = east/longitude; ESRI .prj files (names only: no
 * AUTHORITY, no TOWGS84); declarations gem-flow refuses, with the fix; parsing the sourceCrs option and WKT
 * authority codes.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import proj4 from 'proj4';
import { describe, expect, it } from 'vitest';
import { RD_NEW_PROJJSON } from '../../../local/standins/format-samples/geoparquet.js';
import { parseCrsText, projectionFor, registryEntry, wktAuthorityCode } from '../../../shared/formats/crs.js';
import { FormatError } from '../../../shared/formats/errors.js';

const epsg = (code: number) => projectionFor({ kind: 'epsg', code, source: 'test' });

async function ruleOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(FormatError);
    return (err as FormatError).rule;
  }
  throw new Error('expected a FormatError');
}

describe('control points with independently known WGS 84 positions', () => {
  it('RD New origin (the Amersfoort tower) lands within 1e-5° (the 7-parameter shift is ~1 m)', async () => {
    // The tower's ETRS89 position as published with RDNAPTRANS; the datum shift alone is ~100 m, so a
    // missing or wrong shift (epsg.io's own +towgs84 for 28992 puts it 150 m east) fails this.
    const [lon, lat] = (await epsg(28992)).toLonLat(155000, 463000);
    expect(Math.abs(lon - 5.38720621)).toBeLessThan(1e-5);
    expect(Math.abs(lat - 52.1551744)).toBeLessThan(1e-5);
  });

  it('Web Mercator matches the spherical Mercator formula within 1e-9°', async () => {
    const p = await epsg(3857);
    const R = 6378137;
    for (const [lon, lat] of [
      [4.9, 52.37],
      [-73.98, 40.75],
      [151.2, -33.86],
    ] as const) {
      const x = (R * lon * Math.PI) / 180;
      const y = R * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
      const [l, f] = p.toLonLat(x, y);
      expect(Math.abs(l - lon)).toBeLessThan(1e-9);
      expect(Math.abs(f - lat)).toBeLessThan(1e-9);
    }
  });

  it('UTM 31N: the false origin on the central meridian is (3°E, 0°)', async () => {
    const [lon, lat] = (await epsg(32631)).toLonLat(500000, 0);
    expect(Math.abs(lon - 3)).toBeLessThan(1e-9);
    expect(Math.abs(lat)).toBeLessThan(1e-9);
  });
});

describe('registry coverage and round trips', () => {
  const cases: [number, number, number][] = [
    [28992, 5.0, 52.2],
    [3857, 4.9, 52.37],
    [2154, 2.35, 48.85],
    [25832, 9.99, 53.55],
    [27700, -0.12, 51.5],
    [3035, 10.0, 52.0],
    [32631, 3.2, 51.2],
    [31370, 4.35, 50.85],
    [2056, 7.44, 46.95],
  ];
  it.each(cases)(
    'EPSG:%i projects exactly as proj4 with the same definition, and round-trips within 1e-7°',
    async (code, lon, lat) => {
      const p = await epsg(code);
      expect(p.isLonLat).toBe(false);
      expect(typeof p.definition).toBe('string');
      const direct = proj4(p.definition as string);
      const [x, y] = direct.forward([lon, lat]) as [number, number];
      const [l, f] = p.toLonLat(x, y);
      expect(Math.abs(l - lon)).toBeLessThan(1e-7);
      expect(Math.abs(f - lat)).toBeLessThan(1e-7);
      const [l2, f2] = direct.inverse([x, y]) as [number, number];
      expect(l).toBe(l2);
      expect(f).toBe(f2);
    },
  );

  it('uses the registry definition as is where proj4js has no better datum shift (UTM on WGS 84)', async () => {
    const entry = await registryEntry(32631);
    expect((await epsg(32631)).definition).toBe(entry!.proj4);
  });

  it("replaces a grid-file datum (OSTN15 for 27700) by proj4js's shift instead of failing", async () => {
    const p = await epsg(27700);
    expect(String(p.definition)).not.toContain('nadgrids');
    const [lon, lat] = p.toLonLat(530000, 180000);
    expect(lon).toBeCloseTo(-0.127, 2);
    expect(lat).toBeCloseTo(51.5, 1);
  });

  it('treats WGS 84 and GRS 80 geographic CRSs as lon/lat without reprojection', async () => {
    for (const code of [4326, 4258, 4269]) {
      const p = await epsg(code);
      expect(p.isLonLat).toBe(true);
      expect(p.toLonLat(4.9, 52.37)).toEqual([4.9, 52.37]);
    }
    expect((await projectionFor({ kind: 'crs84', source: 't' })).isLonLat).toBe(true);
  });
});

describe('axis order: data is always x = east/longitude', () => {
  it('EPSG:4326 declared by authority (lat/lon in the registry) reads x as longitude', async () => {
    const p = await projectionFor({
      kind: 'wkt',
      wkt: 'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]',
      source: 't',
    });
    expect(p.toLonLat(4.9, 52.37)).toEqual([4.9, 52.37]);
  });

  it('a PROJJSON whose axes are listed northing first still reads x as easting', async () => {
    const projjson = {
      type: 'ProjectedCRS',
      name: 'UTM 32N, northing first',
      base_crs: {
        name: 'ETRS89',
        datum: {
          type: 'GeodeticReferenceFrame',
          name: 'European Terrestrial Reference System 1989',
          ellipsoid: { name: 'GRS 1980', semi_major_axis: 6378137, inverse_flattening: 298.257222101 },
        },
        coordinate_system: {
          subtype: 'ellipsoidal',
          axis: [
            { name: 'Geodetic latitude', abbreviation: 'Lat', direction: 'north', unit: 'degree' },
            { name: 'Geodetic longitude', abbreviation: 'Lon', direction: 'east', unit: 'degree' },
          ],
        },
      },
      conversion: {
        name: 'UTM zone 32N',
        method: { name: 'Transverse Mercator', id: { authority: 'EPSG', code: 9807 } },
        parameters: [
          { name: 'Latitude of natural origin', value: 0, unit: 'degree' },
          { name: 'Longitude of natural origin', value: 9, unit: 'degree' },
          { name: 'Scale factor at natural origin', value: 0.9996, unit: 'unity' },
          { name: 'False easting', value: 500000, unit: 'metre' },
          { name: 'False northing', value: 0, unit: 'metre' },
        ],
      },
      coordinate_system: {
        subtype: 'Cartesian',
        axis: [
          { name: 'Northing', abbreviation: 'N', direction: 'north', unit: 'metre' },
          { name: 'Easting', abbreviation: 'E', direction: 'east', unit: 'metre' },
        ],
      },
    };
    // proj4js reads these axes as north-east-up and would take x as the northing; gem-flow takes x as easting.
    expect((new proj4.Proj(projjson as never) as unknown as { axis: string }).axis).toBe('neu');
    const p = await projectionFor({ kind: 'projjson', projjson, source: 't' });
    const [easting, northing] = proj4((await epsg(25832)).definition as string).forward([9.99, 53.55]) as [
      number,
      number,
    ];
    const [lon, lat] = p.toLonLat(easting, northing);
    expect(Math.abs(lon - 9.99)).toBeLessThan(1e-7);
    expect(Math.abs(lat - 53.55)).toBeLessThan(1e-7);
  });

  it('RD New as PROJJSON (GeoParquet) and by code give the same positions', async () => {
    const byCode = await epsg(28992);
    const { id: _id, ...withoutId } = RD_NEW_PROJJSON;
    for (const projjson of [RD_NEW_PROJJSON, withoutId]) {
      const p = await projectionFor({ kind: 'projjson', projjson, source: 't' });
      const [a, b] = p.toLonLat(121000, 487000);
      const [c, d] = byCode.toLonLat(121000, 487000);
      expect(Math.abs(a - c)).toBeLessThan(1e-7);
      expect(Math.abs(b - d)).toBeLessThan(1e-7);
    }
  });
});

describe('ESRI .prj files (names only: no AUTHORITY, no TOWGS84)', () => {
  // The .prj text ArcGIS and QGIS write, from Esri's own projection-engine list.
  const esriProjected = JSON.parse(
    readFileSync(
      join(dirname(require.resolve('@esri/proj-codes/package.json')), 'pe_list_projcs.json'),
      'utf8',
    ),
  ).ProjectedCoordinateSystems as { wkid: number; wkt: string }[];
  const prjOf = (code: number) => esriProjected.find((c) => c.wkid === code)!.wkt;

  // Esri writes LV95 as a Hotine oblique Mercator, which proj4js computes 0.1 m apart from the registry's
  // Swiss oblique Mercator: a difference of projection method, not of datum.
  it.each([
    [28992, 121000, 487000, 1e-7],
    [31467, 3500000, 5600000, 1e-7],
    [27700, 530000, 180000, 1e-7],
    [31370, 150000, 170000, 1e-7],
    [2056, 2600000, 1200000, 2e-6],
    [25832, 500000, 5800000, 1e-7],
  ])('EPSG:%i as an ESRI .prj projects as the code does', async (code, x, y, tolerance) => {
    const prj = prjOf(code);
    expect(prj).not.toMatch(/AUTHORITY|TOWGS84/);
    const fromPrj = await projectionFor({ kind: 'wkt', wkt: prj, source: 'roads.prj' });
    const [a, b] = fromPrj.toLonLat(x, y);
    const [c, d] = (await epsg(code)).toLonLat(x, y);
    expect(Math.abs(a - c)).toBeLessThan(tolerance);
    expect(Math.abs(b - d)).toBeLessThan(tolerance);
  });
});

describe('declarations gem-flow refuses, with the fix', () => {
  it('no CRS at all', async () => {
    expect(await ruleOf(projectionFor(null))).toBe('crs-missing');
  });
  it('a code the registry does not have', async () => {
    expect(await ruleOf(epsg(999_999))).toBe('crs-unknown');
  });
  it('a geocentric CRS', async () => {
    expect(await ruleOf(epsg(4978))).toBe('crs-unsupported');
  });
  it('WKT that does not parse', async () => {
    expect(await ruleOf(projectionFor({ kind: 'wkt', wkt: 'PROJCS["broken"', source: 't' }))).toBe(
      'crs-unknown',
    );
  });
  it('an ESRI .prj on a datum no list names (no AUTHORITY, no TOWGS84) is refused with the fix', async () => {
    const prj =
      'PROJCS["Local_Grid",GEOGCS["GCS_Local_Survey",DATUM["D_Local_Survey",SPHEROID["Bessel_1841",6377397.155,299.1528128]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Double_Stereographic"],PARAMETER["False_Easting",155000.0],PARAMETER["False_Northing",463000.0],PARAMETER["Central_Meridian",5.38763888888889],PARAMETER["Scale_Factor",0.9999079],PARAMETER["Latitude_Of_Origin",52.15616055555555],UNIT["Meter",1.0]]';
    const err = await projectionFor({ kind: 'wkt', wkt: prj, source: 'roads.prj' }).catch((e) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(err.rule).toBe('crs-datum-unknown');
    expect(err.message).toContain('sourceCrs');
  });
  it('an ESRI .prj on ETRS89 (GRS 80, no AUTHORITY) is read', async () => {
    const prj =
      'PROJCS["ETRS_1989_UTM_Zone_32N",GEOGCS["GCS_ETRS_1989",DATUM["D_ETRS_1989",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",9.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]';
    const p = await projectionFor({ kind: 'wkt', wkt: prj, source: 'roads.prj' });
    const [x, y] = proj4((await epsg(25832)).definition as string).forward([9.99, 53.55]) as [number, number];
    const [lon, lat] = p.toLonLat(x, y);
    expect(Math.abs(lon - 9.99)).toBeLessThan(1e-7);
    expect(Math.abs(lat - 53.55)).toBeLessThan(1e-7);
  });
  it('the sourceCrs override wins over the declaration', async () => {
    const p = await projectionFor(
      { kind: 'crs84', source: 'file' },
      { kind: 'epsg', code: 28992, source: 'sourceCrs' },
    );
    expect(p.isLonLat).toBe(false);
  });
});

describe('parsing the sourceCrs option and WKT authority codes', () => {
  it.each([
    ['EPSG:28992', { kind: 'epsg', code: 28992 }],
    ['epsg:3857', { kind: 'epsg', code: 3857 }],
    ['28992', { kind: 'epsg', code: 28992 }],
    ['urn:ogc:def:crs:EPSG::28992', { kind: 'epsg', code: 28992 }],
    ['OGC:CRS84', { kind: 'crs84' }],
    ['urn:ogc:def:crs:OGC:1.3:CRS84', { kind: 'crs84' }],
  ])('%s', (text, expected) => {
    expect(parseCrsText(text, 's')).toMatchObject(expected);
  });
  it('rejects text that is no CRS', () => {
    expect(parseCrsText('Amersfoort please', 's')).toBeNull();
  });
  it('finds the top-level AUTHORITY of a registry WKT, not the GEOGCS one', async () => {
    expect(wktAuthorityCode((await registryEntry(28992))!.wkt)).toBe(28992);
  });
});

describe('local coordinate systems', () => {
  it('refuses a LOCAL_CS or ENGCRS definition, which proj4js would read as a projection to nowhere', async () => {
    const local =
      'LOCAL_CS["Site grid",LOCAL_DATUM["Site datum",32767],UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]';
    expect(await ruleOf(projectionFor({ kind: 'wkt', wkt: local, source: 'roads.prj' }))).toBe(
      'crs-unsupported',
    );
    const engineering = 'ENGCRS["Site",EDATUM["Site datum"],CS[Cartesian,2],AXIS["x",east],AXIS["y",north]]';
    expect(await ruleOf(projectionFor({ kind: 'wkt', wkt: engineering, source: 'roads.prj' }))).toBe(
      'crs-unsupported',
    );
  });
});
