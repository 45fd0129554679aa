/**
 * GeoPackage in and out, with Node's built-in SQLite (`./sqlite.ts`). Reading needs the file on local disk
 * (SQLite pages are random access), opened read-only; the layer is the `layer` option or the only line layer
 * in `gpkg_contents`/`gpkg_geometry_columns`; the CRS comes from `gpkg_spatial_ref_sys`; rows are streamed
 * with a statement iterator in `fid` order, and every value longer than `maxFeatureBytes` is left in the
 * database (SQL `CASE` on `octet_length`, which SQLite answers from the record header) so one huge blob
 * cannot be pulled into memory. Values keep their storage type (SQLite is dynamically typed), integers
 * beyond 2^53 as bigint, DATE/DATETIME text as Date, BOOLEAN as boolean.
 *
 * Writing produces a GeoPackage 1.4 file (`./gpkgSchema.ts`) with the user's columns, the enrichment
 * columns, and a side table `<layer>_matches` (one row per GERS match, keyed by the feature's `fid`)
 * registered as an `attributes` table. Rows go in through one prepared statement in batched transactions;
 * the extent, the Z/M flags and the counts are completed by `finish`.
 */
import { open, rm, stat } from 'node:fs/promises';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { FormatError } from './errors.js';
import { problemFrom } from './featureProblem.js';
import { exactInteger } from './flatgeobufProperties.js';
import { dimsOf } from './geometry.js';
import { decodeGpkgGeometry, type Envelope, encodeGpkgGeometry, extendEnvelope } from './gpkgGeometry.js';
import {
  chooseLayer,
  createSchema,
  fieldTypeForDeclared,
  GEOMETRY_TYPE_NAMES,
  geometryColumnFor,
  type LayerInfo,
  type OutputTables,
  quoteIdentifier,
  readLayerCrs,
  registerCrs,
} from './gpkgSchema.js';
import { enrichmentValues, matchRecord, outputFields, toJsonText } from './outputFields.js';
import { loadSqlite } from './sqlite.js';
import type {
  CreateFeatureSink,
  CrsDeclaration,
  FeatureSink,
  FeatureSource,
  FieldInfo,
  FieldType,
  FormatLimits,
  GeometryType,
  OpenFeatureSource,
  OutputFeature,
  PropertyValue,
  SinkOptions,
  SourceFeature,
} from './types.js';

const SQLITE_MAGIC = 'SQLite format 3\0';

export const openGeoPackage: OpenFeatureSource = async (file, options) => {
  const { DatabaseSync } = await loadSqlite();
  const path = await file.localPath(options.tempDir);
  await checkSqliteHeader(path, file.name);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { readOnly: true });
  } catch (cause) {
    throw unreadable(file.name, cause);
  }
  try {
    const layer = chooseLayer(db, options.layer);
    const crs = readLayerCrs(db, layer.srsId);
    const columns = readColumns(db, layer, options.limits);
    return new GeoPackageSource(db, layer, crs, columns, options.limits);
  } catch (error) {
    db.close();
    throw error instanceof FormatError ? error : unreadable(file.name, error);
  }
};

async function checkSqliteHeader(path: string, name: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    if (head.subarray(0, bytesRead).toString('latin1') !== SQLITE_MAGIC) {
      throw new FormatError('format-mismatch', `${name} is not a GeoPackage (not an SQLite database).`);
    }
  } finally {
    await handle.close();
  }
}

/** `subject` names what failed: the file, or the layer and how far the scan got. */
function unreadable(subject: string, cause: unknown): FormatError {
  const reason = cause instanceof Error ? ` (${cause.message})` : '';
  return new FormatError('geopackage-unreadable', `${subject} cannot be read as a GeoPackage${reason}.`, {
    cause,
    remedy: 'Check that it opens in QGIS (or `ogrinfo`), save it again, and upload the saved copy.',
  });
}

