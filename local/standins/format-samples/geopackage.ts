/**
 * GeoPackage samples: the sample roads as a plain road layer (what QGIS or ogr2ogr export: a feature table with
 * the attributes, no enrichment), written with node:sqlite and gem-flow's own schema and geometry encoders.
 * `webMercator()` is the sample the acceptance needs: the roads projected to EPSG:3857 with proj4. Broken
 * cases each differ from the valid file in one defect: two line layers, a layer of polygons, a polygon
 * inside the line layer, an SRS no authority names, and an SQLite database that is not a GeoPackage.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { encodeGpkgGeometry } from '../../../shared/formats/gpkgGeometry.js';
import {
  createCoreTables,
  createFeatureTable,
  quoteIdentifier,
  registerCrs,
} from '../../../shared/formats/gpkgSchema.js';
import type { CrsDeclaration, FieldInfo, Geometry, PropertyValue } from '../../../shared/formats/types.js';
import { projectRoads, type SampleFeature, sampleRoads } from './roads.js';

/** Field types as the sample roads' values show them (numbers are integers only if every value is). */
export function sampleFields(features: SampleFeature[]): FieldInfo[] {
  const names = Object.keys(features[0]?.properties ?? {});
  return names.map((name) => {
    const values = features.map((f) => f.properties[name]).filter((v) => v !== null && v !== undefined);
    const type = fieldTypeOf(values[0] ?? null);
    const mixed = type === 'integer' && values.some((v) => !Number.isInteger(v));
    return { name, type: mixed ? 'number' : type };
  });
}

function fieldTypeOf(value: PropertyValue): FieldInfo['type'] {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'bigint') return 'bigint';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (value instanceof Date) return 'date';
  if (value instanceof Uint8Array) return 'binary';
  return 'string';
}

function sqlValue(value: PropertyValue | undefined): null | number | bigint | string | Uint8Array {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (typeof value === 'object' && !(value instanceof Uint8Array)) return JSON.stringify(value);
  return value;
}

interface Layer {
  name: string;
  geometryTypeName: string;
  features: SampleFeature[];
}

/** Builds the file in a scratch directory and returns its bytes. */
async function geopackage(layers: Layer[], crs: CrsDeclaration | null): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'gem-flow-gpkg-sample-'));
  try {
    const path = join(dir, 'sample.gpkg');
    const db = new DatabaseSync(path);
    const srsId = registerCrs(db, crs);
    createCoreTables(db);
    for (const layer of layers) writeLayer(db, layer, srsId);
    db.close();
    return new Uint8Array(await readFile(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function writeLayer(db: DatabaseSync, layer: Layer, srsId: number): void {
  const fields = sampleFields(layer.features);
  createFeatureTable(db, {
    table: layer.name,
    geometryColumn: 'geom',
    geometryTypeName: layer.geometryTypeName,
    fields,
    srsId,
    description: 'sample roads',
  });
  const names = fields.map((f) => quoteIdentifier(f.name));
  const insert = db.prepare(
    `INSERT INTO ${quoteIdentifier(layer.name)} ("fid", "geom", ${names.join(', ')}) VALUES (?, ?, ${names.map(() => '?').join(', ')})`,
  );
  db.exec('BEGIN');
  layer.features.forEach((f, i) => {
    const values = fields.map((field) => sqlValue(f.properties[field.name]));
    insert.run(i + 1, encodeGpkgGeometry(f.geometry, srsId), ...values);
  });
  db.exec('COMMIT');
}

const EPSG = (code: number): CrsDeclaration => ({ kind: 'epsg', code, source: 'sample' });

/** A valid GeoPackage of the features in one layer `roads`, declared by its geometries' type (`GEOMETRY` when mixed). */
export function valid(
  features: SampleFeature[] = sampleRoads(),
  options: { layer?: string; crs?: CrsDeclaration | null } = {},
): Promise<Uint8Array> {
  const crs = options.crs === undefined ? EPSG(4326) : options.crs;
  return geopackage(
    [{ name: options.layer ?? 'roads', geometryTypeName: declaredType(features), features }],
    crs,
  );
}

/** The acceptance sample: the roads in EPSG:3857 (WGS 84 / Pseudo-Mercator). */
export async function webMercator(features: SampleFeature[] = sampleRoads()): Promise<Uint8Array> {
  return valid(await projectRoads(features, 3857), { crs: EPSG(3857) });
}

export const GEOPACKAGE_BROKEN = [
  'two-line-layers',
  'polygon-layer',
  'polygon-in-line-layer',
  'unknown-srs',
  'not-a-geopackage',
] as const;
export type GeoPackageBroken = (typeof GEOPACKAGE_BROKEN)[number];

/** The 0-based feature that carries a per-feature defect. */
export const DEFECT_FEATURE = 2;

/** A small square at a road's first vertex: a polygon where a line was expected. */
export function square(geometry: Geometry | null): Geometry {
  const [x, y] = geometry?.type === 'LineString' ? geometry.coordinates[0]! : [4.9, 52.37];
  const d = 0.0005;
  return {
    type: 'Polygon',
    coordinates: [
      [
        [x!, y!],
        [x! + d, y!],
        [x! + d, y! + d],
        [x!, y! + d],
        [x!, y!],
      ],
    ],
  };
}

/** `LINESTRING`, `MULTILINESTRING`, … when every geometry has that type, else `GEOMETRY`. */
function declaredType(features: SampleFeature[]): string {
  const types = new Set(features.map((f) => f.geometry?.type).filter((t) => t !== undefined));
  return types.size === 1 ? [...types][0]!.toUpperCase() : 'GEOMETRY';
}

export async function broken(
  kind: GeoPackageBroken,
  features: SampleFeature[] = sampleRoads(),
): Promise<Uint8Array> {
  const layer = (name: string, list: SampleFeature[]): Layer => ({
    name,
    geometryTypeName: declaredType(list),
    features: list,
  });
  switch (kind) {
    case 'two-line-layers':
      return geopackage([layer('roads', features), layer('cycle_paths', features.slice(0, 3))], EPSG(4326));
    case 'polygon-layer':
      return geopackage(
        [
          layer(
            'parcels',
            features.map((f) => ({ ...f, geometry: square(f.geometry) })),
          ),
        ],
        EPSG(4326),
      );
    case 'polygon-in-line-layer':
      return valid(
        features.map((f, i) => (i === DEFECT_FEATURE ? { ...f, geometry: square(f.geometry) } : f)),
      );
    case 'unknown-srs':
      return valid(features, { crs: null });
    case 'not-a-geopackage':
      // The same database with `gpkg_contents` renamed: what a plain SQLite export looks like to a reader.
      return renameContents(await valid(features));
  }
}

async function renameContents(bytes: Uint8Array): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'gem-flow-gpkg-sample-'));
  try {
    const path = join(dir, 'plain.sqlite');
    await writeFile(path, bytes);
    const db = new DatabaseSync(path);
    db.exec('ALTER TABLE gpkg_contents RENAME TO contents; PRAGMA application_id = 0');
    db.close();
    return new Uint8Array(await readFile(path));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
