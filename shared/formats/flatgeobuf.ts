/**
 * FlatGeobuf in and out, on the `flatgeobuf` package's generated FlatBuffers tables. The package's
 * `deserialize` streams, but holds the whole spatial index in memory to skip it and trusts every length in
 * the file; its `serialize` needs every feature in one array. So gem-flow reads the header with two ranged
 * reads, starts one stream *after* the index (never downloading it), and takes each size-prefixed feature
 * only after checking its length against `maxFeatureBytes` and the bytes the file really has. The writer
 * streams: a header with room for the final values, then each feature as it comes, then the header again
 * with the true feature count, geometry type and Z/M flags, written over the first one (the FlatBuffers
 * builder lays out the same fields in the same bytes). It writes no spatial index, which the format allows
 * (`index_node_size` 0) and readers such as GDAL and QGIS read sequentially. FlatGeobuf has no feature id,
 * so `id` is null; matches go into a `matches` JSON column.
 */

import type { FileHandle } from 'node:fs/promises';
import { open, rm } from 'node:fs/promises';
import { Builder, ByteBuffer } from 'flatbuffers';
import { ChunkReader } from './chunkReader.js';
import { FormatError } from './errors.js';
import { problemFrom } from './featureProblem.js';
import {
  type DecodeBudget,
  decodeGeometry,
  type EncodedDimensions,
  encodeGeometry,
  FGB_GEOMETRY_CODE,
  FGB_UNKNOWN_GEOMETRY,
  geometryTypeForCode,
} from './flatgeobufGeometry.js';
import { type FlatGeobufTables, loadFlatGeobufTables } from './flatgeobufLib.js';
import {
  COLUMN_FOR_FIELD,
  decodeProperties,
  encodeProperties,
  type FgbColumn,
  fieldTypeForColumn,
} from './flatgeobufProperties.js';
import { enrichmentValues, matchRecord, outputFields } from './outputFields.js';
import type {
  CreateFeatureSink,
  CrsDeclaration,
  FeatureSource,
  FieldInfo,
  FormatLimits,
  Geometry,
  GeometryType,
  OpenFeatureSource,
  PropertyValue,
  SinkOptions,
  SourceFeature,
  SourceFile,
} from './types.js';

/** "fgb", major version 3, "fgb", patch 0: the only major version the format has shipped since 2020. */
const MAGIC = Uint8Array.from([0x66, 0x67, 0x62, 0x03, 0x66, 0x67, 0x62, 0x00]);
/** Magic plus the header's u32 size prefix. */
const PREAMBLE = 12;
/** GDAL refuses headers above 10 MB too (ogrflatgeobuflayer.cpp, `HEADER_MAX_BUFFER_SIZE`). */
const MAX_HEADER_BYTES = 10 * 1024 * 1024;

interface ParsedHeader {
  layer: string | null;
  crs: CrsDeclaration | null;
  columns: FgbColumn[];
  fields: FieldInfo[];
  geometryCode: number;
  featureCount: number | null;
  featuresStart: number;
}

export const openFlatGeobuf: OpenFeatureSource = async (file, options) => {
  const tables = await loadFlatGeobufTables();
  const header = await readHeader(file, tables, options.limits);
  return new FlatGeobufSource(file, tables, header, options.limits);
};

