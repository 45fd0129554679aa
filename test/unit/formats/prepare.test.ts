// prepareFile: a user's file in each format becomes GEM-ready Parquet that today's road-matching validation
// accepts (read back with hyparquet, a reader independent of the writer), and every broken sample becomes a
// report naming the source feature or the file-level rule, with nothing written.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as csv from '../../../local/standins/format-samples/csv.js';
import * as fgb from '../../../local/standins/format-samples/flatgeobuf.js';
import * as geojson from '../../../local/standins/format-samples/geojson.js';
import * as gpkg from '../../../local/standins/format-samples/geopackage.js';
import * as geoparquet from '../../../local/standins/format-samples/geoparquet.js';
import { type SampleFeature, sampleRoads } from '../../../local/standins/format-samples/roads.js';
import * as shp from '../../../local/standins/format-samples/shapefile.js';
import { hostileSample } from '../../../local/standins/hostileSamples.js';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { type PrepareOptions, prepareFile } from '../../../shared/formats/prepare.js';
import type { FormatOptions } from '../../../shared/formats/prepared.js';
import { bytesSourceFile } from '../../../shared/formats/sourceFile.js';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import { loadHyparquet } from '../../../shared/parquet/hyparquet.js';
import { validateRoadMatchingInput } from '../../../shared/parquet/roadMatching.js';
import { LIMITS, scratch } from './support.js';

const dir = scratch();
let outputs = 0;

function options(format: FormatOptions = {}): PrepareOptions {
  return {
    format,
    limits: LIMITS,
    maxIdIndexBytes: 1024 * 1024,
    tempDir: dir,
    outputPath: join(dir, `prepared-${++outputs}.parquet`),
  };
}

async function prepare(bytes: Uint8Array, name: string, format: FormatOptions = {}) {
  const opts = options(format);
  const outcome = await prepareFile(bytesSourceFile(bytes, name), opts);
  return { ...outcome, outputPath: opts.outputPath };
}

async function gemRows(path: string) {
  const { parquetReadObjects } = await loadHyparquet();
  const bytes = new Uint8Array(await readFile(path));
  return (await parquetReadObjects({ file: bufferAsyncBuffer(bytes) })) as {
    id: string;
    geometry: string;
    source_index: bigint;
    part: number;
    is_navigable?: boolean | null;
  }[];
}

const roads = sampleRoads({ rows: 12 });
const parts = (features: SampleFeature[]) =>
  features.reduce(
    (n, f) => n + (f.geometry?.type === 'MultiLineString' ? f.geometry.coordinates.length : 1),
    0,
  );

describe('prepareFile: valid inputs', () => {
  it.each([
    ['GeoJSON', 'roads.geojson', async () => geojson.valid(roads)],
    ['GeoJSONSeq', 'roads.geojsonl', async () => geojson.validSeq(roads)],
    ['CSV', 'roads.csv', async () => csv.valid(roads)],
    ['FlatGeobuf', 'roads.fgb', () => fgb.valid(roads)],
    ['GeoParquet', 'roads.parquet', () => geoparquet.valid(roads)],
    ['Shapefile (RD New)', 'roads.zip', () => shp.rdNew(roads)],
    ['GeoPackage (Web Mercator)', 'roads.gpkg', () => gpkg.webMercator(roads)],
  ])('%s becomes GEM Parquet the road-matching validation accepts', async (_label, name, make) => {
    const outcome = await prepare(await make(), name);
    expect(outcome.report.problems).toEqual([]);
    expect(outcome.report).toMatchObject({
      valid: true,
      featureCount: roads.length,
      gemRowCount: parts(roads),
    });
    const rows = await gemRows(outcome.written!.path);
    expect(rows).toHaveLength(parts(roads));
    // A MultiLineString (sample road 3) becomes one row per part, each mapped back to its feature.
    expect(rows.filter((r) => r.source_index === 3n).map((r) => r.part)).toEqual([0, 1]);
    for (const row of rows)
      expect(row.geometry).toMatch(/^LINESTRING \(\d+\.\d+ 5\d\.\d+(, \d+\.\d+ 5\d\.\d+)+\)$/);
    const bytes = new Uint8Array(await readFile(outcome.written!.path));
    const report = await validateRoadMatchingInput(bufferAsyncBuffer(bytes));
    expect(report.problems).toEqual([]);
    expect(report.rowCount).toBe(parts(roads));
  });

  it('takes ids and is_navigable from the options, and names duplicate ids', async () => {
    const outcome = await prepare(geojson.valid(roads), 'roads.geojson', {
      idColumn: 'road_id',
      navigableColumn: 'navigable',
    });
    const rows = await gemRows(outcome.written!.path);
    expect(rows[0]!.id).toBe(roads[0]!.properties.road_id);
    expect(rows.map((r) => r.is_navigable)).toContain(true);

    const repeated = roads.map((f, i) => ({
      ...f,
      properties: { ...f.properties, road: i === 7 ? 'r1' : `r${i}` },
    }));
    const dup = await prepare(geojson.valid(repeated), 'roads.geojson', { idColumn: 'road' });
    expect(dup.report.valid).toBe(false);
    expect(dup.report.problems).toEqual([
      expect.objectContaining({ rule: 'id-unique', index: 7, message: expect.stringMatching(/feature 1/) }),
    ]);
    expect(dup.written).toBe(null);
    expect(existsSync(dup.outputPath)).toBe(false);
  });

  it('leaves GEM Parquet to the Parquet validation, writing nothing', async () => {
    const outcome = await prepare(await roadMatchingSample('valid', { rows: 5 }), 'roads.parquet');
    expect(outcome.report).toMatchObject({ valid: true, format: 'gem-parquet', featureCount: 0 });
    expect(outcome.written).toBe(null);
  });

  it('reprojects from the sourceCrs option when the file declares no CRS', async () => {
    const noPrj = await shp.broken('no-prj', roads);
    const refused = await prepare(noPrj, 'roads.zip');
    expect(refused.report.problems).toEqual([expect.objectContaining({ rule: 'crs-missing' })]);
    const accepted = await prepare(noPrj, 'roads.zip', { sourceCrs: 'EPSG:28992' });
    expect(accepted.report).toMatchObject({ valid: true, crs: expect.stringMatching(/28992/) });
    expect(accepted.crs).toMatchObject({ kind: 'epsg', code: 28992 });
  });
});

