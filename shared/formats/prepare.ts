/**
 * A user's road file to GEM-ready Parquet, in one streamed pass: the format detected from the content (then
 * the name), its reader opened with the user's format options, every feature normalised (exploded, Z/M
 * dropped, reprojected to lon/lat, its GEM id chosen), ids checked for uniqueness, and the rows written in
 * row groups to a local file. Everything that keeps a feature (or the file) from reaching GEM becomes a
 * problem that names the feature by its source index and its own id and says what to change; one problem
 * anywhere means the file is refused whole and nothing is written. The `prepareInput` activity runs it on an
 * inbox blob and the CLI's `validate` on a local file, so both judge a file the same way.
 *
 * Memory: one feature and one Parquet row group at a time, the first `maxProblems` problems, and the
 * duplicate-id index, which stops growing at `maxIdIndexBytes` (the Parquet validation that follows checks
 * every id again, in passes, whatever the file's size).
 */
import { IdIndex } from '../parquet/idIndex.js';
import type { ValidationLimits } from '../parquet/limits.js';
import { DEFAULT_MAX_PROBLEMS } from '../parquet/report.js';
import { type Projection, parseCrsText, projectionFor } from './crs.js';
import { type Detection, detectFormat } from './detect.js';
import { FormatError } from './errors.js';
import { createGemParquetWriter, type GemParquetWriter } from './gemParquet.js';
import { type FeatureFinding, normaliseFeature } from './normalise.js';
import type { FormatOptions } from './prepared.js';
import { readerFor } from './registry.js';
import type { CrsDeclaration, FeatureSource, FormatLimits, InputFormat, SourceFile } from './types.js';

/** One reason the file, or one of its features, cannot go to GEM. */
export interface PrepareProblem {
  rule: string;
  message: string;
  remedy: string;
  /** The source feature's 0-based index; absent for a problem with the whole file. */
  index?: number;
  /** The source feature's own id (GeoJSON `id`, GeoPackage `fid`), or null when the format has none. */
  id?: string | number | null;
  /** The MultiLineString part concerned. */
  part?: number;
}

/** What preparing found: the validation report's content for a user's own format. */
export interface PrepareReport {
  valid: boolean;
  /** The format detected, or null when the file is none gem-flow reads. */
  format: InputFormat | null;
  /** What identified the format. */
  detectedBy: string | null;
  layer: string | null;
  /** The projection the coordinates were read in (`EPSG:28992 (Amersfoort / RD New)`), when one was found. */
  crs: string | null;
  /** Features read from the source. */
  featureCount: number;
  /** GEM rows the features became (a MultiLineString gives one per part). */
  gemRowCount: number;
  /** The first `maxProblems` problems, in file order. */
  problems: PrepareProblem[];
  /** Every problem counted, per rule. */
  problemCounts: Record<string, number>;
  truncated: boolean;
  /** What the reader decided and what the user should know; not problems. */
  notes: string[];
}

export interface PrepareOptions {
  format?: FormatOptions;
  limits: FormatLimits;
  /** Memory for the duplicate-id index; ids beyond it are left to the Parquet validation. */
  maxIdIndexBytes: number;
  /** Scratch space for readers (GeoPackage copies the file here). */
  tempDir: string;
  /** Where the GEM-ready Parquet is written when the file is valid (not for GEM's own Parquet). */
  outputPath: string;
  maxProblems?: number;
  /** Rows per Parquet row group (default the writer's). */
  rowGroupRows?: number;
}

export interface PrepareOutcome {
  report: PrepareReport;
  /** The CRS the source declared (or the sourceCrs option), for the enriched output. */
  crs: CrsDeclaration | null;
  /** The GEM-ready file, when the input was valid and not GEM Parquet already. */
  written: { path: string; rows: number; bytes: number } | null;
}

/**
 * Read limits derived from the Parquet validation's: a feature's WKT must stay within `maxValueBytes`, and a
 * vertex written with 8 decimals takes at most 29 characters (`-179.12345678 -89.12345678, `).
 */
export function formatLimitsFrom(validation: ValidationLimits): FormatLimits {
  return {
    maxFeatureBytes: Math.max(validation.maxValueBytes, validation.maxRowBytes),
    maxVertices: Math.max(2, Math.floor(validation.maxValueBytes / 29)),
    maxFields: 2000,
    maxDepth: validation.maxSchemaDepth,
  };
}

/** Problems with exact per-rule counts and a bounded list. */
class ProblemCollector {
  readonly problems: PrepareProblem[] = [];
  readonly counts: Record<string, number> = {};
  total = 0;

