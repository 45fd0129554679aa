/**
 * Reading the checked columns of a vetted file in bounded batches. One row group at a time, its checked column
 * chunks are fetched once (their size was checked against the row-group limit), every page in them is vetted
 * (pages.ts), and only then does hyparquet decode them, `batchRows` rows per call (rowStart/rowEnd), from the
 * chunks held in memory: hyparquet would otherwise fetch a whole chunk again for every batch. So at any moment
 * the validator holds one row group's checked chunks, the pages overlapping one batch, and one batch of rows.
 */
import type { AsyncBuffer, SchemaTree } from 'hyparquet';
import { errorMessage } from '../errors.js';
import type { ParquetLayout, RowGroupLayout } from './footer.js';
import { loadHyparquet } from './hyparquet.js';
import { maxPageBytes, type ValidationLimits } from './limits.js';
import { boundedCompressors, type ChunkColumn, vetChunkPages } from './pages.js';
import type { ReportBuilder } from './report.js';
import type { GuardedFile } from './schema.js';

export interface RowBatch {
  /** First row of the batch (0-based, in the file). */
  rowStart: number;
  rows: Record<string, unknown>[];
}

/** The chunks of one row group, answering hyparquet's slices without another read. */
class HeldChunks implements AsyncBuffer {
  readonly byteLength: number;
  constructor(
    private readonly file: GuardedFile,
    private readonly held: { start: number; end: number; bytes: ArrayBuffer }[],
  ) {
    this.byteLength = file.byteLength;
  }
  slice = async (start: number, end?: number): Promise<ArrayBuffer> => {
    const to = end ?? this.byteLength;
    const exact = this.held.find((h) => h.start === start && h.end === to);
    if (exact) return exact.bytes;
    const inside = this.held.find((h) => h.start <= start && to <= h.end);
    if (inside) return inside.bytes.slice(start - inside.start, to - inside.start);
    // hyparquet joins small neighbouring chunks (≤ 2 MiB together) into one read: assemble it from what is held,
    // reading only the gaps between them (other columns' bytes, at most a few KiB each).
    const out = new Uint8Array(to - start);
    let at = start;
    for (const h of [...this.held].sort((a, b) => a.start - b.start)) {
      if (h.end <= at || h.start >= to) continue;
      if (h.start > at) out.set(new Uint8Array(await this.file.slice(at, h.start)), at - start);
      const from = Math.max(at, h.start);
      const until = Math.min(to, h.end);
      out.set(new Uint8Array(h.bytes, from - h.start, until - from), from - start);
      at = until;
    }
    if (at < to) out.set(new Uint8Array(await this.file.slice(at, to)), at - start);
    return out.buffer;
  };
}

/** The definition and repetition levels of a column path, as hyparquet computes them (schema.js). */
function levels(column: SchemaTree): { maxDefinitionLevel: number; maxRepetitionLevel: number } {
  const e = column.element;
  return {
    maxDefinitionLevel: e.repetition_type === 'REQUIRED' ? 0 : 1,
    maxRepetitionLevel: e.repetition_type === 'REPEATED' ? 1 : 0,
  };
}

export interface BatchReader {
  file: GuardedFile;
  layout: ParquetLayout;
  groups: RowGroupLayout[];
  /** Flat top-level columns to read. */
  columns: SchemaTree[];
  limits: ValidationLimits;
  report: ReportBuilder;
  /** Set when reading ended early at a finding: the later rows were not checked. */
  stopped: boolean;
}

/**
 * Yields the rows of `columns` in batches. A page that fails its checks or cannot be decoded is recorded in the
 * report and ends the reading (later rows are not checked); storage failures are thrown.
 */
export async function* readRowBatches(reader: BatchReader): AsyncGenerator<RowBatch> {
  const { file, layout, groups, columns, limits, report } = reader;
  const { parquetReadObjects, snappyUncompress } = await loadHyparquet();
  const compressors = boundedCompressors(maxPageBytes(limits), snappyUncompress);
  const names = columns.map((c) => c.element.name);
  for (const group of groups) {
    const held = await holdChunks(file, group, columns, limits, report, compressors);
    if (!held) {
      reader.stopped = true;
      return;
    }
    const source = new HeldChunks(file, held);
    for (let offset = 0; offset < group.rows; offset += limits.batchRows) {
      const rowStart = group.rowStart + offset;
      const rowEnd = Math.min(group.rowStart + group.rows, rowStart + limits.batchRows);
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({
          file: source,
          metadata: layout.metadata,
          columns: names,
          rowStart,
          rowEnd,
          compressors,
        });
      } catch (err) {
        file.rethrowIo();
        report.add({
          rule: 'parquet-readable',
          row: rowStart,
          message:
            `Row group ${group.index} (rows ${rowStart}–${rowEnd - 1}) cannot be decoded: ${errorMessage(err)}. ` +
            'Re-export the file (SNAPPY, GZIP or ZSTD compression); later rows were not checked.',
        });
        reader.stopped = true;
        return;
      }
      yield { rowStart, rows };
    }
  }
}

/** Fetches the group's checked chunks and vets their pages; null after recording a finding. */
async function holdChunks(
  file: GuardedFile,
  group: RowGroupLayout,
  columns: SchemaTree[],
  limits: ValidationLimits,
  report: ReportBuilder,
  compressors: ReturnType<typeof boundedCompressors>,
): Promise<{ start: number; end: number; bytes: ArrayBuffer }[] | null> {
  const held: { start: number; end: number; bytes: ArrayBuffer }[] = [];
  for (const column of columns) {
    const name = column.element.name;
    const chunk = group.chunks.get(name);
    if (!chunk) continue;
    const bytes = await file.slice(chunk.start, chunk.end);
    const info: ChunkColumn = {
      column: name,
      type: chunk.meta.type,
      codec: chunk.meta.codec,
      group: group.index,
      groupRowStart: group.rowStart,
      ...levels(column),
    };
    const vetted = vetChunkPages(new Uint8Array(bytes), info, limits, compressors);
    if ('problem' in vetted) {
      report.add({ ...vetted.problem, column: name });
      return null;
    }
    if (vetted.values !== group.rows) {
      report.add({
        rule: 'parquet-readable',
        column: name,
        row: group.rowStart,
        message:
          `Row group ${group.index}, column "${name}": its pages hold ${vetted.values} values for the ` +
          `${group.rows} rows the footer claims; the file is corrupt. Re-export it.`,
      });
      return null;
    }
    held.push({ start: chunk.start, end: chunk.end, bytes });
  }
  return held;
}
