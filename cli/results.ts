/**
 * What a finished match left behind, read from the outbox documents its status names: the summary (counts and
 * ratios from GEM's statistics, timings), the error document (GEM's message and the remedy), or the validation
 * report (its first problems). With `download`, every output is saved under the output folder at its outbox
 * path, `<output>/<name key>/<run>/…`, streamed to disk. Printing is separate (printResult), so `--json` gets
 * the same facts as one document.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import type { ValidationProblem } from '../shared/parquet/report.js';
import type { MatchStatus } from './appClient.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import type { Output } from './output.js';
import { formatDuration } from './progress.js';
import { downloadIfExists, type StorageContext, storageFailure } from './storage.js';

export interface Download {
  blob: string;
  file: string;
  bytes: number;
}

export interface ValidationExcerpt {
  blob: string;
  summary: string | null;
  problemCount: number | null;
  /** The first problems, as the report lists them (a source feature's index as the row). */
  problems: PrintedProblem[];
  remedy: string | null;
}

export interface MatchResultReport {
  id: string;
  runtimeStatus: string;
  outcome: string | null;
  phase: string | null;
  jobId: number | null;
  gemStatus: string | null;
  polls: number;
  /** The summary document (`gem-flow.match-summary`) of a succeeded match. */
  summary: Record<string, unknown> | null;
  /** Why it failed: the error document's message and remedy, or the status's error. */
  error: { message: string; remedy: string | null; blob: string | null } | null;
  validation: ValidationExcerpt | null;
  downloads: Download[];
  /** The folder the outputs were saved in, when downloaded. */
  outputDir: string | null;
  exitCode: ExitCode;
}

/** How many problems of a validation report are shown. */
export const SHOWN_PROBLEMS = 10;

export interface CollectOptions {
  outbox: ContainerClient;
  storage: StorageContext;
  download: boolean;
  /** Root of the downloads; default `./gem-flow-output`. */
  outputRoot: string;
}

async function readDocument(
  options: CollectOptions,
  blob: string | undefined,
): Promise<Record<string, unknown> | null> {
  if (!blob) return null;
  try {
    const bytes = await downloadIfExists(options.outbox, blob);
    return bytes ? (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>) : null;
  } catch (error) {
    throw storageFailure(error, `read outbox/${blob}`, options.storage);
  }
}

export async function collectResult(
  status: MatchStatus,
  options: CollectOptions,
): Promise<MatchResultReport> {
  const outputs = status.outputs;
  const summary = outputs.summary ? await readDocument(options, outputs.summary.blob) : null;
  const errorDoc = outputs.error ? await readDocument(options, outputs.error.blob) : null;
  const report = outputs.validationReport ? await readDocument(options, outputs.validationReport.blob) : null;
  const succeeded = status.runtimeStatus === 'Completed' && status.outcome === 'succeeded';
  const downloads = options.download ? await downloadOutputs(status, options) : [];
  const firstBlob = downloads[0]?.file;
  return {
    id: status.id,
    runtimeStatus: status.runtimeStatus,
    outcome: status.outcome,
    phase: status.phase,
    jobId: status.jobId,
    gemStatus: status.gemStatus,
    polls: status.polls,
    summary: succeeded ? summary : null,
    error: succeeded ? null : errorOf(status, errorDoc),
    validation:
      report && outputs.validationReport ? validationExcerpt(outputs.validationReport.blob, report) : null,
    downloads,
    outputDir: firstBlob ? dirname(firstBlob) : null,
    exitCode: succeeded ? EXIT.ok : EXIT.failed,
  };
}

