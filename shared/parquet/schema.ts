/**
 * Reading a Parquet file's metadata and schema for validation, and the shared plumbing that lets the
 * validators tell "the file is broken" (a report) from "storage failed" (an exception to retry).
 */
import * as zlib from 'node:zlib';
import type { AsyncBuffer, Compressors, FileMetaData, SchemaTree } from 'hyparquet';
import { loadHyparquet } from './hyparquet.js';
import type { ColumnInfo, ReportBuilder } from './report.js';

/**
 * Decompressors beyond hyparquet's built-in Snappy, from Node's zlib: pyarrow and Spark files are often
 * GZIP or ZSTD, and a valid file must not be reported unreadable just because of its codec. LZ4/LZO
 * have no Node built-in; such files get a parquet-readable problem that names the codec.
 */
export const NODE_COMPRESSORS: Compressors = {
  GZIP: (input) => zlib.gunzipSync(input),
  BROTLI: (input) => zlib.brotliDecompressSync(input),
  ...(typeof zlib.zstdDecompressSync === 'function'
    ? { ZSTD: (input: Uint8Array) => zlib.zstdDecompressSync(input) }
    : {}),
};

/** Wraps an AsyncBuffer so any error the storage layer throws is remembered and can be re-thrown as-is. */
export class GuardedFile implements AsyncBuffer {
  ioError: unknown;
  readonly byteLength: number;
  constructor(private readonly inner: AsyncBuffer) {
    this.byteLength = inner.byteLength;
  }
  slice = async (start: number, end?: number): Promise<ArrayBuffer> => {
    try {
      return await this.inner.slice(start, end);
    } catch (err) {
      this.ioError ??= err;
      throw err;
    }
  };
  /** Re-throws a storage failure (transient, not the file's fault) if one happened. */
  rethrowIo(): void {
    if (this.ioError !== undefined) throw this.ioError;
  }
}

const PAR1 = [0x50, 0x41, 0x52, 0x31];

/** The file's metadata, or null after recording a parquet-readable problem. Storage failures are thrown. */
export async function readMetadata(
  file: GuardedFile,
  report: ReportBuilder,
  initialFetchSize?: number,
): Promise<FileMetaData | null> {
  const notParquet = (detail: string) =>
    report.add({
      rule: 'parquet-readable',
      message:
        `The file is not Parquet: ${detail}. If it is CSV, GeoJSON or Excel, convert it, ` +
        `e.g. pandas DataFrame.to_parquet() or pyarrow.parquet.write_table().`,
    });
  if (file.byteLength < 12) {
    notParquet(`it is ${file.byteLength} bytes long, shorter than the smallest Parquet file`);
    return null;
  }
  const tail = new Uint8Array(await file.slice(file.byteLength - 4, file.byteLength));
  if (!PAR1.every((b, k) => tail[k] === b)) {
    notParquet('it does not end with the Parquet marker "PAR1"');
    return null;
  }
  try {
    const { parquetMetadataAsync } = await loadHyparquet();
    return await parquetMetadataAsync(file, { initialFetchSize, geoparquet: true });
  } catch (err) {
    file.rethrowIo();
    report.add({
      rule: 'parquet-readable',
      message: `The Parquet footer cannot be decoded (${errorText(err)}); the file is truncated or corrupt. Re-export it.`,
    });
    return null;
  }
}

/** Top-level columns of the file as schema subtrees. */
export async function topLevelColumns(metadata: FileMetaData): Promise<SchemaTree[]> {
  const { parquetSchema } = await loadHyparquet();
  return parquetSchema(metadata).children;
}

/** A readable type name: INT64, STRING, BOOLEAN, BYTE_ARRAY, GEOMETRY (WKB), LIST, STRUCT, INT32 (DATE)… */
export function describeType(node: SchemaTree): string {
  const e = node.element;
  const repeated = e.repetition_type === 'REPEATED' ? 'REPEATED ' : '';
  if (node.children.length > 0) {
    if (e.converted_type === 'LIST' || e.logical_type?.type === 'LIST') return `${repeated}LIST`;
    if (e.converted_type === 'MAP' || e.logical_type?.type === 'MAP') return `${repeated}MAP`;
    if (e.logical_type?.type === 'VARIANT') return `${repeated}VARIANT`;
    return `${repeated}STRUCT`;
  }
  const logical = e.logical_type?.type;
  if (logical === 'STRING' || e.converted_type === 'UTF8') return `${repeated}STRING`;
  if (logical === 'GEOMETRY' || logical === 'GEOGRAPHY') return `${repeated}${logical} (WKB)`;
  if (logical === 'INTEGER') {
    const l = e.logical_type as { bitWidth: number; isSigned: boolean };
    return `${repeated}${e.type} (${l.isSigned ? 'INT' : 'UINT'}_${l.bitWidth})`;
  }
  if (logical) return `${repeated}${e.type} (${logical})`;
  if (e.converted_type) return `${repeated}${e.type} (${e.converted_type})`;
  return `${repeated}${e.type ?? 'UNKNOWN'}`;
}

export function columnInfos(columns: SchemaTree[]): ColumnInfo[] {
  return columns.map((c) => ({ name: c.element.name, type: describeType(c) }));
}

/** Column-name near misses worth a hint (names are case-sensitive in GEM). */
export function nearMiss(columns: SchemaTree[], wanted: string, aliases: string[]): string | undefined {
  const names = columns.map((c) => c.element.name);
  const lower = [wanted, ...aliases].map((a) => a.toLowerCase());
  return names.find((n) => n !== wanted && lower.includes(n.toLowerCase().trim()));
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
