/**
 * Splitting a GEM-ready Parquet into spatially coherent parts of near-equal size, for one GEM job each. Two
 * passes over the file, one batch at a time: the first reads only the geometry and keeps, per row, the Hilbert
 * index of the road's midpoint (shared/workflow/hilbert.ts) in a typed array; the row numbers are sorted by it
 * and cut into `ceil(rows / maxRows)` runs, and the same array then holds each row's part. The second pass
 * routes every row to its part's writer (shared/formats/gemParquet.ts, the prepared file's own schema), all
 * writers open at once with row groups small enough that together they buffer about `PARTITION_BUFFER_BYTES`.
 * Memory is therefore 8 bytes per row plus one read batch plus that buffer, never a row object per road; the
 * arrays grow with the rows actually read, not with what the footer claims.
 */
import { join } from 'node:path';
import type { AsyncBuffer } from 'hyparquet';
import { GemFlowError } from '../errors.js';
import { yieldToEventLoop } from '../eventLoop.js';
import { hilbertIndex } from '../workflow/hilbert.js';
import { createGemParquetWriter, type GemParquetWriter } from './gemParquet.js';
import { wktToGeometry } from './geometry.js';
import { openParquet, type ParquetFile, rowBatches } from './parquetRows.js';

export class PartitionError extends GemFlowError {
  readonly code = 'PartitionFailed';
}

/** What all part writers together buffer before they write a row group. */
export const PARTITION_BUFFER_BYTES = 32 * 1024 * 1024;

export interface PartFile {
  index: number;
  path: string;
  rows: number;
  bytes: number;
}

/** The midpoint along a line's length (planar in degrees: parts only need neighbours to stay near). */
export function lineMidpoint(coordinates: readonly (readonly number[])[]): [number, number] | null {
  if (coordinates.length === 0) return null;
  let total = 0;
  for (let i = 1; i < coordinates.length; i++) total += segmentLength(coordinates[i - 1]!, coordinates[i]!);
  let walked = 0;
  for (let i = 1; i < coordinates.length; i++) {
    const [a, b] = [coordinates[i - 1]!, coordinates[i]!];
    const length = segmentLength(a, b);
    if (length > 0 && walked + length >= total / 2) {
      const t = (total / 2 - walked) / length;
      return [a[0]! + t * (b[0]! - a[0]!), a[1]! + t * (b[1]! - a[1]!)];
    }
    walked += length;
  }
  const first = coordinates[0]!;
  return [first[0]!, first[1]!];
}

function segmentLength(a: readonly number[], b: readonly number[]): number {
  return Math.hypot(b[0]! - a[0]!, b[1]! - a[1]!);
}

/** The Hilbert index of a WKT road's midpoint; a geometry that is not a line (validation refuses those) gets 0. */
function roadKey(wkt: unknown): number {
  if (typeof wkt !== 'string') return 0;
  let geometry: ReturnType<typeof wktToGeometry>;
  try {
    geometry = wktToGeometry(wkt);
  } catch {
    return 0;
  }
  if (geometry?.type !== 'LineString') return 0;
  const mid = lineMidpoint(geometry.coordinates);
  return mid ? hilbertIndex(mid[0], mid[1]) : 0;
}