interface ColumnInfo {
  name: string;
  type: FieldType;
  declared: string;
}

interface Columns {
  fid: string | null;
  attributes: ColumnInfo[];
}

function readColumns(db: DatabaseSync, layer: LayerInfo, limits: FormatLimits): Columns {
  const rows = db.prepare(`PRAGMA table_info(${quoteIdentifier(layer.table)})`).all() as {
    name: string;
    type: string;
    pk: number | bigint;
  }[];
  const pk = rows.filter((r) => Number(r.pk) > 0);
  const fid = pk.length === 1 && /^INT/i.test(pk[0]!.type) ? pk[0]!.name : null;
  const attributes = rows
    .filter((r) => r.name !== fid && r.name.toLowerCase() !== layer.geometryColumn.toLowerCase())
    .map((r) => ({ name: r.name, declared: r.type, type: fieldTypeForDeclared(r.type) }));
  if (attributes.length > limits.maxFields) {
    throw new FormatError(
      'too-many-fields',
      `The layer '${layer.table}' has ${attributes.length} columns; gem-flow reads at most ${limits.maxFields}.`,
      { remedy: 'Drop the columns you do not need before uploading.' },
    );
  }
  return { fid, attributes };
}

class GeoPackageSource implements FeatureSource {
  readonly format = 'geopackage' as const;
  readonly layer: string;
  readonly fields: readonly FieldInfo[];
  readonly declaredGeometryType: GeometryType | null;
  readonly declaredFeatureCount: number | null;
  readonly geometryColumn: string;
  private closed = false;

  constructor(
    private readonly db: DatabaseSync,
    private readonly info: LayerInfo,
    readonly crs: CrsDeclaration | null,
    private readonly columns: Columns,
    private readonly limits: FormatLimits,
  ) {
    this.layer = info.table;
    this.fields = columns.attributes.map(({ name, type }) => ({ name, type }));
    this.declaredGeometryType = GEOMETRY_TYPE_NAMES[info.geometryTypeName.toUpperCase()] ?? null;
    this.declaredFeatureCount = info.featureCount;
    this.geometryColumn = info.geometryColumn;
  }