async function readHeader(
  file: SourceFile,
  tables: FlatGeobufTables,
  limits: FormatLimits,
): Promise<ParsedHeader> {
  const preamble = new Uint8Array(await file.slice(0, Math.min(PREAMBLE, file.byteLength)));
  if (preamble.byteLength < PREAMBLE || !MAGIC.subarray(0, 3).every((b, i) => preamble[i] === b)) {
    throw new FormatError('format-mismatch', `${file.name} is not a FlatGeobuf file (no "fgb" signature).`);
  }
  if (preamble[3] !== MAGIC[3]) {
    throw new FormatError(
      'format-version-unsupported',
      `${file.name} is FlatGeobuf version ${preamble[3]}.`,
      {
        remedy: 'Write it again with a current GDAL (ogr2ogr -f FlatGeobuf), which writes version 3.',
      },
    );
  }
  const headerLength = new DataView(preamble.buffer).getUint32(8, true);
  if (headerLength > MAX_HEADER_BYTES || PREAMBLE + headerLength > file.byteLength) {
    throw new FormatError(
      'file-truncated',
      `${file.name} declares a ${headerLength}-byte header, but the file holds ${file.byteLength} bytes.`,
      { remedy: 'Upload the complete file again.' },
    );
  }
  // FlatBuffers reads the size-prefixed table from offset 0, so the prefix already read goes in front.
  const bytes = new Uint8Array(4 + headerLength);
  bytes.set(preamble.subarray(8, PREAMBLE), 0);
  bytes.set(new Uint8Array(await file.slice(PREAMBLE, PREAMBLE + headerLength)), 4);
  try {
    return parseHeader(bytes, tables, limits, file.byteLength);
  } catch (error) {
    if (error instanceof FormatError) throw error;
    throw new FormatError('header-unreadable', `The FlatGeobuf header of ${file.name} cannot be read.`, {
      cause: error,
      remedy: 'Check the file opens in QGIS or with ogrinfo, then upload it again.',
    });
  }
}

function parseHeader(
  bytes: Uint8Array,
  tables: FlatGeobufTables,
  limits: FormatLimits,
  fileSize: number,
): ParsedHeader {
  const header = tables.Header.getSizePrefixedRootAsHeader(new ByteBuffer(bytes));
  const columns = parseColumns(header, limits);
  const count = header.featuresCount();
  // 0 means "unknown" in the format; anything else is only a claim, checked against the bytes read.
  const featureCount = count > 0n && count <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(count) : null;
  const nodeSize = header.indexNodeSize();
  const treeSize = nodeSize > 0 && featureCount !== null ? tables.calcTreeSize(featureCount, nodeSize) : 0;
  const featuresStart = PREAMBLE + bytes.byteLength - 4 + treeSize;
  if (featuresStart > fileSize) {
    throw new FormatError(
      'file-truncated',
      `The spatial index of ${featureCount} features needs ${treeSize} bytes, more than the file holds.`,
      { remedy: 'Upload the complete file again.' },
    );
  }
  return {
    layer: header.name() || null,
    crs: crsFromHeader(header.crs()),
    columns,
    fields: columns.map((c) => ({ name: c.name, type: fieldTypeForColumn(c.type)! })),
    geometryCode: header.geometryType(),
    featureCount,
    featuresStart,
  };
}

type FgbHeader = InstanceType<FlatGeobufTables['Header']>;
type FgbColumnTable = InstanceType<FlatGeobufTables['Column']>;

function parseColumns(
  header: { columnsLength(): number; columns(i: number): FgbColumnTable | null },
  limits: FormatLimits,
): FgbColumn[] {
  const count = header.columnsLength();
  if (count > limits.maxFields) {
    throw new FormatError(
      'too-many-fields',
      `The layer has ${count} columns; gem-flow reads at most ${limits.maxFields}.`,
      {
        remedy: 'Drop the columns you do not need before uploading.',
      },
    );
  }
  const columns: FgbColumn[] = [];
  for (let i = 0; i < count; i++) {
    const column = header.columns(i);
    const type = column?.type() ?? -1;
    if (fieldTypeForColumn(type) === undefined) {
      throw new FormatError(
        'column-type-unknown',
        `Column ${i} has type ${type}, which FlatGeobuf does not define.`,
      );
    }
    columns.push({ name: column?.name() || `column_${i}`, type });
  }
  return columns;
}

