/**
 * The prepared GEM file's rows as an incremental run reads them, one Parquet batch at a time: its fingerprint
 * (one pass), then the delta file of the new and changed rows (a second pass, written with the same GEM
 * writer prepareInput uses, so the delta has the prepared file's columns); and the previous results of the
 * unchanged rows, streamed from the previous run's results.parquet with its own schema. Memory: one batch, the
 * fingerprints' typed arrays and one row group of output.
 */

import type { AsyncBuffer } from 'hyparquet';
import type { SchemaElement } from 'hyparquet-writer';
import { createGemParquetWriter } from '../formats/gemParquet.js';
import { loadHyparquetWriter } from '../formats/hyparquetWriter.js';
import { openParquet, type ParquetFile, rowBatches } from '../formats/parquetRows.js';
import { ROW_UNCHANGED } from './classify.js';
import { type Fingerprint, FingerprintBuilder, idDigest, sortedHas } from './fingerprint.js';

export interface PreparedRows {
  parquet: ParquetFile;
  label: string;
  /** Whether the file has `is_navigable` (the delta keeps the same columns). */
  withNavigable: boolean;
  columns: string[];
}

export interface PreparedRow {
  id: string;
  wkt: string;
  navigable: boolean | null;
  sourceIndex: number;
  part: number;
}

/** GEM's id may be int32, int64 or text; its results carry it as text, and so do the digests. */
export function idText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return '';
}

export async function openPreparedRows(file: AsyncBuffer, label: string): Promise<PreparedRows> {
  const parquet = await openParquet(file, { geoparquet: false, label });
  const names = new Set(parquet.columns.map((c) => c.element.name));
  const columns = ['id', 'geometry', 'is_navigable', 'source_index', 'part'].filter((c) => names.has(c));
  return { parquet, label, withNavigable: names.has('is_navigable'), columns };
}

/** Every row in file order; `sourceIndex` and `part` as prepareInput wrote them, else the row and 0. */
export async function* preparedRows(file: PreparedRows): AsyncIterable<PreparedRow> {
  for await (const batch of rowBatches(file.parquet, file.columns, file.label)) {
    for (let k = 0; k < batch.rows.length; k++) {
      const row = batch.rows[k]!;
      const navigable = row.is_navigable;
      yield {
        id: idText(row.id),
        wkt: typeof row.geometry === 'string' ? row.geometry : idText(row.geometry),
        navigable: typeof navigable === 'boolean' ? navigable : null,
        sourceIndex: row.source_index === undefined ? batch.start + k : Number(row.source_index),
        part: row.part === undefined ? 0 : Number(row.part),
      };
    }
  }
}

export async function fingerprintRows(file: PreparedRows): Promise<Fingerprint> {
  const builder = new FingerprintBuilder();
  for await (const row of preparedRows(file)) builder.add(row.id, row.wkt, row.navigable);
  return builder.finish();
}

/** Writes the rows whose class is not unchanged to `path` as GEM-ready Parquet. */
export async function writeDelta(
  file: PreparedRows,
  rowClass: Uint8Array,
  path: string,
): Promise<{ rows: number; bytes: number }> {
  const writer = await createGemParquetWriter({ path, withNavigable: file.withNavigable });
  try {
    let row = 0;
    for await (const prepared of preparedRows(file)) {
      // A file that grew between the passes would be caught by the etag; this guards the index anyway.
      const kind = rowClass[row++];
      if (kind === undefined) throw new Error(`${file.label} has more rows than when it was fingerprinted`);
      if (kind === ROW_UNCHANGED) continue;
      await writer.write({
        id: prepared.id,
        wkt: prepared.wkt,
        ...(file.withNavigable ? { isNavigable: prepared.navigable } : {}),
        sourceIndex: prepared.sourceIndex,
        part: prepared.part,
      });
    }
    return await writer.finish();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * Copies the previous results rows whose id is unchanged to `path`, with the previous file's own schema (GEM's
 * results columns, as GEM wrote them), one row group per batch read.
 */
export async function writeCarried(
  results: AsyncBuffer,
  label: string,
  unchangedIds: BigUint64Array,
  path: string,
): Promise<{ rows: number }> {
  const parquet = await openParquet(results, { geoparquet: false, label });
  const names = parquet.columns.map((c) => c.element.name);
  if (!names.includes('id')) throw new Error(`${label} has no "id" column (columns: ${names.join(', ')})`);
  const { ParquetWriter, fileWriter } = await loadHyparquetWriter();
  const writer = new ParquetWriter({
    writer: fileWriter(path),
    schema: parquet.metadata.schema as SchemaElement[],
    createdBy: 'gem-flow',
  });
  let rows = 0;
  for await (const batch of rowBatches(parquet, names, label)) {
    const kept = batch.rows.filter((row) => sortedHas(unchangedIds, idDigest(idText(row.id))));
    if (kept.length === 0) continue;
    const columnData = names.map((name) => ({ name, data: kept.map((row) => row[name] ?? null) }));
    await writer.write({ columnData, rowGroupSize: kept.length });
    rows += kept.length;
  }
  await writer.finish();
  return { rows };
}
