/**
 * One raw-results Parquet made of several: the result files of a partitioned run's GEM jobs (and results carried
 * over from an earlier run), in the order given. Each source is read one Parquet batch at a time
 * (`rowBatches`) and rows are written in row groups of at most `MERGE_ROW_GROUP_ROWS`, so memory stays at about
 * one batch whatever the number or size of the sources. The output keeps the first source's schema — GEM's road
 * results are `id`, `gers` (text), `confidence` (INT32), `lr_id`, `lr_gers` (text), as the simulator writes them
 * (local/standins/simulator/matching.ts `roadResultsParquet`) — and a later source whose columns differ in name,
 * order or type is a `ResultsMergeError`: a merge that silently dropped or retyped a column would be a wrong file.
 */
import type { AsyncBuffer, SchemaElement as FooterElement } from 'hyparquet';
import type { SchemaElement } from 'hyparquet-writer';
import { GemFlowError } from '../errors.js';
import { yieldToEventLoop } from '../eventLoop.js';
import { FormatError } from '../formats/errors.js';
import { loadHyparquetWriter } from '../formats/hyparquetWriter.js';
import { openParquet, type ParquetFile, rowBatches } from '../formats/parquetRows.js';

/** The result files to merge do not share one schema, or one is not a readable Parquet file. */
export class ResultsMergeError extends GemFlowError {
  readonly code = 'ResultsMergeFailed';
}

const MERGE_REMEDY =
  "Each part's GEM result file stays in the PDG storage; check the one named and report it to TomTom if GEM wrote it.";

/** Rows per output row group: about one read batch of GEM results (five short columns). */
export const MERGE_ROW_GROUP_ROWS = 50_000;

/** One file to merge: `open` is called when its turn comes, so only one source is open at a time. */
export interface MergeSource {
  /** How messages name the file (e.g. "part 3's GEM result file"). */
  label: string;
  open(): Promise<AsyncBuffer>;
}

/**
 * GEM's road-results columns, used only when there is no source at all (an empty merge still writes a valid
 * file a reader can open).
 */
const ROAD_RESULTS_SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: 5 },
  ...['id', 'gers'].map((name) => stringColumn(name)),
  { name: 'confidence', type: 'INT32', repetition_type: 'REQUIRED' },
  ...['lr_id', 'lr_gers'].map((name) => stringColumn(name)),
];

function stringColumn(name: string): SchemaElement {
  return { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' };
}

/** The schema elements a writer needs from a source's footer: flat columns only (GEM results are flat). */
function flatSchema(parquet: ParquetFile, label: string): SchemaElement[] {
  const nested = parquet.columns.find((c) => c.children.length > 0);
  if (nested) {
    throw new ResultsMergeError(`${label} has a nested column "${nested.element.name}".`, {
      remedy: MERGE_REMEDY,
    });
  }
  // The footer's element and the writer's are the same Parquet thrift struct, typed by two copies of hyparquet.
  return parquet.metadata.schema.map((element: FooterElement) => ({ ...element }) as SchemaElement);
}

/** Name, physical type, annotation and repetition of a column: what must agree for rows to be copied. */
function columnSignature(element: SchemaElement): string {
  const logical = element.logical_type?.type ?? '';
  return `${element.name}:${element.type}:${element.converted_type ?? ''}:${logical}:${element.repetition_type ?? ''}`;
}

function checkSameColumns(first: SchemaElement[], other: SchemaElement[], label: string): void {
  const want = first.slice(1).map(columnSignature);
  const got = other.slice(1).map(columnSignature);
  if (want.length === got.length && want.every((w, i) => w === got[i])) return;
  throw new ResultsMergeError(
    `${label} has columns ${got.join(', ')}; the first result file has ${want.join(', ')}.`,
    { remedy: MERGE_REMEDY },
  );
}

async function openSource(source: MergeSource): Promise<ParquetFile> {
  try {
    return await openParquet(await source.open(), { geoparquet: false, label: source.label });
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    throw new ResultsMergeError(err.message, { cause: err, remedy: MERGE_REMEDY });
  }
}

/** Buffered columns of the output, flushed as one row group when full. */
class ColumnBuffer {
  private columns: unknown[][];
  constructor(private readonly names: string[]) {
    this.columns = names.map(() => []);
  }
  get rows(): number {
    return this.columns[0]?.length ?? 0;
  }
  add(row: Record<string, unknown>): void {
    for (let c = 0; c < this.names.length; c++) this.columns[c]!.push(row[this.names[c]!] ?? null);
  }
  take(): { name: string; data: unknown[] }[] {
    const data = this.names.map((name, c) => ({ name, data: this.columns[c]! }));
    this.columns = this.names.map(() => []);
    return data;
  }
}

/**
 * Writes the rows of every source, in order, to `outputPath` (created or replaced). Returns the rows written.
 * A source that cannot be read as Parquet, or whose columns differ from the first's, is a `ResultsMergeError`;
 * storage errors are rethrown as they are (a retry may heal them).
 */
export async function mergeResultFiles(
  sources: readonly MergeSource[],
  outputPath: string,
): Promise<{ rows: number }> {
  const { ParquetWriter, fileWriter } = await loadHyparquetWriter();
  let writer: InstanceType<typeof ParquetWriter> | undefined;
  let schema: SchemaElement[] | undefined;
  let buffer: ColumnBuffer | undefined;
  let rows = 0;
  const flush = async (): Promise<void> => {
    if (!writer || !buffer || buffer.rows === 0) return;
    const rowGroupSize = buffer.rows;
    await writer.write({ columnData: buffer.take(), rowGroupSize });
  };
  for (const source of sources) {
    const parquet = await openSource(source);
    const own = flatSchema(parquet, source.label);
    if (schema) checkSameColumns(schema, own, source.label);
    else {
      schema = own;
      writer = new ParquetWriter({ writer: fileWriter(outputPath), schema, createdBy: 'gem-flow' });
      buffer = new ColumnBuffer(schema.slice(1).map((e) => e.name));
    }
    const names = schema.slice(1).map((e) => e.name);
    try {
      for await (const batch of rowBatches(parquet, names, source.label)) {
        for (const row of batch.rows) {
          buffer!.add(row);
          if (buffer!.rows >= MERGE_ROW_GROUP_ROWS) await flush();
        }
        rows += batch.rows.length;
        await yieldToEventLoop();
      }
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      throw new ResultsMergeError(err.message, { cause: err, remedy: MERGE_REMEDY });
    }
  }
  if (!writer) {
    writer = new ParquetWriter({
      writer: fileWriter(outputPath),
      schema: ROAD_RESULTS_SCHEMA,
      createdBy: 'gem-flow',
    });
  }
  await flush();
  await writer.finish();
  return { rows };
}
