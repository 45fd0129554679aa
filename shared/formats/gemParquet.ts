/**
 * GEM's own Parquet, both ways. The writer streams `GemRow`s into the GEM-ready file the workflow stages:
 * `id` (string), `geometry` (WKT `LINESTRING`, EPSG:4326), `is_navigable` (boolean, only when a
 * navigable column was mapped), and the columns that map GEM's results back to the source — `source_index`
 * (int64) and `part` (int32); GEM ignores columns it does not know. Rows are buffered per row group, which
 * is cut at `rowGroupRows` rows or `rowGroupBytes` of WKT, whichever comes first, so memory stays at one row
 * group whatever the file's size. The row groups are small (10,000 rows, about 1 MB of WKT for typical
 * roads) on purpose: hyparquet-writer encodes a row group from whole column arrays with a working set many
 * times its data, and at 100,000 rows the conversion's peak RSS grew with the file (the collector leaving
 * several row groups' garbage behind: 290 MB at 100,000 roads, 640 MB at 1 million); at 10,000 it stays
 * near the reader's own (README, Measured). The cost is a longer footer (about 330 bytes a row group). The reader reads a GEM input file as a `FeatureSource` (`gem-parquet`):
 * `id` as the feature id, the WKT `geometry` parsed, and every column other than `geometry` as a property.
 */
import { rm, stat } from 'node:fs/promises';
import type { SchemaElement } from 'hyparquet-writer';
import { errorMessage } from '../errors.js';
import { FormatError } from './errors.js';
import { wktToGeometry } from './geometry.js';
import { loadHyparquetWriter } from './hyparquetWriter.js';
import type { GemRow } from './normalise.js';
import { declaredRows, fieldsOf, openParquet, propertyValue, rowBatches } from './parquetRows.js';
import type { FeatureSource, OpenFeatureSource, PropertyValue, SourceFeature } from './types.js';

// ---- Writer ----

export interface GemParquetWriterOptions {
  /** The local file to write (created or replaced). */
  path: string;
  /** Whether to write `is_navigable` (only when the user mapped a navigable column). */
  withNavigable: boolean;
  /** Rows per row group; default 10,000. */
  rowGroupRows?: number;
  /** WKT bytes per row group before it is cut early; default 4 MiB. */
  rowGroupBytes?: number;
}

export interface GemParquetWriter {
  write(row: GemRow): Promise<void>;
  /** Writes the last row group and the footer; the file is valid only after this resolves. */
  finish(): Promise<{ rows: number; bytes: number }>;
  /** Deletes the partial file. */
  abort(): Promise<void>;
}

