/**
 * Reading a Parquet file's rows in bounded batches for the Parquet readers (GEM's own Parquet and
 * GeoParquet), through hyparquet. The footer is read once; rows come a batch at a time, a batch never
 * spanning row groups and sized from the row group's own byte size so that one batch decodes about
 * `BATCH_BYTES` of column data, with offset indexes (hyparquet-writer and pyarrow write them) letting hyparquet
 * fetch only the pages a batch needs. Every column chunk's claimed position and size is checked against the
 * file's real size before anything is read.
 */
import type { AsyncBuffer, FileMetaData, SchemaElement, SchemaTree } from 'hyparquet';
import { errorMessage } from '../errors.js';
import { loadHyparquet } from '../parquet/hyparquet.js';
import { boundedCompressors } from '../parquet/pages.js';
import { GuardedFile } from '../parquet/schema.js';
import { FormatError } from './errors.js';
import type { FieldInfo, FieldType, FormatLimits, PropertyValue } from './types.js';

/** About this much decoded column data per batch (a guide: batches are sized from the row group's stats). */
export const BATCH_BYTES = 16 * 1024 * 1024;
const MAX_BATCH_ROWS = 50_000;

/**
 * Largest decompressed page accepted. hyparquet allocates a page from the size its header claims, so a
 * hostile 100-byte page claiming 4 GiB would be an allocation of 4 GiB; real writers cut pages at about 1 MiB.
 */
export const MAX_PAGE_BYTES = 128 * 1024 * 1024;

export interface ParquetFile {
  file: GuardedFile;
  metadata: FileMetaData;
  columns: SchemaTree[];
  /** The footer's key-value metadata as a map. */
  keyValues: Map<string, string>;
}

const PAR1 = 0x31524150;

/** Opens a Parquet file's footer; a file that is not Parquet or whose footer is broken is a `FormatError`. */
export async function openParquet(
  source: AsyncBuffer,
  options: { geoparquet: boolean; label: string },
): Promise<ParquetFile> {
  const file = new GuardedFile(source);
  const remedy = 'Re-export the file (e.g. with pyarrow or GDAL) and upload it again.';
  if (file.byteLength < 12) {
    throw new FormatError(
      'parquet-readable',
      `${options.label} is ${file.byteLength} bytes, too short for Parquet.`,
      { remedy },
    );
  }
  const tail = new DataView(await file.slice(file.byteLength - 4));
  if (tail.byteLength !== 4 || tail.getUint32(0, true) !== PAR1) {
    throw new FormatError(
      'parquet-readable',
      `${options.label} does not end with the Parquet marker "PAR1": it is truncated.`,
      { remedy },
    );
  }
  const { parquetMetadataAsync, parquetSchema } = await loadHyparquet();
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file, {
      geoparquet: options.geoparquet,
      // Raw WKB bytes: readers decode each value themselves, so one bad value is one feature's problem.
      parsers: { geometryFromBytes: (b: Uint8Array) => b, geographyFromBytes: (b: Uint8Array) => b },
    });
  } catch (err) {
    file.rethrowIo();
    throw new FormatError(
      'parquet-readable',
      `The Parquet footer of ${options.label} cannot be decoded (${errorMessage(err)}).`,
      {
        cause: err,
        remedy,
      },
    );
  }
  checkChunkClaims(metadata, file.byteLength, options.label);
  const keyValues = new Map((metadata.key_value_metadata ?? []).map((kv) => [kv.key, kv.value ?? '']));
  return { file, metadata, columns: parquetSchema(metadata).children, keyValues };
}

/** Every column chunk must lie inside the file: a claim past the end would otherwise be fetched as asked. */
function checkChunkClaims(metadata: FileMetaData, byteLength: number, label: string): void {
  for (let g = 0; g < metadata.row_groups.length; g++) {
    for (const chunk of metadata.row_groups[g]!.columns) {
      const meta = chunk.meta_data;
      if (!meta) continue;
      const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
      const end = Math.max(start, Number(meta.data_page_offset)) + Number(meta.total_compressed_size);
      if (!(start >= 0 && end <= byteLength)) {
        throw new FormatError(
          'parquet-readable',
          `${label}: row group ${g} claims column data at bytes ${start}–${end}, past the end of the ${byteLength}-byte file.`,
          { remedy: 'The file is truncated or corrupt: re-export it and upload it again.' },
        );
      }
    }
  }
}

