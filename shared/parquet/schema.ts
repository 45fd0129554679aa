/**
 * Describing a Parquet schema for validation reports, and the shared plumbing that lets the validators tell
 * "the file is broken" (a report) from "storage failed" (an exception to retry).
 */
import type { AsyncBuffer, SchemaTree } from 'hyparquet';
import type { ColumnInfo } from './report.js';

/** Bytes the validator asked of the file: what a test or benchmark compares against its limits. */
export interface ReadAccount {
  requests: number;
  bytes: number;
  /** The largest single slice asked for. */
  largest: number;
}

/** A slice larger than the validator ever needs was asked for: a defect in the checks before it, not the file. */
export class SliceLimitError extends Error {}

/**
 * Wraps an AsyncBuffer so any error the storage layer throws is remembered and can be re-thrown as-is, every
 * slice is counted, and no slice may exceed `maxSliceBytes` (the checks before a read keep it within the footer
 * or row-group limit; this is the backstop that makes "never more than the bound" hold by construction).
 */
export class GuardedFile implements AsyncBuffer {
  ioError: unknown;
  readonly byteLength: number;
  readonly account: ReadAccount = { requests: 0, bytes: 0, largest: 0 };
  constructor(
    private readonly inner: AsyncBuffer,
    readonly maxSliceBytes: number = Number.MAX_SAFE_INTEGER,
  ) {
    this.byteLength = inner.byteLength;
  }
  slice = async (start: number, end?: number): Promise<ArrayBuffer> => {
    const to = Math.min(end ?? this.byteLength, this.byteLength);
    const from = Math.max(0, start);
    const length = Math.max(0, to - from);
    if (length > this.maxSliceBytes)
      throw new SliceLimitError(`a read of ${length} bytes exceeds the ${this.maxSliceBytes}-byte bound`);
    this.account.requests++;
    this.account.bytes += length;
    if (length > this.account.largest) this.account.largest = length;
    try {
      return await this.inner.slice(from, to);
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