/** A Uint32Array that doubles as rows arrive. */
class GrowingUint32 {
  private data = new Uint32Array(64 * 1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

/** Pass 1: every row's key, in file order. */
async function readKeys(parquet: ParquetFile, label: string): Promise<Uint32Array> {
  const keys = new GrowingUint32();
  for await (const batch of rowBatches(parquet, ['geometry'], label)) {
    for (const row of batch.rows) {
      keys.push(roadKey(row.geometry));
      if (keys.length % YIELD_ROWS === 0) await yieldToEventLoop();
    }
  }
  return keys.view();
}

/**
 * Replaces each row's key by its part: rows sorted by key (ties by row number, so the cut is deterministic),
 * then position p of n goes to part floor(p × parts / n), which makes part sizes differ by at most one row.
 * The sort is the engine's native numeric sort of one Float64Array holding key and row number together (a
 * comparator sort of a million rows blocks the event loop for seconds): the row number takes the low bits and
 * the key the bits left of a double's exact 53, dropping its finest bits when there are more than 2^21 rows.
 */
export function assignParts(keys: Uint32Array, parts: number): Uint32Array {
  const n = keys.length;
  const rowBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const keyShift = Math.max(0, 32 + rowBits - 53);
  const rowSpan = 2 ** rowBits;
  const order = new Float64Array(n);
  for (let i = 0; i < n; i++) order[i] = (keys[i]! >>> keyShift) * rowSpan + i;
  order.sort();
  for (let p = 0; p < n; p++) keys[order[p]! % rowSpan] = Math.floor((p * parts) / n);
  return keys;
}

/** Rows parsed between two turns of the event loop (a WKT parse is some microseconds). */
const YIELD_ROWS = 10_000;

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return value === null || value === undefined ? '' : String(value);
}

/** Pass 2: every row to its part's writer, in file order within each part. */
async function writeParts(
  parquet: ParquetFile,
  partOf: Uint32Array,
  writers: GemParquetWriter[],
  label: string,
): Promise<void> {
  const names = new Set(parquet.columns.map((c) => c.element.name));
  const columns = ['id', 'geometry', 'is_navigable', 'source_index', 'part'].filter((c) => names.has(c));
  for await (const batch of rowBatches(parquet, columns, label)) {
    for (let k = 0; k < batch.rows.length; k++) {
      const row = batch.rows[k]!;
      const at = batch.start + k;
      if (at >= partOf.length) throw changedWhileRead(label);
      await writers[partOf[at]!]!.write({
        id: textOf(row.id),
        wkt: textOf(row.geometry),
        ...(names.has('is_navigable') ? { isNavigable: (row.is_navigable as boolean | null) ?? null } : {}),
        // GEM's own Parquet has no mapping columns: its row number and part 0 then.
        sourceIndex: row.source_index === undefined ? at : Number(row.source_index),
        part: row.part === undefined ? 0 : Number(row.part),
      });
    }
    await yieldToEventLoop();
  }
}

function changedWhileRead(label: string): PartitionError {
  return new PartitionError(`${label} has more rows on the second read than on the first.`, {
    remedy: 'The file changed while it was split: start the match again.',
  });
}

/**
 * Splits `file` (GEM-ready Parquet with `id` and WKT `geometry`) into parts of at most `maxRows` rows, written
 * as `part-<i>.parquet` in `dir`. Returns the parts in index order.
 */
export async function partitionGemParquet(
  file: AsyncBuffer,
  options: { maxRows: number; dir: string; label: string },
): Promise<PartFile[]> {
  const parquet = await openParquet(file, { geoparquet: false, label: options.label });
  const keys = await readKeys(parquet, options.label);
  const parts = Math.max(1, Math.ceil(keys.length / Math.max(1, options.maxRows)));
  const partOf = assignParts(keys, parts);
  const withNavigable = parquet.columns.some((c) => c.element.name === 'is_navigable');
  const rowGroupBytes = Math.max(1024 * 1024, Math.floor(PARTITION_BUFFER_BYTES / parts));
  const paths = Array.from({ length: parts }, (_, i) => join(options.dir, `part-${i}.parquet`));
  const writers: GemParquetWriter[] = [];
  try {
    for (const path of paths)
      writers.push(await createGemParquetWriter({ path, withNavigable, rowGroupBytes }));
    await writeParts(parquet, partOf, writers, options.label);
    const written: PartFile[] = [];
    for (let i = 0; i < parts; i++)
      written.push({ index: i, path: paths[i]!, ...(await writers[i]!.finish()) });
    const total = written.reduce((sum, p) => sum + p.rows, 0);
    if (total !== keys.length) throw changedWhileRead(options.label);
    return written;
  } catch (err) {
    await Promise.all(writers.map((w) => w.abort()));
    throw err;
  }
}