/** The field type of a top-level column, from its physical, converted and logical types. */
export function fieldTypeOf(node: SchemaTree): FieldType {
  if (node.children.length > 0 || node.element.repetition_type === 'REPEATED') return 'json';
  const e: SchemaElement = node.element;
  const logical = e.logical_type?.type;
  if (logical === 'STRING' || logical === 'ENUM' || logical === 'UUID' || e.converted_type === 'UTF8')
    return 'string';
  if (logical === 'JSON' || e.converted_type === 'JSON') return 'json';
  if (logical === 'DATE' || e.converted_type === 'DATE') return 'date';
  if (
    logical === 'TIMESTAMP' ||
    e.converted_type === 'TIMESTAMP_MILLIS' ||
    e.converted_type === 'TIMESTAMP_MICROS'
  ) {
    return 'datetime';
  }
  if (logical === 'DECIMAL' || e.converted_type === 'DECIMAL') return 'number';
  switch (e.type) {
    case 'BOOLEAN':
      return 'boolean';
    case 'INT32':
      return 'integer';
    case 'INT64':
      return 'bigint';
    case 'INT96':
      return 'datetime';
    case 'FLOAT':
    case 'DOUBLE':
      return 'number';
    default:
      return 'binary';
  }
}

export function fieldsOf(
  columns: SchemaTree[],
  exclude: ReadonlySet<string>,
  limits: FormatLimits,
): FieldInfo[] {
  const fields = columns
    .filter((c) => !exclude.has(c.element.name))
    .map((c) => ({ name: c.element.name, type: fieldTypeOf(c) }));
  if (fields.length > limits.maxFields) {
    throw new FormatError(
      'too-many-fields',
      `The file has ${fields.length} columns; at most ${limits.maxFields} are read.`,
      {
        remedy: 'Drop the columns you do not need before uploading.',
      },
    );
  }
  return fields;
}

/** A decoded Parquet value as a `PropertyValue` (undefined → null; everything else is already one). */
export function propertyValue(value: unknown): PropertyValue {
  if (value === undefined) return null;
  return value as PropertyValue;
}

export interface RowBatch {
  /** Index of the batch's first row in the file. */
  start: number;
  rows: Record<string, unknown>[];
}

/**
 * The file's rows in order, in batches that never span a row group and decode about `BATCH_BYTES` each.
 * A row group that cannot be decoded is a `FormatError` naming its rows; storage errors are rethrown as is.
 */
export async function* rowBatches(
  parquet: ParquetFile,
  columns: string[],
  label: string,
): AsyncIterable<RowBatch> {
  const { parquetReadObjects, snappyUncompress } = await loadHyparquet();
  const compressors = boundedCompressors(MAX_PAGE_BYTES, snappyUncompress);
  const { file, metadata } = parquet;
  let groupStart = 0;
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const group = metadata.row_groups[g]!;
    const groupRows = Number(group.num_rows);
    const firstRow = groupStart;
    groupStart += groupRows;
    if (!(groupRows > 0)) continue;
    const bytesPerRow = Math.max(1, Number(group.total_byte_size) / groupRows);
    const batchRows = Math.max(1, Math.min(MAX_BATCH_ROWS, groupRows, Math.floor(BATCH_BYTES / bytesPerRow)));
    for (let at = 0; at < groupRows; at += batchRows) {
      const rowStart = firstRow + at;
      const rowEnd = firstRow + Math.min(groupRows, at + batchRows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({
          file,
          metadata,
          columns,
          rowStart,
          rowEnd,
          compressors,
          useOffsetIndex: true,
          // Un-annotated BYTE_ARRAY is binary (WKB, blobs), not text: only UTF8/STRING columns are decoded.
          utf8: false,
          parsers: { geometryFromBytes: (b: Uint8Array) => b, geographyFromBytes: (b: Uint8Array) => b },
        });
      } catch (err) {
        file.rethrowIo();
        throw new FormatError(
          'parquet-readable',
          `${label}: rows ${rowStart}–${rowEnd - 1} (row group ${g}) cannot be decoded: ${errorMessage(err)}.`,
          {
            cause: err,
            remedy: 'Re-export the file (SNAPPY, GZIP or ZSTD compression) and upload it again.',
          },
        );
      }
      yield { start: rowStart, rows };
    }
  }
}

/** The footer's declared row count, a claim used for messages and progress only. */
export function declaredRows(parquet: ParquetFile): number {
  const n = Number(parquet.metadata.num_rows);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}