describe('prepareFile: broken inputs name the feature or the rule', () => {
  it.each([
    [
      'GeoJSON polygon',
      'roads.geojson',
      async () => geojson.broken('polygon', roads),
      'geometry-type',
      geojson.DEFECT_FEATURE,
    ],
    [
      'GeoJSON single point',
      'roads.geojson',
      async () => geojson.broken('single-point', roads),
      'geometry-min-points',
      geojson.DEFECT_FEATURE,
    ],
    [
      'CSV bad WKT',
      'roads.csv',
      async () => csv.broken('bad-wkt-row-3', roads),
      'geometry-unreadable',
      csv.DEFECT_ROW,
    ],
    [
      'FlatGeobuf polygon',
      'roads.fgb',
      () => fgb.broken('polygon', roads),
      'geometry-type',
      fgb.DEFECT_FEATURE,
    ],
    [
      'GeoParquet corrupt WKB',
      'roads.parquet',
      () => geoparquet.broken('corrupt-wkb', roads),
      'geometry-unreadable',
      geoparquet.DEFECT_FEATURE,
    ],
    [
      'GeoPackage polygon',
      'roads.gpkg',
      () => gpkg.broken('polygon-in-line-layer', roads),
      'geometry-type',
      gpkg.DEFECT_FEATURE,
    ],
  ])('%s', async (_label, name, make, rule, index) => {
    const outcome = await prepare(await make(), name);
    expect(outcome.report.valid).toBe(false);
    expect(outcome.report.problems).toContainEqual(
      expect.objectContaining({ rule, index, remedy: expect.any(String) }),
    );
    expect(outcome.written).toBe(null);
  });

  it.each([
    [
      'GeoJSON bare geometry',
      'roads.geojson',
      async () => geojson.broken('bare-geometry', roads),
      'geojson-bare-geometry',
    ],
    ['Shapefile unknown .prj', 'roads.zip', () => shp.broken('unknown-prj', roads), /^crs-/],
    ['Shapefile without .dbf', 'roads.zip', () => shp.broken('no-dbf', roads), /./],
    ['GeoPackage unknown SRS', 'roads.gpkg', () => gpkg.broken('unknown-srs', roads), /^crs-/],
    ['not a road format', 'notes.pdf', async () => new TextEncoder().encode('%PDF-1.7\n'), 'format-unknown'],
  ])('%s is a file-level finding', async (_label, name, make, rule) => {
    const outcome = await prepare(await make(), name);
    expect(outcome.report.valid).toBe(false);
    expect(outcome.report.problems[0]).toMatchObject({
      rule: expect.stringMatching(rule),
      remedy: expect.any(String),
    });
    expect(outcome.report.problems[0]!.index).toBeUndefined();
    expect(outcome.written).toBe(null);
  });
});

describe('prepareFile: hostile Parquet', () => {
  it.each(['deep-schema', 'claims-2e31-rows', 'zero-rows'] as const)(
    '%s is left to the Parquet validation, which names its rule',
    async (kind) => {
      const outcome = await prepare(hostileSample(kind), `${kind}.parquet`);
      expect(outcome.report).toMatchObject({ valid: true, format: 'gem-parquet' });
      expect(outcome.written).toBe(null);
    },
  );
});