function crsFromHeader(crs: ReturnType<FgbHeader['crs']>): CrsDeclaration | null {
  if (crs === null) return null;
  const source = 'FlatGeobuf header crs';
  // A null organisation means EPSG (header.fbs); code 0 means "no code".
  const org = (crs.org() ?? 'EPSG').toUpperCase();
  const codeText = crs.codeString();
  const code = crs.code() || (codeText && /^\d+$/.test(codeText) ? Number(codeText) : 0);
  if (org === 'EPSG' && code > 0) return { kind: 'epsg', code, source };
  if (org === 'OGC' && /^CRS:?84$/i.test(codeText ?? '')) return { kind: 'crs84', source };
  const wkt = crs.wkt();
  if (wkt) return { kind: 'wkt', wkt, source };
  return null;
}

class FlatGeobufSource implements FeatureSource {
  readonly format = 'flatgeobuf' as const;
  readonly layer: string | null;
  readonly crs: CrsDeclaration | null;
  readonly fields: readonly FieldInfo[];
  readonly declaredGeometryType: GeometryType | null;
  readonly declaredFeatureCount: number | null;
  private reader: ChunkReader | undefined;

  constructor(
    private readonly file: SourceFile,
    private readonly tables: FlatGeobufTables,
    private readonly header: ParsedHeader,
    private readonly limits: FormatLimits,
  ) {
    this.layer = header.layer;
    this.crs = header.crs;
    this.fields = header.fields;
    this.declaredGeometryType = geometryTypeForCode(header.geometryCode);
    this.declaredFeatureCount = header.featureCount;
  }

  async *features(): AsyncIterable<SourceFeature> {
    if (this.reader) throw new Error('FlatGeobufSource.features() may be called once');
    const reader = new ChunkReader(this.file.stream(this.header.featuresStart));
    this.reader = reader;
    try {
      for (let index = 0; ; index++) {
        const next = await this.nextFeature(reader, index);
        if (next === null) return;
        yield next.feature;
        if (next.last) return;
      }
    } finally {
      await reader.close();
    }
  }

  async close(): Promise<void> {
    await this.reader?.close();
  }

  private async nextFeature(
    reader: ChunkReader,
    index: number,
  ): Promise<{ feature: SourceFeature; last: boolean } | null> {
    const left = this.file.byteLength - this.header.featuresStart - reader.position;
    const prefix = await reader.read(4);
    if (prefix.byteLength === 0) return null;
    const length =
      prefix.byteLength === 4 ? new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0, true) : -1;
    if (length < 0 || length > left - 4) {
      return {
        feature: this.broken(index, 'feature-truncated', 'the file ends inside this feature'),
        last: true,
      };
    }
    if (length > this.limits.maxFeatureBytes) {
      await reader.skip(length);
      const message = `the feature takes ${length} bytes, more than the ${this.limits.maxFeatureBytes} allowed`;
      return { feature: this.broken(index, 'feature-too-large', message), last: false };
    }
    const body = await reader.read(length);
    if (body.byteLength < length) {
      return {
        feature: this.broken(index, 'feature-truncated', 'the file ends inside this feature'),
        last: true,
      };
    }
    // A fresh buffer with the size prefix at 0 keeps FlatBuffers' 8-byte alignment for the Float64 vectors.
    const aligned = new Uint8Array(length + 4);
    aligned.set(prefix, 0);
    aligned.set(body, 4);
    return { feature: this.decodeFeature(aligned, index), last: false };
  }

  private decodeFeature(bytes: Uint8Array, index: number): SourceFeature {
    const feature: SourceFeature = { index, id: null, geometry: null, properties: this.emptyProperties() };
    const table = this.tables.Feature.getSizePrefixedRootAsFeature(new ByteBuffer(bytes));
    // Properties and geometry fail apart: a broken one does not cost the user the other.
    try {
      const columns = table.columnsLength() > 0 ? parseColumns(table, this.limits) : this.header.columns;
      const properties = table.propertiesArray();
      if (properties) decodeProperties(properties, columns, feature.properties, this.limits.maxDepth);
    } catch (error) {
      feature.problem = problemFrom(error, 'property-unreadable');
    }
    try {
      const geometry = table.geometry();
      const budget: DecodeBudget = {
        vertices: 0,
        maxVertices: this.limits.maxVertices,
        maxDepth: this.limits.maxDepth,
      };
      feature.geometry =
        geometry === null ? null : decodeGeometry(geometry, this.header.geometryCode, budget);
    } catch (error) {
      feature.problem ??= problemFrom(error, 'geometry-unreadable');
    }
    return feature;
  }

  private emptyProperties(): Record<string, PropertyValue> {
    const properties: Record<string, PropertyValue> = {};
    for (const column of this.header.columns) properties[column.name] = null;
    return properties;
  }

  private broken(index: number, rule: string, message: string): SourceFeature {
    return {
      index,
      id: null,
      geometry: null,
      properties: this.emptyProperties(),
      problem: { rule, message },
    };
  }
}