  async *features(): AsyncIterable<SourceFeature> {
    let index = 0;
    let rows: Iterator<Record<string, unknown>>;
    try {
      rows = this.selectStatement().iterate();
    } catch (cause) {
      throw unreadable(`The layer '${this.info.table}'`, cause);
    }
    while (true) {
      let next: IteratorResult<Record<string, unknown>>;
      try {
        next = rows.next();
      } catch (cause) {
        // SQLite reports a damaged page only when the scan reaches it.
        throw unreadable(`The layer '${this.info.table}' after ${index} features`, cause);
      }
      if (next.done) return;
      yield this.toFeature(next.value, index++);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /**
   * One row per feature in source order. Each column comes twice: its value only when it fits the limit,
   * and its byte length, so an oversized value is reported without being read.
   */
  private selectStatement(): StatementSync {
    const max = Math.floor(this.limits.maxFeatureBytes);
    const bounded = (column: string, alias: string): string =>
      `CASE WHEN octet_length(${column}) <= ${max} THEN ${column} END AS ${alias}, octet_length(${column}) AS ${alias}_n`;
    const key = this.columns.fid === null ? 'rowid' : quoteIdentifier(this.columns.fid);
    const parts = [`${key} AS k`, bounded(quoteIdentifier(this.info.geometryColumn), 'g')];
    this.columns.attributes.forEach((c, i) => {
      parts.push(bounded(quoteIdentifier(c.name), `v${i}`));
    });
    const statement = this.db.prepare(
      `SELECT ${parts.join(', ')} FROM ${quoteIdentifier(this.info.table)} ORDER BY ${key}`,
    );
    statement.setReadBigInts(true);
    return statement;
  }

  private toFeature(row: Record<string, unknown>, index: number): SourceFeature {
    const feature: SourceFeature = {
      index,
      id: this.columns.fid === null ? null : toId(row.k),
      geometry: null,
      properties: {},
    };
    this.columns.attributes.forEach((column, i) => {
      if (tooLong(row[`v${i}_n`], this.limits)) {
        feature.properties[column.name] = null;
        feature.problem ??= {
          rule: 'feature-too-large',
          message: `the value of '${column.name}' is longer than ${this.limits.maxFeatureBytes} bytes`,
        };
      } else feature.properties[column.name] = toPropertyValue(row[`v${i}`], column.type);
    });
    if (tooLong(row.g_n, this.limits)) {
      feature.problem ??= {
        rule: 'feature-too-large',
        message: `the geometry is longer than ${this.limits.maxFeatureBytes} bytes`,
      };
      return feature;
    }
    try {
      const blob = row.g;
      if (blob instanceof Uint8Array) feature.geometry = decodeGpkgGeometry(blob, this.limits.maxVertices);
      else if (blob !== null && blob !== undefined) {
        feature.problem ??= {
          rule: 'geometry-unreadable',
          message: `the geometry is ${typeof blob}, not a blob`,
        };
      }
    } catch (error) {
      feature.problem ??= problemFrom(error, 'geometry-unreadable');
    }
    return feature;
  }
}

function tooLong(length: unknown, limits: FormatLimits): boolean {
  return length !== null && length !== undefined && Number(length) > limits.maxFeatureBytes;
}

function toId(value: unknown): number | string | null {
  if (typeof value === 'bigint') {
    const exact = exactInteger(value);
    return typeof exact === 'bigint' ? exact.toString() : exact;
  }
  return typeof value === 'number' || typeof value === 'string' ? value : null;
}

/** A stored value as the column's declared type says, where its storage class allows it. */
function toPropertyValue(value: unknown, type: FieldType): PropertyValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    const integer = exactInteger(value);
    return type === 'boolean' && (integer === 0 || integer === 1) ? integer === 1 : integer;
  }
  if (typeof value === 'string' && (type === 'date' || type === 'datetime')) {
    const time = Date.parse(value);
    return Number.isNaN(time) ? value : new Date(time);
  }
  return value as PropertyValue;
}

// ---- Writing ----

/** Features per transaction: large enough for speed, small enough that SQLite's dirty pages stay few. */
const BATCH = 5000;

export const createGeoPackageSink: CreateFeatureSink = async (options) => {
  const { DatabaseSync } = await loadSqlite();
  const fields = outputFields(options.fields, {
    matchesColumn: false,
    reserved: ['fid', geometryColumnFor(options)],
  });
  await rm(options.path, { force: true });
  const db = new DatabaseSync(options.path);
  try {
    const srsId = registerCrs(db, options.crs);
    const tables = createSchema(db, options, fields, srsId);
    return new GeoPackageSink(db, options, fields, srsId, tables);
  } catch (error) {
    db.close();
    await rm(options.path, { force: true });
    throw error;
  }
};

class GeoPackageSink implements FeatureSink {
  private readonly insertFeature: StatementSync;
  private readonly insertFeatureAutoFid: StatementSync;
  private readonly insertMatch: StatementSync;
  private count = 0;
  private envelope: Envelope | null = null;
  private hasZ = false;
  private hasM = false;
  private closed = false;

