/**
 * `gem-flow validate FILE`: the validation the app runs on an upload, run here on a local file before it is
 * uploaded. `validateLocalFile` is the one place the CLI calls the app's core for it, and it judges the file
 * the way the match does (functions/matchFile.ts): ROAD_MATCHING → the prepare step (shared/formats/prepare.ts:
 * the road format detected, every feature normalised, findings naming the source feature), then the Parquet
 * road rules on what GEM would get (the file itself for GEM's own Parquet, else the prepared Parquet, written
 * to a scratch folder and removed); LANE_LEVEL_MATCHING → the CSV header check for a `.csv`, else the
 * lane-level Parquet rules. Files are read by ranges or streamed, so a large file is never held whole.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLimitsFrom, type PrepareReport, prepareFile } from '../shared/formats/prepare.js';
import type { FormatOptions } from '../shared/formats/prepared.js';
import { localSourceFile } from '../shared/formats/sourceFile.js';
import type { JobType } from '../shared/jobTypes.js';
import { validateLaneLevelCsvHeader, validateLaneLevelInput } from '../shared/parquet/laneLevel.js';
import { DEFAULT_VALIDATION_LIMITS } from '../shared/parquet/limits.js';
import type { ValidationProblem, ValidationReport } from '../shared/parquet/report.js';
import { validateRoadMatchingInput } from '../shared/parquet/roadMatching.js';
import { CliError, EXIT } from './errors.js';

/** A problem as the CLI shows it: a Parquet rule's (row, column) or a source feature's (index, id). */
export type LocalProblem =
  | ValidationProblem
  | { row?: number; column?: string; rule: string; message: string; value?: string; remedy?: string };

/** The report `gem-flow validate` prints: the Parquet validation's, with what preparing read. */
export interface LocalValidation extends Omit<ValidationReport, 'problems' | 'problemCounts'> {
  problems: LocalProblem[];
  problemCounts: Record<string, number>;
  /** How a file in a road format other than GEM Parquet was read (absent for GEM Parquet and lane-level). */
  prepared?: Pick<PrepareReport, 'format' | 'detectedBy' | 'layer' | 'crs' | 'featureCount' | 'gemRowCount'>;
}

export interface ValidateLocalOptions {
  jobType?: JobType;
  /** The format options an upload would carry (`--layer`, `--source-crs`, …). */
  format?: FormatOptions;
}

/** What the lane-level CSV check reads of the file's head, as the activity does. */
const CSV_HEAD_BYTES = 64 * 1024;

export async function validateLocalFile(
  path: string,
  options: ValidateLocalOptions = {},
): Promise<LocalValidation> {
  if ((options.jobType ?? 'ROAD_MATCHING') === 'ROAD_MATCHING') return validateRoadFile(path, options.format);
  const file = await localSourceFile(path).catch((cause: unknown) => {
    throw unreadable(path, cause);
  });
  if (path.toLowerCase().endsWith('.csv')) {
    const head = await file.slice(0, Math.min(file.byteLength, CSV_HEAD_BYTES));
    return validateLaneLevelCsvHeader(new Uint8Array(head));
  }
  return validateLaneLevelInput(file);
}

function unreadable(path: string, cause: unknown): CliError {
  return new CliError(
    'FileUnreadable',
    EXIT.usage,
    `Cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}.`,
    { cause },
  );
}

/** A road file as the match judges it: prepared, then the Parquet road rules on what GEM would get. */
async function validateRoadFile(path: string, format: FormatOptions | undefined): Promise<LocalValidation> {
  const source = await localSourceFile(path).catch((cause: unknown) => {
    throw unreadable(path, cause);
  });
  const tempDir = await mkdtemp(join(tmpdir(), 'gem-flow-validate-'));
  try {
    const outputPath = join(tempDir, 'prepared.parquet');
    const { report, written } = await prepareFile(source, {
      ...(format ? { format } : {}),
      limits: formatLimitsFrom(DEFAULT_VALIDATION_LIMITS),
      maxIdIndexBytes: DEFAULT_VALIDATION_LIMITS.maxIdIndexBytes,
      tempDir,
      outputPath,
    });
    if (!report.valid) return refusedByPrepare(report);
    const gemFile = await localSourceFile(written ? written.path : path);
    const validation = await validateRoadMatchingInput(gemFile);
    if (!written) return validation;
    const { format: read, detectedBy, layer, crs, featureCount, gemRowCount } = report;
    return {
      ...validation,
      notes: [...report.notes, ...validation.notes],
      prepared: { format: read, detectedBy, layer, crs, featureCount, gemRowCount },
    };
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** The prepare step's findings as the CLI's report: the source feature's index as the row, its id as the value. */
function refusedByPrepare(report: PrepareReport): LocalValidation {
  const { format, detectedBy, layer, crs, featureCount, gemRowCount } = report;
  return {
    valid: false,
    jobType: 'ROAD_MATCHING',
    rowCount: featureCount,
    checkedRows: featureCount,
    columns: [],
    problems: report.problems.map((p) => ({
      ...(p.index !== undefined ? { row: p.index } : {}),
      ...(p.part !== undefined ? { column: `part ${p.part}` } : {}),
      rule: p.rule,
      message: p.message,
      ...(p.id !== undefined && p.id !== null ? { value: String(p.id) } : {}),
      remedy: p.remedy,
    })),
    problemCounts: report.problemCounts,
    truncated: report.truncated,
    notes: report.notes,
    prepared: { format, detectedBy, layer, crs, featureCount, gemRowCount },
  };
}