// ---- Writing ----

/** Flush written features to disk once this many bytes wait. */
const FLUSH_BYTES = 1024 * 1024;

export const createFlatGeobufSink: CreateFeatureSink = async (options) => {
  const writer = await openFlatGeobufWriter(options, outputFields(options.fields, { matchesColumn: true }));
  return {
    write: (feature) =>
      writer.write(feature.geometry, {
        ...feature.properties,
        ...enrichmentValues(feature.enrichment),
        matches: feature.matches.map(matchRecord),
      }),
    finish: () => writer.finish(),
    abort: () => writer.abort(),
  };
};

/**
 * A FlatGeobuf file of exactly `fields` (no enrichment), written feature by feature: the enriched sink's
 * engine, and what the samples write plain road layers with.
 */
export async function openFlatGeobufWriter(
  options: Omit<SinkOptions, 'fields'>,
  fields: readonly FieldInfo[],
): Promise<FlatGeobufWriter> {
  const tables = await loadFlatGeobufTables();
  const columns = fields.map(
    (field): FgbColumn => ({ name: field.name, type: COLUMN_FOR_FIELD[field.type] }),
  );
  const handle = await open(options.path, 'w');
  const writer = new FlatGeobufWriter(handle, tables, options, columns);
  try {
    await writer.start();
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer;
}

interface HeaderState {
  count: number;
  /** The one geometry type every feature has had so far, or Unknown once they differ. */
  geometryCode: number | null;
  dims: EncodedDimensions;
}

export class FlatGeobufWriter {
  private readonly state: HeaderState = { count: 0, geometryCode: null, dims: { hasZ: false, hasM: false } };
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private position = 0;
  private headerLength = 0;
  private closed = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly tables: FlatGeobufTables,
    private readonly options: Omit<SinkOptions, 'fields'>,
    private readonly columns: FgbColumn[],
  ) {}

  async start(): Promise<void> {
    const header = this.buildHeader();
    this.headerLength = header.byteLength;
    this.queue(MAGIC);
    this.queue(header);
    await this.flush();
  }

  async write(geometry: Geometry | null, values: Record<string, PropertyValue>): Promise<void> {
    const builder = new Builder(1024);
    const geometryOffset = geometry ? encodeGeometry(builder, this.tables, geometry, this.state.dims) : 0;
    const propertiesOffset = this.tables.Feature.createPropertiesVector(
      builder,
      encodeProperties(this.columns, values),
    );
    this.tables.Feature.startFeature(builder);
    if (geometryOffset) this.tables.Feature.addGeometry(builder, geometryOffset);
    this.tables.Feature.addProperties(builder, propertiesOffset);
    builder.finishSizePrefixed(this.tables.Feature.endFeature(builder));
    this.noteGeometryType(geometry?.type);
    this.state.count++;
    this.queue(builder.asUint8Array());
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  async finish(): Promise<{ features: number; bytes: number }> {
    await this.flush();
    const header = this.buildHeader();
    if (header.byteLength !== this.headerLength) {
      throw new Error(`FlatGeobuf header changed size (${this.headerLength} → ${header.byteLength})`);
    }
    await this.handle.write(header, 0, header.byteLength, MAGIC.byteLength);
    this.closed = true;
    await this.handle.close();
    return { features: this.state.count, bytes: this.position };
  }

  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.handle.close().catch(() => undefined);
    }
    await rm(this.options.path, { force: true });
  }

  private noteGeometryType(type: GeometryType | undefined): void {
    if (type === undefined) return;
    const code = FGB_GEOMETRY_CODE[type];
    if (this.state.geometryCode === null) this.state.geometryCode = code;
    else if (this.state.geometryCode !== code) this.state.geometryCode = FGB_UNKNOWN_GEOMETRY;
  }

  private queue(bytes: Uint8Array): void {
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const buffers = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const { bytesWritten } = await this.handle.writev(buffers, this.position);
    this.position += bytesWritten;
  }

  /**
   * The header, with every scalar stored even at its default value (`forceDefaults`) so the final header,
   * with the real count, type and flags, takes exactly the bytes of the placeholder written first.
   */
  private buildHeader(): Uint8Array {
    const { Header, Column } = this.tables;
    const builder = new Builder(1024);
    builder.forceDefaults(true);
    const columnOffsets = this.columns.map((column) => {
      const name = builder.createString(column.name);
      Column.startColumn(builder);
      Column.addName(builder, name);
      Column.addType(builder, column.type);
      return Column.endColumn(builder);
    });
    const columnsOffset = Header.createColumnsVector(builder, columnOffsets);
    const nameOffset = builder.createString(this.options.layer);
    const crsOffset = buildCrs(builder, this.tables, this.options.crs);
    const declared = this.options.geometryType
      ? FGB_GEOMETRY_CODE[this.options.geometryType]
      : FGB_UNKNOWN_GEOMETRY;
    Header.startHeader(builder);
    Header.addName(builder, nameOffset);
    Header.addGeometryType(builder, this.state.geometryCode ?? declared);
    Header.addHasZ(builder, this.state.dims.hasZ);
    Header.addHasM(builder, this.state.dims.hasM);
    Header.addColumns(builder, columnsOffset);
    Header.addFeaturesCount(builder, BigInt(this.state.count));
    Header.addIndexNodeSize(builder, 0);
    if (crsOffset) Header.addCrs(builder, crsOffset);
    builder.finishSizePrefixed(Header.endHeader(builder));
    return builder.asUint8Array();
  }
}

