/**
 * Unit tests of `shared/formats/geopackage.ts`: GeoPackage round trip; GeoPackage reader; GeoPackage samples.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as samples from '../../../local/standins/format-samples/geopackage.js';
import { projectRoads, sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { FormatError } from '../../../shared/formats/errors.js';
import { createGeoPackageSink, openGeoPackage } from '../../../shared/formats/geopackage.js';
import { encodeGpkgGeometry } from '../../../shared/formats/gpkgGeometry.js';
import { loadSqlite, sqliteAvailable } from '../../../shared/formats/sqlite.js';
import type { CrsDeclaration, FormatLimits } from '../../../shared/formats/types.js';
import {
  bareSinkOptions,
  mutatedCopies,
  readAll,
  readOrRefuse,
  TEST_GEOMETRIES,
  TEST_LIMITS,
  testOutputFeatures,
  withTempDir,
  worstLonLatError,
  writeTestFeatures,
} from '../../support/formatFixtures.js';
import { memorySourceFile } from '../../support/localSourceFile.js';

const PSEUDO_MERCATOR: CrsDeclaration = { kind: 'epsg', code: 3857, source: 'test' };

async function writeTestFile(dir: string, crs: CrsDeclaration | null = PSEUDO_MERCATOR): Promise<string> {
  const path = join(dir, 'out.gpkg');
  await writeTestFeatures(createGeoPackageSink, path, crs);
  return path;
}

async function openBytes(
  bytes: Uint8Array,
  dir: string,
  extra: { layer?: string; limits?: FormatLimits } = {},
) {
  return openGeoPackage(memorySourceFile(bytes, 'roads.gpkg'), {
    limits: extra.limits ?? TEST_LIMITS,
    tempDir: dir,
    ...(extra.layer === undefined ? {} : { layer: extra.layer }),
  });
}

async function openPath(path: string, dir: string, extra: { layer?: string; limits?: FormatLimits } = {}) {
  return openBytes(new Uint8Array(await readFile(path)), dir, extra);
}

/** A GeoPackage made with plain SQL by the test, for layouts the writer never produces. */
function handMadeGeoPackage(
  path: string,
  layers: { name: string; type: string; srsId?: number }[],
): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA application_id = 1196444487;
    CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
      organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
    INSERT INTO gpkg_spatial_ref_sys VALUES ('RD', 100001, 'NONE', 100001, 'PROJCS["RD New custom"]', NULL);
    CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT, srs_id INTEGER);
    CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT, srs_id INTEGER,
      z TINYINT, m TINYINT)`);
  for (const layer of layers) {
    db.exec(
      `CREATE TABLE "${layer.name}" (id INTEGER PRIMARY KEY, shape ${layer.type}, label TEXT, big INTEGER)`,
    );
    db.prepare('INSERT INTO gpkg_contents VALUES (?, ?, ?, ?)').run(
      layer.name,
      'features',
      layer.name,
      layer.srsId ?? 100001,
    );
    db.prepare('INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)').run(
      layer.name,
      'shape',
      layer.type,
      layer.srsId ?? 100001,
    );
  }
  return db;
}

describe('GeoPackage round trip', () => {
  it('gives back fids, every attribute, geometries (Z, M, parts, nulls) and the CRS', async () => {
    await withTempDir(async (dir) => {
      const source = await openPath(await writeTestFile(dir), dir);
      expect(source.layer).toBe('roads');
      expect(source.crs).toEqual({
        kind: 'epsg',
        code: 3857,
        source: 'GeoPackage gpkg_spatial_ref_sys (srs_id 3857)',
      });
      expect(source.declaredGeometryType).toBe('LineString');
      expect(source.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
        'name:string',
        'lanes:bigint',
        'osm_id:bigint',
        'speed:number',
        'oneway:boolean',
        'opened:date',
        'updated:datetime',
        'blob:binary',
        'tags:string',
        'gers:string',
        'confidence:number',
        'lr_from:number',
        'lr_to:number',
        'match:string',
        'match_count:bigint',
      ]);
      const features = await readAll(source);
      const expected = testOutputFeatures();
      expect(features).toHaveLength(expected.length);
      features.forEach((feature, i) => {
        expect(feature.problem).toBeUndefined();
        expect(feature.index).toBe(i);
        expect(feature.id).toBe(expected[i]!.id);
        expect(feature.geometry).toEqual(expected[i]!.geometry);
        expect(feature.properties).toEqual({
          ...expected[i]!.properties,
          tags: JSON.stringify(expected[i]!.properties.tags),
          ...expected[i]!.enrichment,
        });
      });
      expect(features[1]!.properties.osm_id).toBe(2n ** 60n + 7n);
      await source.close();
      await source.close();
    });
  });

  it('writes a file that meets the GeoPackage requirements SQL can check', async () => {
    await withTempDir(async (dir) => {
      const db = new DatabaseSync(await writeTestFile(dir), { readOnly: true });
      const one = (sql: string): Record<string, unknown> => db.prepare(sql).get() as Record<string, unknown>;
      // Requirement 2 (application_id "GPKG"), user_version 1.4, Requirement 6 (integrity), foreign keys.
      expect(one('PRAGMA application_id').application_id).toBe(0x47504b47);
      expect(one('PRAGMA user_version').user_version).toBe(10400);
      expect(one('PRAGMA integrity_check').integrity_check).toBe('ok');
      expect(db.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
      // Annex C table definitions: the required columns, with their types.
      const columns = (table: string): string[] =>
        (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string }[]).map(
          (c) => `${c.name} ${c.type}`,
        );
      expect(columns('gpkg_spatial_ref_sys')).toEqual(
        expect.arrayContaining([
          'srs_name TEXT',
          'srs_id INTEGER',
          'organization TEXT',
          'organization_coordsys_id INTEGER',
          'definition TEXT',
          'description TEXT',
        ]),
      );
      expect(columns('gpkg_contents')).toEqual(
        expect.arrayContaining([
          'table_name TEXT',
          'data_type TEXT',
          'identifier TEXT',
          'description TEXT',
          'last_change DATETIME',
          'min_x DOUBLE',
          'min_y DOUBLE',
          'max_x DOUBLE',
          'max_y DOUBLE',
          'srs_id INTEGER',
        ]),
      );
      expect(columns('gpkg_geometry_columns')).toEqual(
        expect.arrayContaining([
          'table_name TEXT',
          'column_name TEXT',
          'geometry_type_name TEXT',
          'srs_id INTEGER',
          'z TINYINT',
          'm TINYINT',
        ]),
      );
      // Requirement 11: the three required SRS rows, plus the layer's own.
      const srs = db
        .prepare(
          'SELECT srs_id, organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys ORDER BY srs_id',
        )
        .all();
      expect(srs.map((r) => r.srs_id)).toEqual([-1, 0, 3857, 4326]);
      expect(srs.find((r) => r.srs_id === 3857)).toMatchObject({
        organization: 'EPSG',
        organization_coordsys_id: 3857,
      });
      expect(String(srs.find((r) => r.srs_id === 3857)!.definition)).toMatch(
        /^PROJCS\["WGS 84 \/ Pseudo-Mercator"/,
      );
      // Contents: the feature table with its extent, the matches side table as attributes.
      const contents = db.prepare('SELECT * FROM gpkg_contents ORDER BY table_name').all();
      expect(contents.map((c) => [c.table_name, c.data_type, c.srs_id])).toEqual([
        ['roads', 'features', 3857],
        ['roads_matches', 'attributes', null],
      ]);
      expect(contents[0]).toMatchObject({ min_x: 0, min_y: 0, max_x: 121060, max_y: 487055 });
      expect(String(contents[0]!.last_change)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // Geometry columns agree with the table's own declaration; Z and M occur, so both are optional (2).
      expect(one('SELECT * FROM gpkg_geometry_columns')).toMatchObject({
        table_name: 'roads',
        column_name: 'geom',
        geometry_type_name: 'LINESTRING',
        srs_id: 3857,
        z: 2,
        m: 2,
      });
      expect(columns('roads').slice(0, 2)).toEqual(['fid INTEGER', 'geom LINESTRING']);
      // Every geometry blob: "GP", version 0, little-endian header, XY envelope, the layer's srs_id, then WKB.
      const blobs = db.prepare('SELECT fid, geom FROM roads ORDER BY fid').all();
      expect(blobs.map((b) => b.fid)).toEqual(testOutputFeatures().map((f) => f.id));
      for (const { geom } of blobs) {
        if (geom === null) continue;
        const bytes = geom as Uint8Array;
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        expect([bytes[0], bytes[1], bytes[2], bytes[3]]).toEqual([0x47, 0x50, 0, 0b11]);
        expect(view.getInt32(4, true)).toBe(3857);
        expect(bytes[40]).toBe(1);
      }
      const multi = blobs[1]!.geom as Uint8Array;
      const multiView = new DataView(multi.buffer, multi.byteOffset);
      expect(multiView.getUint32(41, true)).toBe(1005); // MultiLineString Z, ISO WKB
      expect([multiView.getFloat64(8, true), multiView.getFloat64(16, true)]).toEqual([121000.5, 121060]);
      // The matches side table, keyed by fid.
      expect(
        db
          .prepare(
            'SELECT fid, gers, confidence, lr_from, lr_to, gers_from, gers_to, part FROM roads_matches',
          )
          .all(),
      ).toEqual(
        [
          {
            fid: 100,
            gers: '08f1969c-0000-4000-8000-000000000001',
            confidence: 93.5,
            lr_from: 0,
            lr_to: 1,
            gers_from: 0.25,
            gers_to: 0.75,
            part: 0,
          },
        ].map((r) => Object.assign(Object.create(null), r)),
      );
      db.close();
    });
  });

  it('declares a WKT1 CRS in definition and a WKT2 one through the CRS WKT extension', async () => {
    await withTempDir(async (dir) => {
      const wkt1 = 'PROJCS["Amersfoort / RD New",GEOGCS["Amersfoort"]]';
      const one = await openPath(await writeTestFile(dir, { kind: 'wkt', wkt: wkt1, source: 't' }), dir);
      expect(one.crs).toMatchObject({ kind: 'wkt', wkt: wkt1 });
      await one.close();
      const wkt2 = 'PROJCRS["Amersfoort / RD New",BASEGEOGCRS["Amersfoort"]]';
      const path = await writeTestFile(dir, { kind: 'wkt', wkt: wkt2, source: 't' });
      const two = await openPath(path, dir);
      expect(two.crs).toMatchObject({ kind: 'wkt', wkt: wkt2 });
      await two.close();
      const db = new DatabaseSync(path, { readOnly: true });
      expect(db.prepare('SELECT extension_name FROM gpkg_extensions').all()).toEqual([
        Object.assign(Object.create(null), { extension_name: 'gpkg_crs_wkt' }),
      ]);
      db.close();
      const none = await openPath(await writeTestFile(dir, null), dir);
      expect(none.crs).toBeNull();
      await none.close();
    });
  });

  it('gives an id that repeats, or is not an integer, the next fid instead', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'ids.gpkg');
      const sink = await createGeoPackageSink(bareSinkOptions(path));
      const [base] = testOutputFeatures();
      for (const id of [7, 7, 'abc', '12', null]) await sink.write({ ...base!, id, properties: {} });
      await sink.finish();
      const db = new DatabaseSync(path, { readOnly: true });
      expect(
        db
          .prepare('SELECT fid FROM l ORDER BY rowid')
          .all()
          .map((r) => r.fid),
      ).toEqual([7, 8, 9, 12, 13]);
      // Every feature's matches point at the fid it really got.
      expect(
        db
          .prepare('SELECT fid FROM l_matches ORDER BY match_id')
          .all()
          .map((r) => r.fid),
      ).toEqual([7, 8, 9, 12, 13]);
      db.close();
    });
  });

  it('names the geometry column as the source did', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'named.gpkg');
      const sink = await createGeoPackageSink({ ...bareSinkOptions(path), geometryColumn: 'SHAPE' });
      await sink.write({ ...testOutputFeatures()[0]!, properties: {} });
      await sink.finish();
      const source = await openPath(path, dir);
      expect(source.geometryColumn).toBe('SHAPE');
      expect((await readAll(source))[0]!.geometry).toEqual(TEST_GEOMETRIES[0]);
      await source.close();
    });
  });

  it('refuses a user field named fid or geom, and abort deletes the file', async () => {
    await withTempDir(async (dir) => {
      const error = await createGeoPackageSink({
        path: join(dir, 'x.gpkg'),
        layer: 'l',
        fields: [{ name: 'FID', type: 'integer' }],
        crs: null,
        geometryType: null,
        tempDir: dir,
      }).catch((e: unknown) => e);
      expect(error).toMatchObject({ rule: 'output-field-collision' });
      const path = join(dir, 'partial.gpkg');
      const sink = await createGeoPackageSink(bareSinkOptions(path));
      await sink.write({ ...testOutputFeatures()[0]!, properties: {} });
      await sink.abort();
      await expect(readFile(path)).rejects.toThrow(/ENOENT/);
    });
  });
});

describe('GeoPackage reader', () => {
  it('picks the only line layer, names several, and reads the one the layer option names', async () => {
    await withTempDir(async (dir) => {
      const one = join(dir, 'one.gpkg');
      handMadeGeoPackage(one, [
        { name: 'parcels', type: 'POLYGON' },
        { name: 'wegen', type: 'MULTILINESTRING' },
      ]).close();
      const source = await openPath(one, dir);
      expect(source.layer).toBe('wegen');
      expect(source.crs).toEqual({
        kind: 'wkt',
        wkt: 'PROJCS["RD New custom"]',
        source: 'GeoPackage gpkg_spatial_ref_sys (srs_id 100001)',
      });
      expect(source.fields).toEqual([
        { name: 'label', type: 'string' },
        { name: 'big', type: 'bigint' },
      ]);
      await source.close();

      const two = join(dir, 'two.gpkg');
      handMadeGeoPackage(two, [
        { name: 'roads', type: 'LINESTRING' },
        { name: 'rails', type: 'LINESTRING' },
      ]).close();
      const error = await openPath(two, dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FormatError);
      expect(error).toMatchObject({ rule: 'layer-ambiguous' });
      expect((error as Error).message).toContain("'rails' (LINESTRING), 'roads' (LINESTRING)");
      expect((await openPath(two, dir, { layer: 'RAILS' })).layer).toBe('rails');
      const missing = await openPath(two, dir, { layer: 'canals' }).catch((e: unknown) => e);
      expect(missing).toMatchObject({ rule: 'layer-missing' });
      expect((missing as FormatError).remedy).toContain("'rails' (LINESTRING)");
    });
  });

  it('names the polygon layer when there is no line layer', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'polygons.gpkg');
      handMadeGeoPackage(path, [{ name: 'parcels', type: 'POLYGON' }]).close();
      const error = await openPath(path, dir).catch((e: unknown) => e);
      expect(error).toMatchObject({ rule: 'layer-missing' });
      expect((error as Error).message).toContain("'parcels' (POLYGON)");
    });
  });

  it('refuses what is not a GeoPackage', async () => {
    await withTempDir(async (dir) => {
      const notSqlite = await openBytes(
        new TextEncoder().encode('id,wkt\n1,"LINESTRING (0 0, 1 1)"\n'),
        dir,
      ).catch((e: unknown) => e);
      expect(notSqlite).toMatchObject({ rule: 'format-mismatch' });
      const plain = join(dir, 'plain.sqlite');
      const db = new DatabaseSync(plain);
      db.exec('CREATE TABLE t (a)');
      db.close();
      expect(await openPath(plain, dir).catch((e: unknown) => e)).toMatchObject({
        rule: 'geopackage-invalid',
      });
    });
  });

  it('names the Node version node:sqlite needs instead of crashing on an older runtime', async () => {
    expect(sqliteAvailable('22.12.0')).toBe(false);
    expect(sqliteAvailable('22.13.0')).toBe(true);
    expect(sqliteAvailable('23.3.0')).toBe(false);
    expect(sqliteAvailable('23.4.0')).toBe(true);
    expect(sqliteAvailable('24.0.0')).toBe(true);
    expect(sqliteAvailable('20.20.2')).toBe(false);
    const error = await loadSqlite('22.12.0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect(error).toMatchObject({ rule: 'runtime-unsupported' });
    expect((error as Error).message).toContain('Node.js 22.13');
    expect((error as Error).message).toContain('22.12.0');
  });

  it('leaves a value over maxFeatureBytes in the file, keeps big integers exact, reports a bad geometry', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'limits.gpkg');
      const db = handMadeGeoPackage(path, [{ name: 'roads', type: 'LINESTRING' }]);
      const insert = db.prepare('INSERT INTO roads VALUES (?, ?, ?, ?)');
      const line = encodeGpkgGeometry(
        {
          type: 'LineString',
          coordinates: [
            [1, 2],
            [3, 4],
          ],
        },
        100001,
      );
      insert.run(1, line, 'ok', 2n ** 62n);
      insert.run(2, line, 'x'.repeat(5000), 1);
      insert.run(3, Uint8Array.from([0x47, 0x50, 0, 1, 0, 0, 0, 0, 1, 2, 0, 0, 0, 9]), 'bad wkb', 2);
      insert.run(4, 'not a blob', 'text geometry', 3);
      db.close();
      const source = await openPath(path, dir, { limits: { ...TEST_LIMITS, maxFeatureBytes: 1000 } });
      const features = await readAll(source);
      expect(features.map((f) => f.id)).toEqual([1, 2, 3, 4]);
      expect(features[0]!.problem).toBeUndefined();
      expect(features[0]!.properties).toEqual({ label: 'ok', big: 2n ** 62n });
      expect(features[0]!.geometry).toEqual({
        type: 'LineString',
        coordinates: [
          [1, 2],
          [3, 4],
        ],
      });
      expect(features[1]!.problem?.rule).toBe('feature-too-large');
      expect(features[1]!.properties.label).toBeNull();
      expect(features[1]!.geometry).not.toBeNull();
      expect(features[2]!.problem?.rule).toBe('geometry-unreadable');
      expect(features[3]!.problem?.rule).toBe('geometry-unreadable');
      await source.close();
    });
  });

  it('never throws anything but a FormatError on mutated or truncated files', async () => {
    await withTempDir(async (dir) => {
      const valid = new Uint8Array(await readFile(await writeTestFile(dir)));
      await fc.assert(
        fc.asyncProperty(mutatedCopies(valid, 12), async (bytes) => {
          const file = memorySourceFile(bytes, 'fuzz.gpkg');
          const features = await readOrRefuse(() =>
            openGeoPackage(file, { limits: TEST_LIMITS, tempDir: dir }),
          );
          expect(file.outOfRange).toBe(0);
          expect(file.bytesRead).toBeLessThanOrEqual(bytes.byteLength);
          expect(features.every((f, i) => f.index === i)).toBe(true);
        }),
        { numRuns: 150 },
      );
    });
  });
});

describe('GeoPackage samples', () => {
  const roads = sampleRoads({ rows: 10 });

  it('reads the EPSG:3857 acceptance sample with its projected coordinates, fids and typed attributes', async () => {
    await withTempDir(async (dir) => {
      const source = await openBytes(await samples.webMercator(roads), dir);
      expect(source.crs).toMatchObject({ kind: 'epsg', code: 3857 });
      expect(source.layer).toBe('roads');
      expect(source.geometryColumn).toBe('geom');
      expect(source.fields).toEqual(
        samples.sampleFields(roads).map((f) => ({ ...f, type: f.type === 'integer' ? 'bigint' : f.type })),
      );
      const features = await readAll(source);
      const projected = await projectRoads(roads, 3857);
      expect(features.map((f) => f.id)).toEqual(roads.map((_, i) => i + 1));
      expect(features.map((f) => f.geometry)).toEqual(projected.map((f) => f.geometry));
      expect(features.map((f) => f.properties)).toEqual(roads.map((f) => f.properties));
      await source.close();
    });
  });

  it('takes the EPSG:3857 sample back to the roads’ lon/lat within 1e-7°', async () => {
    await withTempDir(async (dir) => {
      const source = await openBytes(await samples.webMercator(roads), dir);
      expect(await worstLonLatError(source, roads)).toBeLessThan(1e-7);
      await source.close();
    });
  });

  it('gives each broken sample its own finding', async () => {
    await withTempDir(async (dir) => {
      const ambiguous = await openBytes(await samples.broken('two-line-layers', roads), dir).catch(
        (e: unknown) => e,
      );
      expect(ambiguous).toMatchObject({ rule: 'layer-ambiguous' });
      expect((ambiguous as Error).message).toMatch(/'cycle_paths' \(LINESTRING\), 'roads' \(GEOMETRY\)/);
      const polygons = await openBytes(await samples.broken('polygon-layer', roads), dir).catch(
        (e: unknown) => e,
      );
      expect(polygons).toMatchObject({ rule: 'layer-missing' });
      expect((polygons as Error).message).toContain("'parcels' (POLYGON)");
      const mixed = await readAll(await openBytes(await samples.broken('polygon-in-line-layer', roads), dir));
      expect(mixed.map((f) => f.geometry?.type === 'Polygon')).toEqual(
        roads.map((_, i) => i === samples.DEFECT_FEATURE),
      );
      expect((await openBytes(await samples.broken('unknown-srs', roads), dir)).crs).toBeNull();
      const plain = await openBytes(await samples.broken('not-a-geopackage', roads), dir).catch(
        (e: unknown) => e,
      );
      expect(plain).toMatchObject({ rule: 'geopackage-invalid' });
    });
  });
});
