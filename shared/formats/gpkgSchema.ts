/**
 * The GeoPackage metadata tables, read and written with plain SQL: which feature table is the road layer
 * (`gpkg_contents` + `gpkg_geometry_columns`), what CRS it declares (`gpkg_spatial_ref_sys`), and, for the
 * writer, the core schema of GeoPackage 1.4 (OGC 12-128r19: the table definitions of Annex C, the three
 * required SRS rows of Requirement 11, `application_id` "GPKG" and `user_version` 10400 of Requirement 2),
 * the feature table, and the `<layer>_matches` attributes table. A WKT2 definition goes into the
 * `definition_12_063` column of the CRS WKT extension (`gpkg_crs_wkt`), as the standard asks.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { FormatError } from './errors.js';
import type { CrsDeclaration, FieldInfo, FieldType, GeometryType, SinkOptions } from './types.js';

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export const GEOMETRY_TYPE_NAMES: Record<string, GeometryType> = {
  POINT: 'Point',
  LINESTRING: 'LineString',
  POLYGON: 'Polygon',
  MULTIPOINT: 'MultiPoint',
  MULTILINESTRING: 'MultiLineString',
  MULTIPOLYGON: 'MultiPolygon',
  GEOMETRYCOLLECTION: 'GeometryCollection',
};

/** Declared geometry types whose features are lines (the curve types included, so they are named, not hidden). */
const LINE_TYPES = new Set([
  'LINESTRING',
  'MULTILINESTRING',
  'CIRCULARSTRING',
  'COMPOUNDCURVE',
  'CURVE',
  'MULTICURVE',
]);
/** Declared types that may hold lines among other things. */
const GENERIC_TYPES = new Set(['GEOMETRY', 'GEOMETRYCOLLECTION']);

export interface LayerInfo {
  table: string;
  geometryColumn: string;
  geometryTypeName: string;
  srsId: number;
  /** GDAL's `gpkg_ogr_contents.feature_count`, when the file has it (a claim). */
  featureCount: number | null;
}

interface FeatureTableRow {
  table_name: string;
  column_name: string;
  geometry_type_name: string;
  srs_id: number | bigint;
}

function hasTable(db: DatabaseSync, name: string): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?").get(name) !==
    undefined
  );
}

/** The layer to read: the one asked for, else the only layer declared as lines or as generic geometry. */
export function chooseLayer(db: DatabaseSync, requested: string | undefined): LayerInfo {
  if (!hasTable(db, 'gpkg_contents')) {
    throw new FormatError(
      'geopackage-invalid',
      'The file is an SQLite database but not a GeoPackage (no gpkg_contents table).',
      {
        remedy:
          'Export the roads as a GeoPackage (QGIS: Export → Save Features As → GeoPackage) and upload that.',
      },
    );
  }
  const rows = hasTable(db, 'gpkg_geometry_columns')
    ? (db
        .prepare(
          `SELECT c.table_name, g.column_name, g.geometry_type_name, g.srs_id FROM gpkg_contents c
           JOIN gpkg_geometry_columns g ON lower(g.table_name) = lower(c.table_name)
           WHERE c.data_type = 'features' ORDER BY c.table_name`,
        )
        .all() as unknown as FeatureTableRow[])
    : [];
  const describe = (list: FeatureTableRow[]): string =>
    list.map((r) => `'${r.table_name}' (${r.geometry_type_name})`).join(', ');
  const chosen =
    requested === undefined ? pickLineLayer(rows, describe) : pickRequested(rows, requested, describe);
  if (!hasTable(db, chosen.table_name)) {
    throw new FormatError(
      'layer-missing',
      `The GeoPackage lists the layer '${chosen.table_name}' but has no such table.`,
      {
        remedy: 'Save the GeoPackage again from QGIS or ogr2ogr, which repairs its contents table.',
      },
    );
  }
  return {
    table: chosen.table_name,
    geometryColumn: chosen.column_name,
    geometryTypeName: chosen.geometry_type_name,
    srsId: Number(chosen.srs_id),
    featureCount: ogrFeatureCount(db, chosen.table_name),
  };
}

function pickRequested(
  rows: FeatureTableRow[],
  requested: string,
  describe: (list: FeatureTableRow[]) => string,
): FeatureTableRow {
  const match =
    rows.find((r) => r.table_name === requested) ??
    rows.find((r) => r.table_name.toLowerCase() === requested.toLowerCase());
  if (match) return match;
  throw new FormatError('layer-missing', `The GeoPackage has no feature table '${requested}'.`, {
    remedy: rows.length
      ? `Set the layer option to one of its feature tables: ${describe(rows)}.`
      : 'The file holds no feature table at all; export the road layer into it.',
  });
}