/** The header's `Crs` table: an EPSG code where the declaration has one, else the WKT. */
function buildCrs(builder: Builder, tables: FlatGeobufTables, crs: CrsDeclaration | null): number {
  if (crs === null) return 0;
  let code = 0;
  let wkt = 0;
  if (crs.kind === 'epsg') code = crs.code;
  // GDAL writes OGC:CRS84 data as EPSG:4326 too: FlatGeobuf coordinates are always x = longitude.
  else if (crs.kind === 'crs84') code = 4326;
  else if (crs.kind === 'wkt') wkt = builder.createString(crs.wkt);
  else code = projjsonEpsgCode(crs.projjson);
  if (!code && !wkt) return 0;
  const org = code ? builder.createString('EPSG') : 0;
  tables.Crs.startCrs(builder);
  if (org) tables.Crs.addOrg(builder, org);
  if (code) tables.Crs.addCode(builder, code);
  if (wkt) tables.Crs.addWkt(builder, wkt);
  return tables.Crs.endCrs(builder);
}

/** PROJJSON's `id: { authority: 'EPSG', code }`, the only part of it a FlatGeobuf header can carry. */
function projjsonEpsgCode(projjson: Record<string, unknown>): number {
  const id = projjson.id as { authority?: unknown; code?: unknown } | undefined;
  return id && String(id.authority).toUpperCase() === 'EPSG' && Number.isInteger(Number(id.code))
    ? Number(id.code)
    : 0;
}
