/**
 * Opening a Parquet file for validation without believing it: the footer's length is checked against the file's
 * real size and the footer limit before a byte of it is fetched, its Thrift is vetted by the bounded reader
 * (thrift.ts) before hyparquet parses it, the schema's nesting and width are measured on the flat list before
 * hyparquet builds a tree of it (recursively), and every row count, offset and size the footer states is checked
 * against the bytes that actually exist before anything is read or allocated for them. What fails is a finding in
 * the report; what passes is a layout the row reader can trust to stay inside its limits.
 */
import type { ColumnMetaData, FileMetaData, SchemaTree } from 'hyparquet';
import { errorMessage } from '../errors.js';
import { loadHyparquet } from './hyparquet.js';
import {
  formatBytes,
  formatCount,
  LIMIT_SETTINGS,
  maxFooterObjects,
  maxPageValues,
  type ValidationLimits,
} from './limits.js';
import type { ReportBuilder } from './report.js';
import type { GuardedFile } from './schema.js';
import { readThriftStruct, ThriftBoundsError } from './thrift.js';

/** A row group as the reader will use it: rows and the checked columns' byte ranges, all verified. */
export interface RowGroupLayout {
  index: number;
  /** First row (0-based, in the file). */
  rowStart: number;
  rows: number;
  /** Checked column name → its chunk. */
  chunks: Map<string, ChunkLayout>;
}

export interface ChunkLayout {
  column: string;
  /** Byte range in the file, as hyparquet reads it: [dictionary or first data page, + compressed size). */
  start: number;
  end: number;
  numValues: number;
  meta: ColumnMetaData;
}

export interface ParquetLayout {
  metadata: FileMetaData;
  /** Top-level columns. */
  columns: SchemaTree[];
  rowCount: number;
  /** Where the data region ends (the footer starts). */
  dataEnd: number;
}

/** Smallest possible page: a page header with its required fields takes at least this many bytes. */
const MIN_PAGE_BYTES = 8;
const PAR1 = [0x50, 0x41, 0x52, 0x31];
const THRIFT_DEPTH = 24;

/**
 * Reads and vets the footer and schema. Returns null after recording the finding that stops validation;
 * storage failures are thrown (they are not the file's fault).
 */
export async function openParquet(
  file: GuardedFile,
  report: ReportBuilder,
  limits: ValidationLimits,
): Promise<ParquetLayout | null> {
  const size = file.byteLength;
  const unreadable = (message: string) => {
    report.add({ rule: 'parquet-readable', message });
    return null;
  };
  const notParquet = (detail: string) =>
    unreadable(
      `The file is not Parquet: ${detail}. If it is CSV, GeoJSON or Excel, convert it, ` +
        `e.g. pandas DataFrame.to_parquet() or pyarrow.parquet.write_table().`,
    );
  if (size < 12) return notParquet(`it is ${size} bytes long, shorter than the smallest Parquet file`);
  const tail = new Uint8Array(await file.slice(size - 8, size));
  if (!PAR1.every((b, k) => tail[k + 4] === b))
    return notParquet('it does not end with the Parquet marker "PAR1"');

  // {"PAR1", data, footer, footer length (4 bytes), "PAR1"}: the footer cannot be longer than what is left.
  const footerLength = new DataView(tail.buffer, tail.byteOffset).getUint32(0, true);
  if (footerLength > size - 12) {
    return unreadable(
      `The footer claims ${formatCount(footerLength)} bytes but the file has only ${formatCount(size)}: ` +
        'the file is truncated or corrupt. Re-export it.',
    );
  }
  if (footerLength > limits.maxFooterBytes) {
    report.add({
      rule: 'footer-size',
      message:
        `The Parquet footer is ${formatBytes(footerLength)}, more than the ${formatBytes(limits.maxFooterBytes)} ` +
        `allowed (${LIMIT_SETTINGS.maxFooterBytes}). A footer grows with row groups × columns: write fewer, ` +
        'larger row groups (pyarrow row_group_size=100_000 or more) and drop columns GEM does not use.',
    });
    return null;
  }
  const footer = new Uint8Array(await file.slice(size - 8 - footerLength, size));
  const schema = vetFooter(footer, footerLength, limits);
  if (typeof schema === 'string') return unreadable(schema);
  // Before hyparquet parses the footer: its parse walks the schema by num_children (a negative count loops forever).
  if (!checkSchema(schema, report, limits)) return null;

  const { parquetMetadata, parquetSchema } = await loadHyparquet();
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(footer, { geoparquet: true });
  } catch (err) {
    return unreadable(
      `The Parquet footer cannot be decoded (${errorMessage(err)}); the file is truncated or corrupt. Re-export it.`,
    );
  }
  let columns: SchemaTree[];
  try {
    columns = parquetSchema(metadata).children;
  } catch (err) {
    return unreadable(`The Parquet schema cannot be read (${errorMessage(err)}); re-export the file.`);
  }
  const rowCount = checkRowCounts(metadata, report, limits);
  if (rowCount === null) return null;
  return { metadata, columns, rowCount, dataEnd: size - 8 - footerLength };
}