function pickLineLayer(
  rows: FeatureTableRow[],
  describe: (list: FeatureTableRow[]) => string,
): FeatureTableRow {
  // Layers declared as lines, and layers whose generic type may hold lines (GDAL writes GEOMETRY for a
  // layer mixing LineStrings and MultiLineStrings).
  const candidates = rows.filter((r) => {
    const type = r.geometry_type_name.toUpperCase();
    return LINE_TYPES.has(type) || GENERIC_TYPES.has(type);
  });
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length > 1) {
    throw new FormatError(
      'layer-ambiguous',
      `The GeoPackage has ${candidates.length} layers that may hold lines: ${describe(candidates)}.`,
      { remedy: 'Set the layer option to the table that holds the roads to match.' },
    );
  }
  throw new FormatError(
    'layer-missing',
    rows.length
      ? `The GeoPackage has no line layer; its feature tables are ${describe(rows)}.`
      : 'The GeoPackage has no feature table.',
    {
      remedy: rows.length
        ? 'gem-flow matches roads, which are lines. If one of these tables holds lines, set the layer option to it.'
        : 'Export the road layer into the GeoPackage and upload it again.',
    },
  );
}

function ogrFeatureCount(db: DatabaseSync, table: string): number | null {
  if (!hasTable(db, 'gpkg_ogr_contents')) return null;
  const row = db
    .prepare('SELECT feature_count FROM gpkg_ogr_contents WHERE lower(table_name) = lower(?)')
    .get(table) as { feature_count?: unknown } | undefined;
  const count = Number(row?.feature_count);
  return Number.isSafeInteger(count) && count >= 0 ? count : null;
}

/** The layer's CRS: an EPSG code where the SRS row names one, else its WKT; null for the undefined SRSs. */
export function readLayerCrs(db: DatabaseSync, srsId: number): CrsDeclaration | null {
  const columns = db.prepare('PRAGMA table_info(gpkg_spatial_ref_sys)').all() as { name: string }[];
  const wkt2 = columns.some((c) => c.name === 'definition_12_063') ? ', definition_12_063' : '';
  const row = db
    .prepare(
      `SELECT organization, organization_coordsys_id, definition${wkt2} FROM gpkg_spatial_ref_sys WHERE srs_id = ?`,
    )
    .get(srsId) as Record<string, unknown> | undefined;
  if (row === undefined) return null;
  const source = `GeoPackage gpkg_spatial_ref_sys (srs_id ${srsId})`;
  const code = Number(row.organization_coordsys_id);
  if (String(row.organization).toUpperCase() === 'EPSG' && Number.isSafeInteger(code) && code > 0) {
    return { kind: 'epsg', code, source };
  }
  const wkt = usableDefinition(row.definition) ?? usableDefinition(row.definition_12_063);
  return wkt === null ? null : { kind: 'wkt', wkt, source };
}

function usableDefinition(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' && value.trim().toLowerCase() !== 'undefined'
    ? value
    : null;
}