  constructor(private readonly max: number) {}

  add(problem: PrepareProblem): void {
    this.counts[problem.rule] = (this.counts[problem.rule] ?? 0) + 1;
    this.total++;
    if (this.problems.length < this.max) this.problems.push(problem);
  }

  addFileError(error: FormatError, fallbackRemedy = 'Fix the file and upload it again.'): void {
    this.add({ rule: error.rule, message: bareMessage(error), remedy: error.remedy ?? fallbackRemedy });
  }
}

/** The error's message without the remedy `GemFlowError` appends, since the report gives the remedy apart. */
function bareMessage(error: FormatError): string {
  const { message, remedy } = error;
  return remedy && message.endsWith(` ${remedy}`) ? message.slice(0, -remedy.length - 1) : message;
}

const READ_REMEDY = 'Check that the file is complete and of a format gem-flow reads, then upload it again.';

/** Prepares `file`: see the module comment. Only a `FormatError` is a finding; other errors (I/O) throw. */
export async function prepareFile(file: SourceFile, options: PrepareOptions): Promise<PrepareOutcome> {
  const problems = new ProblemCollector(options.maxProblems ?? DEFAULT_MAX_PROBLEMS);
  const report = emptyReport();
  const outcome: PrepareOutcome = { report, crs: null, written: null };
  const finish = (): PrepareOutcome => {
    Object.assign(report, {
      valid: problems.total === 0,
      problems: problems.problems,
      problemCounts: problems.counts,
      truncated: problems.total > problems.problems.length,
    });
    return outcome;
  };
  const format = options.format ?? {};
  let detection: Detection;
  try {
    detection = await detect(file, format);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    problems.addFileError(error);
    return finish();
  }
  report.format = detection.format;
  report.detectedBy = detection.reason;
  // GEM's own Parquet goes on as it is: the Parquet validation judges it, row by row.
  if (detection.format === 'gem-parquet') return finish();

  const source = await openSource(file, detection.format, options, problems);
  if (!source) return finish();
  try {
    report.layer = source.layer;
    report.notes.push(...(source.notes ?? []).map((note) => note.message));
    const projection = await sourceProjection(source, format, problems, report.notes);
    outcome.crs = crsOverride(format) ?? source.crs;
    if (!projection) return finish();
    report.crs = projection.label;
    outcome.written = await writeGemRows(source, projection, options, problems, report);
  } finally {
    await source.close();
  }
  return finish();
}

const PAR1 = [0x50, 0x41, 0x52, 0x31];

/**
 * The file's format. A Parquet file whose footer cannot be read here (hostile or broken: a schema thousands of
 * levels deep, a footer that claims more than the file holds) is handed on as GEM Parquet, so the Parquet
 * validation, which bounds footers and schemas before decoding them, judges it and names the rule it breaks.
 */
async function detect(file: SourceFile, format: FormatOptions): Promise<Detection> {
  try {
    return await detectFormat(file, format.wktColumn ? { wktColumn: format.wktColumn } : {});
  } catch (error) {
    const head = new Uint8Array(await file.slice(0, Math.min(file.byteLength, PAR1.length)));
    if (!PAR1.every((byte, k) => head[k] === byte)) throw error;
    return { format: 'gem-parquet', reason: 'Parquet whose footer is left to the Parquet validation' };
  }
}

function emptyReport(): PrepareReport {
  return {
    valid: false,
    format: null,
    detectedBy: null,
    layer: null,
    crs: null,
    featureCount: 0,
    gemRowCount: 0,
    problems: [],
    problemCounts: {},
    truncated: false,
    notes: [],
  };
}

async function openSource(
  file: SourceFile,
  format: InputFormat,
  options: PrepareOptions,
  problems: ProblemCollector,
): Promise<FeatureSource | null> {
  const { layer, wktColumn, csvDelimiter, encoding } = options.format ?? {};
  try {
    const open = await readerFor(format);
    return await open(file, {
      limits: options.limits,
      tempDir: options.tempDir,
      ...(layer !== undefined ? { layer } : {}),
      ...(wktColumn !== undefined ? { wktColumn } : {}),
      ...(csvDelimiter !== undefined ? { csvDelimiter } : {}),
      ...(encoding !== undefined ? { encoding } : {}),
    });
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    problems.addFileError(error);
    return null;
  }
}

function crsOverride(format: FormatOptions): CrsDeclaration | null {
  return format.sourceCrs === undefined ? null : parseCrsText(format.sourceCrs, 'the sourceCrs option');
}