/** A schema element as the footer's Thrift states it (parquet.thrift SchemaElement fields 1, 4 and 5). */
interface RawSchemaElement {
  name: string;
  /** Parquet requires a name; hyparquet leaves a missing one undefined, which every reader of names trips on. */
  hasName: boolean;
  /** As stated: anything but a non-negative integer is corrupt. */
  numChildren: unknown;
  hasType: boolean;
}

const SCHEMA_FIELD = 2;
const decoder = new TextDecoder();

/**
 * Vets the footer's Thrift (keeping only the schema list) before hyparquet parses it. Returns the schema, or
 * why the footer is refused.
 */
function vetFooter(
  footer: Uint8Array,
  footerLength: number,
  limits: ValidationLimits,
): RawSchemaElement[] | string {
  const malformed = (detail: string) =>
    `The Parquet footer is malformed (${detail}); the file is truncated or corrupt. Re-export it.`;
  let schema: unknown;
  try {
    const bounds = { maxDepth: THRIFT_DEPTH, maxObjects: maxFooterObjects(limits) };
    schema = readThriftStruct(footer, 0, footerLength, bounds, new Set([SCHEMA_FIELD])).value[SCHEMA_FIELD];
  } catch (err) {
    if (!(err instanceof ThriftBoundsError)) throw err;
    return malformed(err.message);
  }
  if (!Array.isArray(schema)) return malformed('it has no schema');
  return schema.map((element) => {
    const fields = (typeof element === 'object' && element !== null ? element : {}) as Record<
      number,
      unknown
    >;
    const name = fields[4];
    return {
      name: name instanceof Uint8Array ? decoder.decode(name) : '',
      hasName: name instanceof Uint8Array,
      numChildren: fields[5],
      hasType: typeof fields[1] === 'number' && fields[1] >= 0 && fields[1] <= 7,
    };
  });
}

/**
 * The schema is a flat, depth-first list where each group says how many children follow. Walks it with an
 * explicit stack: hyparquet's tree builder recurses per level and copies the path at each, so a 20,000-deep
 * schema would overflow the stack (and need ~200 million path entries) before any check could run.
 */
function checkSchema(schema: RawSchemaElement[], report: ReportBuilder, limits: ValidationLimits): boolean {
  const corrupt = (detail: string) => {
    report.add({
      rule: 'parquet-readable',
      message: `The Parquet schema is inconsistent (${detail}); the file is corrupt. Re-export it.`,
    });
    return false;
  };
  if (schema.length === 0) return corrupt('it has no root element');
  // Children still expected by each open group, root first: an element's depth is the number of open groups.
  const open: number[] = [];
  let topLevel = '';
  for (let i = 0; i < schema.length; i++) {
    const element = schema[i]!;
    const name = element.name;
    if (i > 0) {
      if (open.length === 0) return corrupt(`${schema.length - i} elements follow the root's children`);
      open[open.length - 1]!--;
      if (!element.hasName) return corrupt(`schema element ${i} has no name`);
    }
    const children = element.numChildren ?? 0;
    if (typeof children !== 'number' || !Number.isSafeInteger(children) || children < 0)
      return corrupt(`"${name}" claims ${String(children)} children`);
    if (open.length === 1) topLevel = name;
    if (open.length > limits.maxSchemaDepth) {
      report.add({
        rule: 'schema-depth',
        column: topLevel,
        message:
          `Column "${topLevel}" nests more than ${limits.maxSchemaDepth} levels deep (at "${name}"). ` +
          'GEM reads flat columns (id, geometry, is_navigable): flatten or drop the nested columns.',
      });
      return false;
    }
    if (children > 0) open.push(children);
    else if (i > 0 && !element.hasType) return corrupt(`"${name}" has neither a type nor children`);
    while (open.length > 0 && open[open.length - 1] === 0) open.pop();
  }
  if (open.length > 0) return corrupt(`groups claim more children than the ${schema.length} elements listed`);
  if (schema.length > limits.maxSchemaElements) {
    report.add({
      rule: 'schema-width',
      message:
        `The schema has ${formatCount(schema.length)} elements, more than the ${formatCount(limits.maxSchemaElements)} ` +
        'the validator reads. GEM uses only id, geometry and is_navigable: drop the other columns.',
    });
    return false;
  }
  return true;
}

function safeCount(value: bigint | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'bigint' ? value : BigInt(value);
  return n >= 0n && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
}