/** The field type of a GeoPackage column type (Table 1 of the standard), else by SQLite's affinity rules. */
export function fieldTypeForDeclared(declared: string): FieldType {
  const upper = declared.trim().toUpperCase();
  const base = upper.replace(/\s*\(.*$/, '');
  const exact: Record<string, FieldType> = {
    BOOLEAN: 'boolean',
    TINYINT: 'integer',
    SMALLINT: 'integer',
    MEDIUMINT: 'integer',
    INT: 'bigint',
    INTEGER: 'bigint',
    FLOAT: 'number',
    DOUBLE: 'number',
    REAL: 'number',
    TEXT: 'string',
    BLOB: 'binary',
    DATE: 'date',
    DATETIME: 'datetime',
  };
  const known = exact[base];
  if (known) return known;
  if (upper.includes('INT')) return 'bigint';
  if (/CHAR|CLOB|TEXT/.test(upper)) return 'string';
  if (upper.includes('BLOB')) return 'binary';
  if (upper === '') return 'string';
  return 'number';
}

/** The GeoPackage column type each field type is written as. */
export const SQL_TYPE_FOR_FIELD: Record<FieldType, string> = {
  string: 'TEXT',
  integer: 'INTEGER',
  bigint: 'INTEGER',
  number: 'DOUBLE',
  boolean: 'BOOLEAN',
  date: 'DATE',
  datetime: 'DATETIME',
  binary: 'BLOB',
  json: 'TEXT',
};

// ---- Writing ----

const WGS84_WKT =
  'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],' +
  'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],' +
  'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]';

/** The first srs_id of CRSs without an authority code (GDAL starts its own at 100000 too). */
const CUSTOM_SRS_ID = 100000;

/**
 * Creates `gpkg_spatial_ref_sys` with the required rows (EPSG:4326, undefined Cartesian −1, undefined
 * geographic 0) and the declared CRS, and returns the srs_id features carry. No CRS → −1.
 */
export function registerCrs(db: DatabaseSync, crs: CrsDeclaration | null): number {
  db.exec(`CREATE TABLE gpkg_spatial_ref_sys (
    srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
    organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)`);
  const insert = db.prepare('INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)');
  insert.run(
    'WGS 84 geodetic',
    4326,
    'EPSG',
    4326,
    WGS84_WKT,
    'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid',
  );
  insert.run(
    'Undefined Cartesian SRS',
    -1,
    'NONE',
    -1,
    'undefined',
    'undefined Cartesian coordinate reference system',
  );
  insert.run(
    'Undefined geographic SRS',
    0,
    'NONE',
    0,
    'undefined',
    'undefined geographic coordinate reference system',
  );
  if (crs === null) return -1;
  const code = epsgCodeOf(crs);
  if (code === 4326) return 4326;
  if (code !== null) {
    const entry = epsgEntry(code);
    insert.run(entry?.name ?? `EPSG:${code}`, code, 'EPSG', code, entry?.wkt ?? 'undefined', crs.source);
  } else if (crs.kind === 'wkt' && isWkt2(crs.wkt)) {
    addWkt2Extension(db);
    db.prepare('INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      wktName(crs.wkt),
      CUSTOM_SRS_ID,
      'NONE',
      CUSTOM_SRS_ID,
      'undefined',
      crs.source,
      crs.wkt,
    );
  } else if (crs.kind === 'wkt') {
    insert.run(wktName(crs.wkt), CUSTOM_SRS_ID, 'NONE', CUSTOM_SRS_ID, crs.wkt, crs.source);
  } else {
    // PROJJSON without an EPSG id: no GeoPackage column takes PROJJSON, so it is kept as the description.
    const projjson = crs.kind === 'projjson' ? crs.projjson : {};
    const name = typeof projjson.name === 'string' ? projjson.name : 'Custom CRS';
    insert.run(name, CUSTOM_SRS_ID, 'NONE', CUSTOM_SRS_ID, 'undefined', JSON.stringify(projjson));
  }
  return code ?? CUSTOM_SRS_ID;
}

function epsgCodeOf(crs: CrsDeclaration): number | null {
  if (crs.kind === 'epsg') return crs.code;
  if (crs.kind === 'crs84') return 4326;
  if (crs.kind === 'projjson') return projjsonEpsg(crs.projjson) || null;
  return null;
}

function wktName(wkt: string): string {
  return /^\s*\w+\s*\[\s*"([^"]*)"/.exec(wkt)?.[1] || 'Custom CRS';
}

function projjsonEpsg(projjson: Record<string, unknown>): number {
  const id = projjson.id as { authority?: unknown; code?: unknown } | undefined;
  const code = Number(id?.code);
  return String(id?.authority).toUpperCase() === 'EPSG' && Number.isSafeInteger(code) ? code : 0;
}