/**
 * CSV has no place to declare a CRS (its WKT carries none), and CSV road files are overwhelmingly lon/lat, so
 * one that declares none is read as WGS 84 lon/lat, with a note; projected coordinates then fail the range
 * check with a remedy naming sourceCrs. Every other format that declares nothing is refused (`crs-missing`).
 */
const CSV_DEFAULT_CRS: CrsDeclaration = { kind: 'crs84', source: 'CSV default (WGS 84 lon/lat)' };

async function sourceProjection(
  source: FeatureSource,
  format: FormatOptions,
  problems: ProblemCollector,
  notes: string[],
): Promise<Projection | null> {
  let declared = source.crs;
  if (declared === null && source.format === 'csv' && format.sourceCrs === undefined) {
    declared = CSV_DEFAULT_CRS;
    notes.push(
      'The CSV declares no coordinate system; its WKT was read as WGS 84 lon/lat (set sourceCrs if not).',
    );
  }
  try {
    return await projectionFor(declared, crsOverride(format));
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    problems.addFileError(error);
    return null;
  }
}

/** Problem for a feature whose GEM id an earlier feature already has. */
function duplicateId(
  finding: Pick<FeatureFinding, 'index' | 'id'>,
  gemId: string,
  first: number,
): PrepareProblem {
  return {
    rule: 'id-unique',
    message: `feature ${finding.index}: GEM id "${gemId.slice(0, 120)}" is also the id of feature ${first}.`,
    remedy:
      'Give every road its own id: set idColumn to an attribute whose values are unique, or fix the repeated values.',
    index: finding.index,
    id: finding.id,
  };
}

/**
 * Streams the features through `normaliseFeature` into the GEM Parquet writer. Rows are written only while
 * no problem has been found (a refused file is deleted anyway), but every feature is still read, so the
 * report counts every problem.
 */
async function writeGemRows(
  source: FeatureSource,
  projection: Projection,
  options: PrepareOptions,
  problems: ProblemCollector,
  report: PrepareReport,
): Promise<PrepareOutcome['written']> {
  const { idColumn, navigableColumn } = options.format ?? {};
  const writer = await createGemParquetWriter({
    path: options.outputPath,
    withNavigable: navigableColumn !== undefined,
    ...(options.rowGroupRows ? { rowGroupRows: options.rowGroupRows } : {}),
  });
  const ids = new IdIndex();
  let idsChecked = true;
  try {
    for await (const feature of source.features()) {
      report.featureCount++;
      const normalised = normaliseFeature(feature, {
        projection,
        limits: options.limits,
        ...(idColumn !== undefined ? { idColumn } : {}),
        ...(navigableColumn !== undefined ? { navigableColumn } : {}),
      });
      for (const finding of normalised.findings) problems.add(finding);
      for (const row of normalised.rows) {
        report.gemRowCount++;
        if (idsChecked) {
          const first = ids.seen(row.id, feature.index);
          if (first !== undefined) problems.add(duplicateId(feature, row.id, first));
          idsChecked = ids.bytes <= options.maxIdIndexBytes;
        }
        if (problems.total === 0) await writer.write(row);
      }
    }
  } catch (error) {
    await writer.abort();
    if (!(error instanceof FormatError)) throw error;
    problems.addFileError(error, READ_REMEDY);
    return null;
  }
  if (!idsChecked) {
    report.notes.push(
      'Ids past the duplicate-id index limit were left to the Parquet validation of the prepared file.',
    );
  }
  if (report.gemRowCount === 0 && problems.total === 0) {
    problems.add({
      rule: 'rows-present',
      message: `The file holds no features (${report.featureCount} read).`,
      remedy: 'Upload a file with at least one road.',
    });
  }
  return problems.total === 0 ? finishWriter(writer, options.outputPath) : abortWriter(writer);
}

async function finishWriter(writer: GemParquetWriter, path: string): Promise<PrepareOutcome['written']> {
  const { rows, bytes } = await writer.finish();
  return { path, rows, bytes };
}

async function abortWriter(writer: GemParquetWriter): Promise<null> {
  await writer.abort();
  return null;
}

/** One sentence for a refused file, naming its most frequent problems. */
export function failedValidationSummary(problemCounts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(problemCounts).filter(([, n]) => n > 0);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const top = entries
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([rule, n]) => `${n} × ${rule}`)
    .join(', ');
  return `The file failed validation with ${total} problem(s): ${top}. No GEM job was submitted.`;
}