/** The file's row count once it agrees with its row groups and is within the limit; null after a finding. */
function checkRowCounts(
  metadata: FileMetaData,
  report: ReportBuilder,
  limits: ValidationLimits,
): number | null {
  const claimed = safeCount(metadata.num_rows);
  if (claimed === undefined) {
    report.add({
      rule: 'parquet-readable',
      message: `The footer claims ${String(metadata.num_rows)} rows, which is not a row count; the file is corrupt.`,
    });
    return null;
  }
  report.rowCount = claimed;
  let sum = 0;
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const rows = safeCount(metadata.row_groups[g]!.num_rows);
    if (rows === undefined) {
      report.add({
        rule: 'parquet-readable',
        message: `Row group ${g} claims ${String(metadata.row_groups[g]!.num_rows)} rows, which is not a row count; the file is corrupt.`,
      });
      return null;
    }
    sum += rows;
  }
  if (sum !== claimed) {
    report.add({
      rule: 'parquet-readable',
      message: `The footer claims ${formatCount(claimed)} rows but its row groups hold ${formatCount(sum)}; the file is corrupt. Re-export it.`,
    });
    return null;
  }
  if (claimed > limits.maxRows) {
    report.add({
      rule: 'row-limit',
      message:
        `The file has ${formatCount(claimed)} rows, more than the ${formatCount(limits.maxRows)} allowed ` +
        `(${LIMIT_SETTINGS.maxRows}). Split it into files of at most ${formatCount(limits.maxRows)} roads and upload each.`,
    });
    return null;
  }
  if (claimed === 0) {
    report.add({
      rule: 'rows-present',
      message:
        'The file has no rows: there is nothing for GEM to match. Export the roads again, with their rows.',
    });
  }
  return claimed;
}

/** An i64 field as a bigint; undefined when absent (or not a number at all). */
function toBig(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  return undefined;
}

/**
 * The chunk range is hyparquet's (node_modules/hyparquet/src/plan.js, parquetPlanGroup): from the dictionary page
 * when there is one, else the first data page, for `total_compressed_size` bytes.
 *
 * The row groups of `columns` (top-level flat column names), each verified: offsets inside the data region,
 * sizes that exist, row counts the bytes could encode, and the checked columns' bytes within the row-group limit.
 * Returns null after recording a finding.
 */
export function planRowGroups(
  layout: ParquetLayout,
  columns: readonly string[],
  report: ReportBuilder,
  limits: ValidationLimits,
): RowGroupLayout[] | null {
  const groups: RowGroupLayout[] = [];
  let rowStart = 0;
  const leafCount = layout.metadata.schema.slice(1).filter((e) => !e.num_children).length;
  for (let g = 0; g < layout.metadata.row_groups.length; g++) {
    const group = layout.metadata.row_groups[g]!;
    const rows = Number(group.num_rows);
    const where = `row group ${g} (rows ${formatCount(rowStart)}–${formatCount(rowStart + rows - 1)})`;
    const corrupt = (detail: string) => {
      report.add({
        rule: 'parquet-readable',
        message: `${capitalise(where)}: ${detail}; the file is corrupt. Re-export it.`,
      });
      return null;
    };
    if (group.columns.length !== leafCount)
      return corrupt(`it has ${group.columns.length} column chunks for ${leafCount} columns`);
    const chunks = new Map<string, ChunkLayout>();
    let bytes = 0;
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (chunk.file_path)
        return corrupt(`its data is in another file ("${chunk.file_path}"), which GEM cannot read`);
      if (!meta) return corrupt('a column chunk has no metadata');
      const column = meta.path_in_schema?.join('.') ?? '';
      const dataPage = toBig(meta.data_page_offset);
      const compressed = toBig(meta.total_compressed_size);
      if (dataPage === undefined || compressed === undefined)
        return corrupt(`column "${column}" has no data page offset or size`);
      const start = toBig(meta.dictionary_page_offset) || dataPage;
      const end = start + compressed;
      if (start < 4n || compressed < 0n || end > BigInt(layout.dataEnd))
        return corrupt(
          `column "${column}" claims bytes ${start}–${end} of a file whose data ends at byte ${layout.dataEnd}`,
        );
      if (dataPage < start || (dataPage >= end && rows > 0))
        return corrupt(`column "${column}" has its first data page outside its own bytes`);
      if (!columns.includes(column) || rows === 0) continue;
      const numValues = safeCount(meta.num_values);
      if (numValues !== rows)
        return corrupt(`column "${column}" holds ${String(meta.num_values)} values for ${rows} rows`);
      const size = Number(end - start);
      // Each page takes at least a few bytes of header and holds at most maxPageValues values.
      if (rows > Math.ceil(size / MIN_PAGE_BYTES) * maxPageValues(limits))
        return corrupt(
          `column "${column}" claims ${formatCount(rows)} rows in ${formatCount(size)} bytes, more than those bytes can encode`,
        );
      chunks.set(column, { column, start: Number(start), end: Number(end), numValues, meta });
      bytes += size;
    }
    if (bytes > limits.maxRowGroupBytes) {
      report.add({
        rule: 'row-group-size',
        message:
          `${capitalise(where)} stores ${formatBytes(bytes)} of ${columns.join(', ')}, more than the ` +
          `${formatBytes(limits.maxRowGroupBytes)} read at once (${LIMIT_SETTINGS.maxRowGroupBytes}). ` +
          'Write smaller row groups, e.g. pyarrow.parquet.write_table(table, path, row_group_size=100_000).',
      });
      return null;
    }
    if (rows > 0) groups.push({ index: g, rowStart, rows, chunks });
    rowStart += rows;
  }
  return groups;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
