/**
 * GeoParquet in and out, through hyparquet and hyparquet-writer. Reading follows the GeoParquet 1.0/1.1
 * `geo` metadata: `primary_column` names the geometry, its `encoding` is WKB or WKT (the native GeoArrow
 * encodings are refused with the fix), its `crs` is PROJJSON — absent means OGC:CRS84, null means unknown
 * (then the `sourceCrs` option must say). A file without `geo` metadata but with a Parquet GEOMETRY/GEOGRAPHY
 * column (the Parquet format's own geospatial types) or a binary `geometry` column is read the same way.
 * Each geometry value is decoded alone, so one bad value is one feature's problem. Every other column is a
 * property with its Parquet type (INT64 stays bigint, dates stay dates).
 *
 * Writing: the user's columns with their types, the geometry as WKB under the source's column name, the
 * enrichment columns, and `matches` as a nested `list<struct<…>>` column, in row groups of bounded size; the
 * `geo` metadata (version 1.1.0) carries the geometry types seen and the source's CRS as PROJJSON.
 */
import { rm, stat } from 'node:fs/promises';
import type { SchemaElement } from 'hyparquet-writer';
import { errorMessage } from '../errors.js';
import { crsToProjjson, parseCrsText } from './crs.js';
import { FormatError } from './errors.js';
import { enrichmentNames, jsonSafe } from './fields.js';
import { dimsOf, geometryToWkb, wkbToGeometry, wktToGeometry } from './geometry.js';
import { loadHyparquetWriter } from './hyparquetWriter.js';
import {
  declaredRows,
  fieldsOf,
  openParquet,
  type ParquetFile,
  propertyValue,
  rowBatches,
} from './parquetRows.js';
import type {
  CreateFeatureSink,
  CrsDeclaration,
  FeatureSink,
  FeatureSource,
  FieldInfo,
  Geometry,
  GeometryType,
  OpenFeatureSource,
  OutputFeature,
  PropertyValue,
  SinkOptions,
  SourceFeature,
} from './types.js';

interface GeoColumn {
  name: string;
  encoding: 'WKB' | 'WKT';
  crs: CrsDeclaration | null;
  geometryTypes: string[];
}

const GEOMETRY_NAMES = ['geometry', 'geom', 'wkb_geometry', 'the_geom', 'shape', 'wkb'];