function isWkt2(wkt: string): boolean {
  return /^\s*(PROJCRS|GEOGCRS|GEODCRS|BOUNDCRS|COMPOUNDCRS|VERTCRS|ENGCRS|PROJECTEDCRS|GEODETICCRS|GEOGRAPHICCRS)\s*\[/i.test(
    wkt,
  );
}

function addWkt2Extension(db: DatabaseSync): void {
  db.exec(`ALTER TABLE gpkg_spatial_ref_sys ADD COLUMN definition_12_063 TEXT NOT NULL DEFAULT 'undefined';
    CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
      definition TEXT NOT NULL, scope TEXT NOT NULL,
      CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
    INSERT INTO gpkg_extensions VALUES ('gpkg_spatial_ref_sys', 'definition_12_063', 'gpkg_crs_wkt',
      'http://www.geopackage.org/spec/#extension_crs_wkt', 'read-write')`);
}

/** The EPSG dataset's name and WKT1 for a code (`epsg-index`, one small file per code), or null. */
function epsgEntry(code: number): { name: string; wkt: string } | null {
  try {
    const dir = join(dirname(require.resolve('epsg-index/package.json')), 's');
    const entry = JSON.parse(readFileSync(join(dir, `${Math.trunc(code)}.json`), 'utf8')) as {
      name?: unknown;
      wkt?: unknown;
    };
    return typeof entry.wkt === 'string' && typeof entry.name === 'string'
      ? { name: entry.name, wkt: entry.wkt }
      : null;
  } catch {
    return null;
  }
}

/** A table name GeoPackage allows: not empty, not in the `gpkg_`, `sqlite_` or `rtree_` namespaces. */
function tableNameFor(layer: string): string {
  const name = layer.trim() || 'features';
  return /^(gpkg_|sqlite_|rtree_)/i.test(name) ? `layer_${name}` : name;
}

export interface OutputTables {
  features: string;
  geometryColumn: string;
  matches: string;
}

/** The geometry column's name: the source's own where it had one, else GDAL's `geom`. */
export function geometryColumnFor(options: SinkOptions): string {
  return options.geometryColumn?.trim() || 'geom';
}

/** `application_id`, `user_version` and the contents and geometry-columns tables (after `registerCrs`). */
export function createCoreTables(db: DatabaseSync): void {
  db.exec(`PRAGMA application_id = 1196444487; PRAGMA user_version = 10400;
    CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
      identifier TEXT UNIQUE, description TEXT DEFAULT '',
      last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
      min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
      CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
    CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
      geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
      CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
      CONSTRAINT uk_gc_table_name UNIQUE (table_name),
      CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
      CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))`);
}

export interface FeatureTableSpec {
  table: string;
  geometryColumn: string;
  /** A GeoPackage geometry type name (`LINESTRING`, `GEOMETRY`, …). */
  geometryTypeName: string;
  fields: readonly FieldInfo[];
  srsId: number;
  description: string;
}

/** A feature table (`fid` primary key, geometry column, the fields), registered in the core tables. */
export function createFeatureTable(db: DatabaseSync, spec: FeatureTableSpec): void {
  const columns = spec.fields.map((f) => `, ${quoteIdentifier(f.name)} ${SQL_TYPE_FOR_FIELD[f.type]}`);
  db.exec(`CREATE TABLE ${quoteIdentifier(spec.table)} ("fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    ${quoteIdentifier(spec.geometryColumn)} ${spec.geometryTypeName}${columns.join('')})`);
  db.prepare(
    'INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES (?, ?, ?, ?, ?)',
  ).run(spec.table, 'features', spec.table, spec.description, spec.srsId);
  db.prepare('INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, ?, 0, 0)').run(
    spec.table,
    spec.geometryColumn,
    spec.geometryTypeName,
    spec.srsId,
  );
}

/** Creates the core tables, the feature table and the matches table; returns their names. */
export function createSchema(
  db: DatabaseSync,
  options: SinkOptions,
  fields: readonly FieldInfo[],
  srsId: number,
): OutputTables {
  const features = tableNameFor(options.layer);
  const geometryColumn = geometryColumnFor(options);
  const matches = `${features}_matches`;
  // The output is a scratch file until `finish`: no rollback journal, no fsync; `abort` deletes it.
  db.exec('PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF');
  createCoreTables(db);
  createFeatureTable(db, {
    table: features,
    geometryColumn,
    geometryTypeName: options.geometryType ? options.geometryType.toUpperCase() : 'GEOMETRY',
    fields,
    srsId,
    description: 'Features with GERS ids from TomTom Orbis GEM',
  });
  db.exec(`CREATE TABLE ${quoteIdentifier(matches)} ("match_id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
      "fid" INTEGER NOT NULL REFERENCES ${quoteIdentifier(features)} ("fid"), "gers" TEXT NOT NULL,
      "confidence" DOUBLE, "lr_from" DOUBLE, "lr_to" DOUBLE, "gers_from" DOUBLE, "gers_to" DOUBLE,
      "part" INTEGER NOT NULL);
    CREATE INDEX ${quoteIdentifier(`${matches}_fid`)} ON ${quoteIdentifier(matches)} ("fid")`);
  db.prepare(
    'INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES (?, ?, ?, ?)',
  ).run(matches, 'attributes', matches, `Every GEM match of each feature of ${features}, by fid`);
  return { features, geometryColumn, matches };
}
