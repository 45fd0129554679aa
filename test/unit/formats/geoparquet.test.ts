/**
 * Unit tests of `shared/formats/geoparquet.ts`: GeoParquet writer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as samples from '../../../local/standins/format-samples/geoparquet.js';
import { projectRoads, sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { projectionFor } from '../../../shared/formats/crs.js';
import { createGeoParquetSinkWith, openGeoParquet } from '../../../shared/formats/geoparquet.js';
import { loadHyparquetWriter } from '../../../shared/formats/hyparquetWriter.js';
import { normaliseFeature } from '../../../shared/formats/normalise.js';
import { bytesSourceFile, localSourceFile } from '../../../shared/formats/sourceFile.js';
import type { OutputFeature } from '../../../shared/formats/types.js';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import { loadHyparquet } from '../../../shared/parquet/hyparquet.js';
import { UNMATCHED } from '../../support/formatFixtures.js';
import { assertOnlyFormatErrors, drain, formatRule, LIMITS, readOptions, scratch } from './support.js';

const dir = scratch();
const roads = sampleRoads({ rows: 15, withZ: true });
const file = (bytes: Uint8Array) => bytesSourceFile(bytes, 'roads.parquet');

describe("GeoParquet reader (files written by hyparquet-writer's own WKB encoder)", () => {
  it('reads typed columns, WKB geometry with Z and MultiLineStrings, CRS84 by default', async () => {
    const source = await openGeoParquet(
      file(await samples.valid(roads, { rowGroupSize: 4 })),
      readOptions(dir),
    );
    expect(source.format).toBe('geoparquet');
    expect(source.crs).toMatchObject({ kind: 'crs84' });
    expect(source.geometryColumn).toBe('geometry');
    expect(source.fields).toEqual([
      { name: 'road_id', type: 'string' },
      { name: 'name', type: 'string' },
      { name: 'lanes', type: 'integer' },
      { name: 'speed_kmh', type: 'number' },
      { name: 'oneway', type: 'boolean' },
      { name: 'navigable', type: 'boolean' },
      { name: 'length_mm', type: 'bigint' },
      { name: 'surveyed', type: 'datetime' },
      { name: 'note', type: 'string' },
    ]);
    const features = await drain(source);
    expect(features).toHaveLength(roads.length);
    features.forEach((f, i) => {
      expect(f.index).toBe(i);
      expect(f.id).toBeNull();
      expect(f.geometry).toEqual(roads[i]!.geometry);
      expect(f.properties).toEqual(roads[i]!.properties);
    });
  });

  it('takes the CRS from PROJJSON and reprojects RD New to within 1e-7° of the source lon/lat', async () => {
    const projected = await projectRoads(roads, 28992);
    const source = await openGeoParquet(
      file(await samples.valid(projected, { crs: samples.RD_NEW_PROJJSON })),
      readOptions(dir),
    );
    expect(source.crs).toMatchObject({ kind: 'projjson' });
    const projection = await projectionFor(source.crs);
    const features = await drain(source);
    const { rows } = normaliseFeature(features[0]!, { projection, limits: LIMITS });
    const original = (roads[0]!.geometry as { coordinates: number[][] }).coordinates;
    const written = rows[0]!.wkt
      .slice(12, -1)
      .split(', ')
      .map((p) => p.split(' ').map(Number));
    written.forEach(([lon, lat], k) => {
      expect(Math.abs(lon! - original[k]![0]!)).toBeLessThan(1e-7);
      expect(Math.abs(lat! - original[k]![1]!)).toBeLessThan(1e-7);
    });
  });

  it('reads WKT-encoded GeoParquet, and a Parquet GEOMETRY column without "geo" metadata', async () => {
    const { parquetWriteBuffer } = await loadHyparquetWriter();
    const geo = {
      version: '1.1.0',
      primary_column: 'wkt',
      columns: { wkt: { encoding: 'WKT', geometry_types: [] } },
    };
    const wktFile = parquetWriteBuffer({
      columnData: [
        { name: 'name', data: ['a', 'b'], type: 'STRING' },
        { name: 'wkt', data: ['LINESTRING Z (1 2 3, 4 5 6)', 'not wkt'], type: 'STRING' },
      ],
      kvMetadata: [{ key: 'geo', value: JSON.stringify(geo) }],
    });
    const features = await drain(await openGeoParquet(file(new Uint8Array(wktFile)), readOptions(dir)));
    expect(features[0]).toMatchObject({
      properties: { name: 'a' },
      geometry: {
        type: 'LineString',
        coordinates: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
    });
    expect(features[1]!.problem!.rule).toBe('geometry-unreadable');

    const native = parquetWriteBuffer({
      columnData: [
        {
          name: 'shape',
          data: [
            {
              type: 'LineString',
              coordinates: [
                [1, 2],
                [3, 4],
              ],
            },
          ],
          type: 'GEOMETRY',
        },
      ],
    });
    const source = await openGeoParquet(file(new Uint8Array(native)), readOptions(dir));
    expect(source.geometryColumn).toBe('shape');
    expect(source.crs).toMatchObject({ kind: 'crs84' });
    expect((await drain(source))[0]!.geometry).toEqual({
      type: 'LineString',
      coordinates: [
        [1, 2],
        [3, 4],
      ],
    });
  });

  it('a null geometry reads as null, and is written back as null', async () => {
    const withNull = roads.map((r, i) => (i === 4 ? { ...r, geometry: null } : r));
    const features = await drain(await openGeoParquet(file(await samples.valid(withNull)), readOptions(dir)));
    expect(features[4]).toMatchObject({ geometry: null });
    expect(features[4]!.problem).toBeUndefined();
    const path = join(dir, 'nulls.parquet');
    const sink = await createGeoParquetSinkWith(
      { path, layer: 'l', fields: [], crs: null, geometryType: null, tempDir: dir },
      {},
    );
    await sink.write({
      id: null,
      geometry: null,
      properties: {},
      enrichment: UNMATCHED,
      matches: [],
    });
    await sink.finish();
    const back = await drain(await openGeoParquet(await localSourceFile(path), readOptions(dir)));
    expect(back[0]).toMatchObject({ geometry: null });
  });

  it('crs: null is an unknown CRS: the projection asks for sourceCrs', async () => {
    const source = await openGeoParquet(file(await samples.broken('crs-null', roads)), readOptions(dir));
    expect(source.crs).toBeNull();
    expect(await formatRule(projectionFor(source.crs))).toBe('crs-missing');
  });

  it('a PROJJSON on a datum no one knows is refused with the fix', async () => {
    const source = await openGeoParquet(
      file(await samples.broken('crs-unknown-datum', roads)),
      readOptions(dir),
    );
    expect(await formatRule(projectionFor(source.crs))).toBe('crs-datum-unknown');
  });

  it("a corrupt WKB value is that feature's problem; the others read", async () => {
    const features = await drain(
      await openGeoParquet(file(await samples.broken('corrupt-wkb', roads)), readOptions(dir)),
    );
    expect(features.filter((f) => f.problem).map((f) => [f.index, f.problem!.rule])).toEqual([
      [samples.DEFECT_FEATURE, 'geometry-unreadable'],
    ]);
  });

  it('property test: truncated or mutated files throw nothing but FormatError and read no more than the file', async () => {
    const base = await samples.valid(sampleRoads({ rows: 6 }), { rowGroupSize: 2 });
    await assertOnlyFormatErrors(base, async (f) => drain(await openGeoParquet(f, readOptions(dir))), {
      passes: 4,
      maxFlips: 4,
    });
  });
});

describe('GeoParquet writer', () => {
  const output = (i: number): OutputFeature => ({
    id: null,
    geometry: roads[i]!.geometry,
    properties: roads[i]!.properties,
    enrichment:
      i === 1
        ? { gers: null, confidence: null, lr_from: null, lr_to: null, match: 'unmatched', match_count: 0 }
        : { gers: `g${i}`, confidence: 80, lr_from: 0, lr_to: 1, match: 'full', match_count: 2 },
    matches:
      i === 1
        ? []
        : [
            { gers: `g${i}`, confidence: 80, lrFrom: 0, lrTo: 1, gersFrom: 0, gersTo: 0.5, part: 0 },
            { gers: `h${i}`, confidence: 40, lrFrom: 0.5, lrTo: 1, gersFrom: null, gersTo: null, part: 1 },
          ],
  });

  it('writes user columns with their types, WKB with Z, geo metadata with the CRS, and nested matches', async () => {
    const source = await openGeoParquet(file(await samples.valid(roads)), readOptions(dir));
    const path = join(dir, 'out.parquet');
    const sink = await createGeoParquetSinkWith(
      {
        path,
        layer: 'roads',
        fields: source.fields,
        crs: { kind: 'epsg', code: 28992, source: 't' },
        geometryType: null,
        tempDir: dir,
        geometryColumn: 'geometry',
      },
      { rowGroupRows: 6 },
    );
    for (let i = 0; i < roads.length; i++) await sink.write(output(i));
    expect((await sink.finish()).features).toBe(roads.length);

    // Independent reader: hyparquet itself, with its own GeoParquet (WKB → GeoJSON) decoding.
    const bytes = new Uint8Array(await readFile(path));
    const { parquetMetadata, parquetReadObjects } = await loadHyparquet();
    const metadata = parquetMetadata(bytes.buffer);
    const geo = JSON.parse(metadata.key_value_metadata!.find((kv) => kv.key === 'geo')!.value!);
    expect(geo).toMatchObject({
      version: '1.1.0',
      primary_column: 'geometry',
      columns: {
        geometry: { encoding: 'WKB', crs: { type: 'ProjectedCRS', id: { authority: 'EPSG', code: 28992 } } },
      },
    });
    expect(geo.columns.geometry.geometry_types).toEqual(['LineString Z', 'MultiLineString Z']);
    expect(metadata.row_groups).toHaveLength(3);
    const rows = await parquetReadObjects({ file: bufferAsyncBuffer(bytes) });
    expect(rows[0]!.geometry).toEqual(roads[0]!.geometry);
    expect(rows[0]!.length_mm).toBe(roads[0]!.properties.length_mm);
    expect(rows[0]!.surveyed).toEqual(roads[0]!.properties.surveyed);
    expect(rows[0]!.matches).toEqual(
      [
        { gers: 'g0', confidence: 80, lr_from: 0, lr_to: 1, gers_from: 0, gers_to: 0.5, part: 0 },
        {
          gers: 'h0',
          confidence: 40,
          lr_from: 0.5,
          lr_to: 1,
          gers_from: undefined,
          gers_to: undefined,
          part: 1,
        },
      ].map((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v ?? null]))),
    );
    expect(rows[1]).toMatchObject({ gers: null, match: 'unmatched', match_count: 0, matches: [] });
    expect(Object.keys(rows[0]!)).toEqual([
      ...source.fields.map((f) => f.name),
      'geometry',
      'gers',
      'confidence',
      'lr_from',
      'lr_to',
      'match',
      'match_count',
      'matches',
    ]);

    // And gem-flow's own reader gives back the user's data unchanged.
    const back = await drain(await openGeoParquet(await localSourceFile(path), readOptions(dir)));
    back.forEach((f, i) => {
      expect(f.geometry).toEqual(roads[i]!.geometry);
      expect(Object.fromEntries(source.fields.map((fl) => [fl.name, f.properties[fl.name]]))).toEqual({
        ...roads[i]!.properties,
        lanes: BigInt(roads[i]!.properties.lanes as number),
      });
    });
  });
  it('cuts a row group early at rowGroupBytes of encoded values, before rowGroupRows', async () => {
    const path = join(dir, 'out-bytes.parquet');
    const sink = await createGeoParquetSinkWith(
      { path, layer: 'roads', fields: [], crs: null, geometryType: null, tempDir: dir, geometryColumn: null },
      { rowGroupRows: 1000, rowGroupBytes: 100 },
    );
    // A 2-D two-point LineString is 41 bytes of WKB (1 + 4 + 4 + 2 × 16): a 100-byte budget closes every 3rd.
    const line = (i: number): OutputFeature => ({
      id: null,
      geometry: {
        type: 'LineString',
        coordinates: [
          [i, 0],
          [i, 1],
        ],
      },
      properties: {},
      enrichment: UNMATCHED,
      matches: [],
    });
    for (let i = 0; i < 7; i++) await sink.write(line(i));
    expect((await sink.finish()).features).toBe(7);
    const bytes = new Uint8Array(await readFile(path));
    const { parquetMetadata, parquetReadObjects } = await loadHyparquet();
    expect(parquetMetadata(bytes.buffer).row_groups.map((g) => Number(g.num_rows))).toEqual([3, 3, 1]);
    const rows = await parquetReadObjects({ file: bufferAsyncBuffer(bytes) });
    expect(rows.map((r) => r.geometry)).toEqual(Array.from({ length: 7 }, (_, i) => line(i).geometry));
  });
});