  constructor(
    private readonly db: DatabaseSync,
    private readonly options: SinkOptions,
    private readonly fields: FieldInfo[],
    private readonly srsId: number,
    private readonly tables: OutputTables,
  ) {
    const columns = fields.map((f) => quoteIdentifier(f.name));
    const marks = fields.map(() => '?');
    const table = quoteIdentifier(tables.features);
    const geom = quoteIdentifier(tables.geometryColumn);
    this.insertFeature = db.prepare(
      `INSERT INTO ${table} ("fid", ${geom}, ${columns.join(', ')}) VALUES (?, ?, ${marks.join(', ')})`,
    );
    this.insertFeatureAutoFid = db.prepare(
      `INSERT INTO ${table} (${geom}, ${columns.join(', ')}) VALUES (?, ${marks.join(', ')})`,
    );
    this.insertMatch = db.prepare(
      `INSERT INTO ${quoteIdentifier(tables.matches)} ("fid", "gers", "confidence", "lr_from", "lr_to", "gers_from", "gers_to", "part") VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    db.exec('BEGIN');
  }

  async write(feature: OutputFeature): Promise<void> {
    const blob = encodeGpkgGeometry(feature.geometry, this.srsId);
    if (feature.geometry) this.noteGeometry(feature.geometry);
    const values = { ...feature.properties, ...enrichmentValues(feature.enrichment) };
    const row = this.fields.map((field) => toSqlValue(values[field.name], field.type));
    const fid = this.insertRow(feature.id, blob, row);
    for (const match of feature.matches) {
      const m = matchRecord(match);
      this.insertMatch.run(fid, m.gers, m.confidence, m.lr_from, m.lr_to, m.gers_from, m.gers_to, m.part);
    }
    this.count++;
    if (this.count % BATCH === 0) this.db.exec('COMMIT; BEGIN');
  }

  async finish(): Promise<{ features: number; bytes: number }> {
    this.db.exec('COMMIT');
    const e = this.envelope;
    this.db
      .prepare('UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?')
      .run(e?.minX ?? null, e?.minY ?? null, e?.maxX ?? null, e?.maxY ?? null, this.tables.features);
    // 0: prohibited, 2: optional (GeoPackage 1.4, table gpkg_geometry_columns).
    this.db
      .prepare('UPDATE gpkg_geometry_columns SET z = ?, m = ? WHERE table_name = ?')
      .run(this.hasZ ? 2 : 0, this.hasM ? 2 : 0, this.tables.features);
    this.closed = true;
    this.db.close();
    return { features: this.count, bytes: (await stat(this.options.path)).size };
  }

  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      try {
        this.db.close();
      } catch {
        // Already unusable; the file goes anyway.
      }
    }
    await rm(this.options.path, { force: true });
    await rm(`${this.options.path}-journal`, { force: true });
  }

  /**
   * Keeps the source's feature id as `fid` where it is an integer; an id that is not (a string) or that
   * repeats one already written gets SQLite's next fid instead. Returns the fid written.
   */
  private insertRow(id: OutputFeature['id'], blob: Uint8Array | null, row: SqlValue[]): number | bigint {
    const wanted = typeof id === 'number' && Number.isSafeInteger(id) ? id : integerText(id);
    if (wanted !== null) {
      try {
        return this.insertFeature.run(wanted, blob, ...row).lastInsertRowid;
      } catch (error) {
        if ((error as { errcode?: number }).errcode !== SQLITE_CONSTRAINT_PRIMARYKEY) throw error;
      }
    }
    return this.insertFeatureAutoFid.run(blob, ...row).lastInsertRowid;
  }

  private noteGeometry(geometry: NonNullable<OutputFeature['geometry']>): void {
    this.envelope = extendEnvelope(this.envelope, geometry);
    const dims = dimsOf(geometry);
    this.hasZ ||= dims.z;
    this.hasM ||= dims.m;
  }
}

const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;

function integerText(id: OutputFeature['id']): bigint | null {
  return typeof id === 'string' && /^-?\d{1,19}$/.test(id) ? BigInt(id) : null;
}

type SqlValue = null | number | bigint | string | Uint8Array;

/** A property value as SQLite can bind it, in the form the column's GeoPackage type asks for. */
function toSqlValue(value: PropertyValue | undefined, type: FieldType): SqlValue {
  if (value === null || value === undefined) return null;
  if (type === 'json') return toJsonText(value);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return null;
    return type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return value;
  return toJsonText(value);
}
