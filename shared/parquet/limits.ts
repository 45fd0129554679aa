/**
 * The bounds validation works within. A Parquet file describes itself (row counts, sizes, offsets, nesting) and
 * a reader that believes the description allocates what the file says; these limits are what the validator
 * allows before it reads, each one a plain number an operator can raise (the settings in shared/config.ts carry
 * the same defaults). Exceeding one is a validation finding that names the limit and the fix, never a crash.
 */

export interface ValidationLimits {
  /** Bytes of the footer (the file's metadata); also caps its Thrift objects at one per 16 bytes. */
  readonly maxFooterBytes: number;
  /**
   * Stored bytes of the checked columns (id, geometry, is_navigable) in one row group: a row group's column
   * chunks are held while it is read. A quarter of it is the largest page, decompressed, and a sixteenth the
   * most values a page may hold, since a page is decoded whole.
   */
  readonly maxRowGroupBytes: number;
  /** Bytes of one row's checked values together. */
  readonly maxRowBytes: number;
  /** Bytes of one value (an id or a geometry's WKT). */
  readonly maxValueBytes: number;
  /** Rows in a file. */
  readonly maxRows: number;
  /** Rows decoded at once. */
  readonly batchRows: number;
  /** Nesting of the schema (root = 0; a flat column is at depth 1). */
  readonly maxSchemaDepth: number;
  /** Schema elements (columns, and the groups that hold nested ones). */
  readonly maxSchemaElements: number;
  /** Memory for the duplicate-id index; more ids than fit are checked in further passes over the id column. */
  readonly maxIdIndexBytes: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = Object.freeze({
  maxFooterBytes: 4 * MiB,
  maxRowGroupBytes: 128 * MiB,
  maxRowBytes: 2 * MiB,
  maxValueBytes: 1 * MiB,
  maxRows: 10_000_000,
  batchRows: 65_536,
  maxSchemaDepth: 32,
  maxSchemaElements: 10_000,
  maxIdIndexBytes: 64 * MiB,
});

/** The defaults with the given limits laid over them. */
export function resolveLimits(overrides: Partial<ValidationLimits> = {}): ValidationLimits {
  const limits: Record<string, number> = { ...DEFAULT_VALIDATION_LIMITS };
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) limits[name] = value;
  return limits as unknown as ValidationLimits;
}

/** Thrift objects (structs and strings) allowed in a footer of the given limit. */
export function maxFooterObjects(limits: ValidationLimits): number {
  return Math.max(1024, Math.floor(limits.maxFooterBytes / 16));
}

/** The largest page, decompressed: a page is decompressed whole, twice (vetted, then decoded). */
export function maxPageBytes(limits: ValidationLimits): number {
  return Math.max(1024 * 1024, Math.floor(limits.maxRowGroupBytes / 4));
}

/** Values one page may hold: decoding costs about 16 bytes per value (levels plus the value slot). */
export function maxPageValues(limits: ValidationLimits): number {
  return Math.max(1024, Math.floor(limits.maxRowGroupBytes / 16));
}

/** The setting behind each limit, for messages that say what to change. */
export const LIMIT_SETTINGS = {
  maxFooterBytes: 'VALIDATION_MAX_FOOTER_BYTES',
  maxRowGroupBytes: 'VALIDATION_MAX_ROW_GROUP_BYTES',
  maxRowBytes: 'VALIDATION_MAX_ROW_BYTES',
  maxValueBytes: 'VALIDATION_MAX_VALUE_BYTES',
  maxRows: 'VALIDATION_MAX_ROWS',
  batchRows: 'VALIDATION_BATCH_ROWS',
} as const satisfies Partial<Record<keyof ValidationLimits, string>>;

/** A byte count in the unit a reader would use: 498 bytes, 62.1 MB, 4 MiB (exact powers of two). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  for (const [unit, size] of [
    ['GiB', 1024 * MiB],
    ['MiB', MiB],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e3).toFixed(1)} kB`;
}

/** Whole numbers with thousands separators, as messages show row counts. */
export function formatCount(n: number | bigint): string {
  return n.toLocaleString('en-US');
}