function gemSchema(withNavigable: boolean): SchemaElement[] {
  const columns: SchemaElement[] = [
    { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'geometry', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  ];
  if (withNavigable) columns.push({ name: 'is_navigable', type: 'BOOLEAN', repetition_type: 'OPTIONAL' });
  columns.push(
    { name: 'source_index', type: 'INT64', repetition_type: 'REQUIRED' },
    { name: 'part', type: 'INT32', repetition_type: 'REQUIRED' },
  );
  return [{ name: 'root', num_children: columns.length }, ...columns];
}

export async function createGemParquetWriter(options: GemParquetWriterOptions): Promise<GemParquetWriter> {
  const { ParquetWriter, fileWriter } = await loadHyparquetWriter();
  const rowGroupRows = Math.max(1, options.rowGroupRows ?? 10_000);
  const rowGroupBytes = Math.max(1, options.rowGroupBytes ?? 4 * 1024 * 1024);
  const writer = new ParquetWriter({
    writer: fileWriter(options.path),
    schema: gemSchema(options.withNavigable),
    createdBy: 'gem-flow',
  });
  let ids: string[] = [];
  let wkts: string[] = [];
  let navigable: (boolean | null)[] = [];
  let sourceIndexes: bigint[] = [];
  let parts: number[] = [];
  let bufferedBytes = 0;
  let rows = 0;
  let closed = false;

  const flush = async (): Promise<void> => {
    if (ids.length === 0) return;
    const columnData = [
      { name: 'id', data: ids },
      { name: 'geometry', data: wkts },
      ...(options.withNavigable ? [{ name: 'is_navigable', data: navigable }] : []),
      { name: 'source_index', data: sourceIndexes },
      { name: 'part', data: parts },
    ];
    await writer.write({ columnData, rowGroupSize: ids.length });
    ids = [];
    wkts = [];
    navigable = [];
    sourceIndexes = [];
    parts = [];
    bufferedBytes = 0;
  };

  return {
    async write(row) {
      if (closed) throw new Error('the GEM Parquet writer is already finished');
      ids.push(row.id);
      wkts.push(row.wkt);
      navigable.push(row.isNavigable ?? null);
      sourceIndexes.push(BigInt(row.sourceIndex));
      parts.push(row.part);
      bufferedBytes += row.wkt.length + row.id.length;
      rows++;
      if (ids.length >= rowGroupRows || bufferedBytes >= rowGroupBytes) await flush();
    },
    async finish() {
      if (closed) throw new Error('the GEM Parquet writer is already finished');
      await flush();
      await writer.finish();
      closed = true;
      const { size } = await stat(options.path);
      return { rows, bytes: size };
    },
    async abort() {
      closed = true;
      await rm(options.path, { force: true });
    },
  };
}

// ---- Reader ----

const GEOMETRY = 'geometry';

function featureId(value: unknown): string | number | null {
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return null;
}

/** A GEM input file (`id`, WKT `geometry`, optional `is_navigable`, any other columns) as a FeatureSource. */
export const openGemParquet: OpenFeatureSource = async (file, options) => {
  const parquet = await openParquet(file, { geoparquet: false, label: file.name });
  const names = parquet.columns.map((c) => c.element.name);
  if (!names.includes(GEOMETRY)) {
    throw new FormatError(
      'geometry-present',
      `${file.name} has no "geometry" column (columns: ${names.join(', ')}).`,
      {
        remedy: 'GEM Parquet needs a WKT "geometry" column; for WKB geometry, add GeoParquet "geo" metadata.',
      },
    );
  }
  const fields = fieldsOf(parquet.columns, new Set([GEOMETRY]), options.limits);
  let used = false;

  async function* features(): AsyncIterable<SourceFeature> {
    if (used) throw new Error('features() can be called once');
    used = true;
    for await (const batch of rowBatches(parquet, names, file.name)) {
      for (let k = 0; k < batch.rows.length; k++) {
        yield toFeature(batch.start + k, batch.rows[k]!, fields, options.limits.maxFeatureBytes);
      }
    }
  }

  const source: FeatureSource = {
    format: 'gem-parquet',
    layer: null,
    crs: { kind: 'epsg', code: 4326, source: 'GEM Parquet (always EPSG:4326 lon/lat)' },
    fields,
    declaredGeometryType: 'LineString',
    declaredFeatureCount: declaredRows(parquet),
    features,
    close: async () => {},
  };
  return source;
};

function toFeature(
  index: number,
  row: Record<string, unknown>,
  fields: readonly { name: string }[],
  maxFeatureBytes: number,
): SourceFeature {
  const properties: Record<string, PropertyValue> = {};
  for (const { name } of fields) properties[name] = propertyValue(row[name]);
  const feature: SourceFeature = { index, id: featureId(row.id), geometry: null, properties };
  const wkt = row[GEOMETRY];
  if (wkt === null || wkt === undefined) return feature;
  if (typeof wkt !== 'string') {
    feature.problem = { rule: 'geometry-unreadable', message: 'the geometry is not WKT text.' };
  } else if (wkt.length > maxFeatureBytes) {
    feature.problem = {
      rule: 'feature-too-large',
      message: `the WKT geometry is ${wkt.length} characters, over the limit of ${maxFeatureBytes}.`,
    };
  } else {
    try {
      feature.geometry = wktToGeometry(wkt);
    } catch (err) {
      feature.problem = {
        rule: 'geometry-unreadable',
        message: `the WKT cannot be read (${errorMessage(err)}): "${wkt.slice(0, 60)}".`,
      };
    }
  }
  return feature;
}