function geoMetadata(parquet: ParquetFile, label: string): Record<string, unknown> | undefined {
  const text = parquet.keyValues.get('geo');
  if (text === undefined) return undefined;
  try {
    const geo = JSON.parse(text) as unknown;
    if (geo && typeof geo === 'object' && !Array.isArray(geo)) return geo as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new FormatError(
    'geoparquet-metadata',
    `${label}: the GeoParquet "geo" metadata is not a JSON object.`,
    {
      remedy: 'Write the file again with a GeoParquet writer (geopandas to_parquet, GDAL, DuckDB spatial).',
    },
  );
}

function crsOf(column: Record<string, unknown>, label: string): CrsDeclaration | null {
  const source = `${label} GeoParquet "crs"`;
  if (!Object.hasOwn(column, 'crs'))
    return { kind: 'crs84', source: `${label} (GeoParquet default OGC:CRS84)` };
  const crs = column.crs;
  if (crs === null) return null;
  if (typeof crs === 'object' && !Array.isArray(crs))
    return { kind: 'projjson', projjson: crs as Record<string, unknown>, source };
  if (typeof crs === 'string') return parseCrsText(crs, source);
  throw new FormatError('crs-unknown', `${source} is neither PROJJSON nor null.`, {
    remedy: 'Set the sourceCrs option to the EPSG code of the data.',
  });
}

/** The geometry column to read and how: from `geo` metadata, else from the Parquet schema. */
function geoColumnOf(parquet: ParquetFile, label: string): GeoColumn {
  const geo = geoMetadata(parquet, label);
  if (geo) {
    const primary = typeof geo.primary_column === 'string' ? geo.primary_column : undefined;
    const columns = (geo.columns && typeof geo.columns === 'object' ? geo.columns : {}) as Record<
      string,
      Record<string, unknown>
    >;
    const column = primary !== undefined ? columns[primary] : undefined;
    if (!primary || !column || !parquet.columns.some((c) => c.element.name === primary)) {
      throw new FormatError(
        'geoparquet-metadata',
        `${label}: the "geo" metadata's primary_column ${JSON.stringify(primary ?? null)} is not a column of the file.`,
        {
          remedy: 'Write the file again with a GeoParquet writer.',
        },
      );
    }
    const encoding = String(column.encoding ?? '').toUpperCase();
    if (encoding !== 'WKB' && encoding !== 'WKT') {
      throw new FormatError(
        'geoparquet-encoding',
        `${label}: the geometry column "${primary}" is encoded as ${String(column.encoding)}; gem-flow reads WKB and WKT.`,
        {
          remedy:
            'Write the GeoParquet with WKB geometry (geopandas to_parquet(geometry_encoding="WKB"), the default).',
        },
      );
    }
    const types = Array.isArray(column.geometry_types) ? column.geometry_types.map(String) : [];
    return { name: primary, encoding, crs: crsOf(column, label), geometryTypes: types };
  }
  for (const c of parquet.columns) {
    const logical = c.element.logical_type;
    if (logical?.type === 'GEOMETRY' || logical?.type === 'GEOGRAPHY') {
      const crsText = (logical as { crs?: string }).crs;
      const crs = crsText
        ? parseCrsText(crsText, `${label} Parquet ${logical.type} crs`)
        : { kind: 'crs84' as const, source: `${label} (Parquet ${logical.type} default OGC:CRS84)` };
      return { name: c.element.name, encoding: 'WKB', crs, geometryTypes: [] };
    }
  }
  const binary = parquet.columns.find(
    (c) =>
      c.element.type === 'BYTE_ARRAY' &&
      c.children.length === 0 &&
      GEOMETRY_NAMES.includes(c.element.name.toLowerCase()),
  );
  if (binary) return { name: binary.element.name, encoding: 'WKB', crs: null, geometryTypes: [] };
  throw new FormatError(
    'geometry-present',
    `${label} has no geometry column (no "geo" metadata, no GEOMETRY column, no binary "geometry").`,
    {
      remedy: 'Write the file with a GeoParquet writer, or as GEM Parquet with a WKT "geometry" column.',
    },
  );
}

const DECLARED: Record<string, GeometryType> = {
  LineString: 'LineString',
  MultiLineString: 'MultiLineString',
  Point: 'Point',
  MultiPoint: 'MultiPoint',
  Polygon: 'Polygon',
  MultiPolygon: 'MultiPolygon',
  GeometryCollection: 'GeometryCollection',
};

function decodeGeometry(
  value: unknown,
  column: GeoColumn,
  maxBytes: number,
): Pick<SourceFeature, 'geometry' | 'problem'> {
  if (value === null || value === undefined) return { geometry: null };
  const size = typeof value === 'string' ? value.length : value instanceof Uint8Array ? value.byteLength : -1;
  if (size < 0)
    return {
      geometry: null,
      problem: {
        rule: 'geometry-unreadable',
        message: `the "${column.name}" value is not ${column.encoding}.`,
      },
    };
  if (size > maxBytes) {
    return {
      geometry: null,
      problem: {
        rule: 'feature-too-large',
        message: `the geometry is ${size} bytes, over the limit of ${maxBytes}.`,
      },
    };
  }
  try {
    const geometry =
      column.encoding === 'WKT'
        ? wktToGeometry(typeof value === 'string' ? value : new TextDecoder().decode(value as Uint8Array))
        : wkbToGeometry(typeof value === 'string' ? new TextEncoder().encode(value) : (value as Uint8Array));
    return { geometry };
  } catch (err) {
    return {
      geometry: null,
      problem: {
        rule: 'geometry-unreadable',
        message: `the ${column.encoding} geometry cannot be decoded (${errorMessage(err)}).`,
      },
    };
  }
}

export const openGeoParquet: OpenFeatureSource = async (file, options) => {
  const parquet = await openParquet(file, { geoparquet: false, label: file.name });
  const column = geoColumnOf(parquet, file.name);
  const fields = fieldsOf(parquet.columns, new Set([column.name]), options.limits);
  const names = parquet.columns.map((c) => c.element.name);
  const declared =
    column.geometryTypes.length === 1
      ? (DECLARED[column.geometryTypes[0]!.replace(/ ?Z$/, '')] ?? null)
      : null;
  let used = false;

  async function* features(): AsyncIterable<SourceFeature> {
    if (used) throw new Error('features() can be called once');
    used = true;
    for await (const batch of rowBatches(parquet, names, file.name)) {
      for (let k = 0; k < batch.rows.length; k++) {
        const row = batch.rows[k]!;
        const properties: Record<string, PropertyValue> = {};
        for (const { name } of fields) properties[name] = propertyValue(row[name]);
        yield {
          index: batch.start + k,
          id: null,
          properties,
          ...decodeGeometry(row[column.name], column, options.limits.maxFeatureBytes),
        };
      }
    }
  }

  return {
    format: 'geoparquet',
    layer: null,
    crs: column.crs,
    fields,
    declaredGeometryType: declared,
    declaredFeatureCount: declaredRows(parquet),
    geometryColumn: column.name,
    features,
    close: async () => {},
  } satisfies FeatureSource;
};

// ---- Writer ----

const optional = (e: Omit<SchemaElement, 'repetition_type'>): SchemaElement => ({
  ...e,
  repetition_type: 'OPTIONAL',
});

/** The Parquet column of a user field: its own type, so a GeoParquet round trip keeps every type. */
function userColumn(field: FieldInfo): SchemaElement {
  switch (field.type) {
    case 'string':
      return optional({ name: field.name, type: 'BYTE_ARRAY', converted_type: 'UTF8' });
    case 'integer':
    case 'bigint':
      return optional({ name: field.name, type: 'INT64' });
    case 'number':
      return optional({ name: field.name, type: 'DOUBLE' });
    case 'boolean':
      return optional({ name: field.name, type: 'BOOLEAN' });
    case 'date':
      return optional({ name: field.name, type: 'INT32', converted_type: 'DATE' });
    case 'datetime':
      return optional({ name: field.name, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' });
    case 'binary':
      return optional({ name: field.name, type: 'BYTE_ARRAY' });
    case 'json':
      return optional({ name: field.name, type: 'BYTE_ARRAY', converted_type: 'JSON' });
  }
}

/** A property value as the user column's Parquet type takes it; a value of another type becomes null. */
function columnValue(value: PropertyValue | undefined, field: FieldInfo): unknown {
  if (value === null || value === undefined) return null;
  switch (field.type) {
    case 'string':
      return typeof value === 'string' ? value : String(value);
    case 'integer':
    case 'bigint':
      if (typeof value === 'bigint') return value;
      return typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : null;
    case 'number':
      return typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : null;
    case 'boolean':
      return typeof value === 'boolean' ? value : null;
    case 'date':
    case 'datetime':
      return value instanceof Date ? value : null;
    case 'binary':
      return value instanceof Uint8Array ? value : null;
    case 'json':
      return value;
  }
}

const MATCH_COLUMNS: SchemaElement[] = [
  { name: 'gers', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'confidence', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'lr_from', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'lr_to', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'gers_from', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'gers_to', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'part', type: 'INT32', repetition_type: 'OPTIONAL' },
];

function outputSchema(
  fields: readonly FieldInfo[],
  geometry: string,
  names: ReturnType<typeof enrichmentNames>,
): SchemaElement[] {
  const top: SchemaElement[][] = [
    ...fields.map((f) => [userColumn(f)]),
    [optional({ name: geometry, type: 'BYTE_ARRAY' })],
    [optional({ name: names.gers, type: 'BYTE_ARRAY', converted_type: 'UTF8' })],
    [optional({ name: names.confidence, type: 'DOUBLE' })],
    [optional({ name: names.lr_from, type: 'DOUBLE' })],
    [optional({ name: names.lr_to, type: 'DOUBLE' })],
    [{ name: names.match, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' }],
    [{ name: names.match_count, type: 'INT32', repetition_type: 'REQUIRED' }],
    [
      { name: names.matches, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', num_children: MATCH_COLUMNS.length },
      ...MATCH_COLUMNS,
    ],
  ];
  return [{ name: 'root', num_children: top.length }, ...top.flat()];
}

function uniqueGeometryName(fields: readonly FieldInfo[], wanted: string): string {
  const taken = new Set(fields.map((f) => f.name));
  let name = wanted;
  for (let n = 2; taken.has(name); n++) name = `${wanted}_${n}`;
  return name;
}

/** GeoParquet `geometry_types` names: `LineString`, `MultiLineString Z`, … */
function geometryTypeName(g: Geometry): string {
  return dimsOf(g).z ? `${g.type} Z` : g.type;
}

export interface GeoParquetSinkTuning {
  /** Rows per row group (default 10,000). */
  rowGroupRows?: number;
  /** Estimated encoded bytes (WKB, text and binary values) per row group before it is cut early; default 4 MiB. */
  rowGroupBytes?: number;
}

/**
 * Small row groups on purpose: hyparquet-writer encodes a row group from whole column arrays, and its working
 * set is many times the row group's data; with 50,000-row groups the enrichment's peak RSS grew with the file
 * (GC left several row groups' garbage behind), with 10,000 it stays near the reader's (README, Measured).
 */
const DEFAULT_ROW_GROUP_ROWS = 10_000;
const DEFAULT_ROW_GROUP_BYTES = 4 * 1024 * 1024;
/** A match's encoded size, about: a GERS id (a 36-character UUID) and six numbers. */
const MATCH_BYTES = 36 + 6 * 8;

/** About how many bytes a property value takes encoded: what the row group's byte budget counts. */
function encodedBytes(value: PropertyValue | undefined): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') return value.length;
  if (value instanceof Uint8Array) return value.byteLength;
  if (typeof value === 'object' && !(value instanceof Date)) return JSON.stringify(jsonSafe(value)).length;
  return 8;
}

interface BufferedRow {
  feature: OutputFeature;
  /** The geometry as WKB, encoded when the feature is written so the buffer holds bytes, not arrays. */
  wkb: Uint8Array | null;
}

export const createGeoParquetSink: CreateFeatureSink = async (options) =>
  createGeoParquetSinkWith(options, {});

export async function createGeoParquetSinkWith(
  options: SinkOptions,
  tuning: GeoParquetSinkTuning,
): Promise<FeatureSink> {
  const { ParquetWriter, fileWriter } = await loadHyparquetWriter();
  const geometryName = uniqueGeometryName(options.fields, options.geometryColumn ?? 'geometry');
  const names = enrichmentNames([...options.fields, { name: geometryName, type: 'binary' }]);
  const schema = outputSchema(options.fields, geometryName, names);
  const projjson = await crsToProjjson(options.crs);
  const writer = new ParquetWriter({ writer: fileWriter(options.path), schema, createdBy: 'gem-flow' });
  const rowGroupRows = Math.max(1, tuning.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS);
  const rowGroupBytes = Math.max(1, tuning.rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES);
  const geometryTypes = new Set<string>();
  let buffer: BufferedRow[] = [];
  let bufferedBytes = 0;
  let count = 0;

  const flush = async () => {
    if (buffer.length === 0) return;
    const rows = buffer.map((b) => b.feature);
    const wkbs = buffer.map((b) => b.wkb);
    buffer = [];
    bufferedBytes = 0;
    const columnData = [
      ...options.fields.map((f) => ({
        name: f.name,
        data: rows.map((r) => columnValue(r.properties[f.name], f)),
      })),
      { name: geometryName, data: wkbs },
      { name: names.gers, data: rows.map((r) => r.enrichment.gers) },
      { name: names.confidence, data: rows.map((r) => r.enrichment.confidence) },
      { name: names.lr_from, data: rows.map((r) => r.enrichment.lr_from) },
      { name: names.lr_to, data: rows.map((r) => r.enrichment.lr_to) },
      { name: names.match, data: rows.map((r) => r.enrichment.match) },
      { name: names.match_count, data: rows.map((r) => r.enrichment.match_count) },
      {
        name: names.matches,
        data: rows.map((r) =>
          r.matches.map((m) => ({
            gers: m.gers,
            confidence: m.confidence,
            lr_from: m.lrFrom,
            lr_to: m.lrTo,
            gers_from: m.gersFrom,
            gers_to: m.gersTo,
            part: m.part,
          })),
        ),
      },
    ];
    await writer.write({ columnData: columnData as never, rowGroupSize: rows.length });
  };

  return {
    async write(feature: OutputFeature) {
      const wkb = feature.geometry ? geometryToWkb(feature.geometry) : null;
      if (feature.geometry) geometryTypes.add(geometryTypeName(feature.geometry));
      buffer.push({ feature: { ...feature, geometry: null }, wkb });
      bufferedBytes += (wkb?.byteLength ?? 0) + MATCH_BYTES * feature.matches.length;
      for (const f of options.fields) bufferedBytes += encodedBytes(feature.properties[f.name]);
      count++;
      if (buffer.length >= rowGroupRows || bufferedBytes >= rowGroupBytes) await flush();
    },
    async finish() {
      await flush();
      const column: Record<string, unknown> = { encoding: 'WKB', geometry_types: [...geometryTypes].sort() };
      if (projjson !== undefined) column.crs = projjson;
      const geo = { version: '1.1.0', primary_column: geometryName, columns: { [geometryName]: column } };
      (writer as unknown as { kvMetadata: { key: string; value: string }[] }).kvMetadata = [
        { key: 'geo', value: JSON.stringify(geo) },
      ];
      await writer.finish();
      return { features: count, bytes: (await stat(options.path)).size };
    },
    async abort() {
      buffer = [];
      await rm(options.path, { force: true });
    },
  };
}