function errorOf(status: MatchStatus, document: Record<string, unknown> | null): MatchResultReport['error'] {
  const blob = status.outputs.error?.blob ?? null;
  if (document && typeof document.message === 'string') {
    return {
      message: document.message,
      remedy: typeof document.remedy === 'string' ? document.remedy : null,
      blob,
    };
  }
  if (status.error) return { message: status.error.message, remedy: null, blob };
  if (status.runtimeStatus === 'Terminated')
    return { message: 'The match was cancelled.', remedy: null, blob };
  return status.outcome === 'invalid-input'
    ? null
    : { message: `The match ended ${status.runtimeStatus}.`, remedy: null, blob };
}

/** A report's problem: a Parquet rule's (row), or the prepare step's, which names the source feature (index, id). */
type ReportedProblem = PrintedProblem & { index?: number; id?: string | number | null };

function printable({ index, id, ...problem }: ReportedProblem): PrintedProblem {
  return {
    ...problem,
    ...(problem.row === undefined && index !== undefined ? { row: index } : {}),
    ...(problem.value === undefined && id !== undefined && id !== null ? { value: String(id) } : {}),
  };
}

export function validationExcerpt(blob: string, report: Record<string, unknown>): ValidationExcerpt {
  const problems = Array.isArray(report.problems)
    ? (report.problems as ReportedProblem[]).map(printable)
    : [];
  const counts = report.problemCounts as Record<string, number> | undefined;
  const problemCount = counts ? Object.values(counts).reduce((sum, n) => sum + n, 0) : problems.length;
  return {
    blob,
    summary: typeof report.summary === 'string' ? report.summary : null,
    problemCount,
    problems: problems.slice(0, SHOWN_PROBLEMS),
    remedy: typeof report.remedy === 'string' ? report.remedy : null,
  };
}

/** Saves every output the status names under `outputRoot`, at its outbox path. */
export async function downloadOutputs(status: MatchStatus, options: CollectOptions): Promise<Download[]> {
  const blobs = Object.values(status.outputs)
    .filter((ref): ref is { blob: string } => ref !== null)
    .map((ref) => ref.blob);
  const downloads: Download[] = [];
  for (const blob of [...new Set(blobs)]) {
    const file = localPathFor(options.outputRoot, blob);
    mkdirSync(dirname(file), { recursive: true });
    try {
      await options.outbox.getBlobClient(blob).downloadToFile(file);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) continue;
      throw storageFailure(error, `download outbox/${blob}`, options.storage);
    }
    downloads.push({ blob, file, bytes: statSync(file).size });
  }
  return downloads;
}

/** `<root>/<blob name>`, refusing any name that would land outside the root. */
export function localPathFor(root: string, blob: string): string {
  const base = resolve(root);
  const file = resolve(base, ...blob.split('/'));
  const inside = relative(base, file);
  if (!inside || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new CliError('UnsafeBlobName', EXIT.failed, `Refusing to save outbox/${blob} outside ${base}.`);
  }
  return file;
}

// ------------------------------------------------------------------------------------------ printing

/** GEM's ROAD_MATCHING statistics (gem-api.md §4.4) in words; other keys are shown as they are. */
const STATISTIC_LABELS: Record<string, string> = {
  num_roads_processed: 'roads processed',
  roads_matched_ratio: 'matched',
  roads_fully_matched_ratio: 'fully matched',
  roads_partially_matched_ratio: 'partially matched',
  roads_unmatched_ratio: 'unmatched',
  kms_processed: 'km processed',
  confidence_threshold: 'confidence threshold',
  execution_time_sec: 'GEM execution time',
};

export function statisticsRows(statistics: Record<string, unknown>): [string, string][] {
  const roads =
    typeof statistics.num_roads_processed === 'number' ? statistics.num_roads_processed : undefined;
  const known = Object.keys(STATISTIC_LABELS);
  const rank = (key: string) => (known.includes(key) ? known.indexOf(key) : known.length);
  const entries = Object.entries(statistics).sort(([a], [b]) => rank(a) - rank(b));
  return entries.map(([key, value]) => {
    const label = STATISTIC_LABELS[key] ?? key;
    if (typeof value !== 'number') return [label, JSON.stringify(value)];
    if (key.endsWith('_ratio')) {
      const count =
        roads === undefined ? '' : ` (${Math.round(value * roads).toLocaleString('en-US')} roads)`;
      return [label, `${(value * 100).toFixed(1)} %${count}`];
    }
    if (key === 'execution_time_sec') return [label, formatDuration(value)];
    return [label, value.toLocaleString('en-US', { maximumFractionDigits: 2 })];
  });
}

/** How a match ended, in words, by outcome (or runtime status when it has no outcome). */
const ENDINGS: Record<string, string> = {
  succeeded: 'completed',
  'invalid-input': 'was refused: the file is invalid',
  'gem-failed': 'failed at GEM',
  'timed-out': 'timed out',
  Terminated: 'was cancelled',
  Failed: 'failed',
};

export function printResult(output: Output, result: MatchResultReport): void {
  if (output.json) {
    output.document({ event: 'result', ...result });
    return;
  }
  const job =
    result.jobId !== null ? `GEM job ${result.jobId} ${result.gemStatus ?? ''}`.trim() : 'no GEM job';
  const ending = ENDINGS[result.outcome ?? ''] ?? ENDINGS[result.runtimeStatus] ?? result.runtimeStatus;
  output.line(`Match ${result.id} ${ending} (${job}, ${result.polls} polls).`);
  if (result.exitCode === EXIT.ok) printSummary(output, result.summary);
  // An invalid file's error is the report's own summary, printed with the report.
  if (result.error && result.error.message !== result.validation?.summary) output.line(result.error.message);
  if (result.error?.remedy) output.line(`What to do: ${result.error.remedy}`);
  if (result.validation) printValidation(output, result.validation);
  if (result.downloads.length > 0) {
    output.line(`Outputs saved in ${result.outputDir}:`);
    output.table(
      [{ header: 'file' }, { header: 'bytes', right: true }],
      result.downloads.map((d) => [relative(result.outputDir ?? '', d.file), d.bytes]),
    );
  }
}

function printSummary(output: Output, summary: Record<string, unknown> | null): void {
  if (!summary) {
    output.line('  (no summary document)');
    return;
  }
  const statistics = summary.statistics as Record<string, unknown> | null;
  const timings = summary.timings as
    | { durations?: { totalSeconds?: number; gemSeconds?: number | null } }
    | undefined;
  const rows = statistics ? statisticsRows(statistics) : [];
  if (timings?.durations?.totalSeconds !== undefined)
    rows.push(['total time', formatDuration(timings.durations.totalSeconds)]);
  if (typeof timings?.durations?.gemSeconds === 'number')
    rows.push(['time at GEM', formatDuration(timings.durations.gemSeconds)]);
  output.table([{ header: 'summary' }, { header: 'value', right: true }], rows);
}

export function printValidation(output: Output, excerpt: ValidationExcerpt): void {
  if (excerpt.summary) output.line(excerpt.summary);
  output.line(`Validation report: outbox/${excerpt.blob}`);
  printProblems(output, excerpt.problems, excerpt.problemCount);
  if (excerpt.remedy) output.line(`What to do: ${excerpt.remedy}`);
}

/** A problem as printed: a Parquet rule's, or a source feature's from the prepare step (any rule id). */
export type PrintedProblem = Omit<ValidationProblem, 'rule'> & { rule: string };

export function printProblems(
  output: Output,
  problems: readonly PrintedProblem[],
  total: number | null,
): void {
  output.table(
    [
      { header: 'row', right: true },
      { header: 'column' },
      { header: 'rule' },
      { header: 'problem' },
      { header: 'value' },
    ],
    problems.map((p) => [p.row ?? '', p.column ?? '', p.rule, p.message, p.value ?? '']),
  );
  if (total !== null && total > problems.length)
    output.line(`… and ${total - problems.length} more problem(s).`);
}
