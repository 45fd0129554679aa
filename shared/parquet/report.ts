/**
 * The validation report: what is wrong with an input file, row by row, in words a data owner can act on.
 * It is stored in orchestration state and written to the outbox, so it holds no secrets and is bounded
 * in size (the first `maxProblems` problems, plus complete counts per rule).
 */
import type { JobType } from '../jobTypes.js';

export const RULE_IDS = [
  'parquet-readable',
  'footer-size',
  'schema-depth',
  'schema-width',
  'rows-present',
  'row-limit',
  'row-group-size',
  'page-size',
  'row-size',
  'value-size',
  'id-present',
  'id-type',
  'id-not-null',
  'id-unique',
  'geometry-present',
  'geometry-type',
  'geometry-not-null',
  'geometry-wkt-linestring',
  'geometry-min-points',
  'geometry-coordinate-range',
  'is-navigable-type',
  'points-present',
  'points-type',
  'csv-header',
] as const;

/** Stable identifiers of validation rules; safe to match on in code and documentation. */
export type RuleId = (typeof RULE_IDS)[number];

export interface ValidationProblem {
  /** 0-based row number in the file (as pandas/pyarrow count); absent for file- or column-level problems. */
  row?: number;
  column?: string;
  rule: RuleId;
  message: string;
  /** The offending value, truncated to keep the report small. */
  value?: string;
}

export interface ColumnInfo {
  name: string;
  /** Human-readable type, e.g. INT64, STRING, BOOLEAN, BYTE_ARRAY, LIST<STRUCT>. */
  type: string;
}

export interface ValidationReport {
  valid: boolean;
  jobType: JobType;
  /** Rows the file declares (from its metadata); 0 if unreadable. */
  rowCount: number;
  /** Rows whose values were checked (less than rowCount if reading stopped early). */
  checkedRows: number;
  columns: ColumnInfo[];
  /** The first `maxProblems` problems, in file order within each rule pass. */
  problems: ValidationProblem[];
  /** Every problem counted, including those beyond `maxProblems`. */
  problemCounts: Record<RuleId, number>;
  /** True when more problems were found than `problems` holds. */
  truncated: boolean;
  /** Facts worth knowing that are not errors (how GEM will interpret nulls, ignored columns, …). */
  notes: string[];
}

export const DEFAULT_MAX_PROBLEMS = 100;
const MAX_VALUE_CHARS = 120;

export function truncateValue(value: unknown): string {
  const text =
    typeof value === 'bigint' ? `${value}` : typeof value === 'string' ? value : JSON.stringify(value);
  const s = text ?? String(value);
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}

/** Collects problems with a cap on the list and exact counts. */
export class ReportBuilder {
  readonly problems: ValidationProblem[] = [];
  readonly counts: Record<RuleId, number> = Object.fromEntries(RULE_IDS.map((r) => [r, 0])) as Record<
    RuleId,
    number
  >;
  readonly notes: string[] = [];
  columns: ColumnInfo[] = [];
  rowCount = 0;
  checkedRows = 0;

  constructor(
    readonly jobType: JobType,
    readonly maxProblems: number = DEFAULT_MAX_PROBLEMS,
  ) {}

  add(problem: ValidationProblem): void {
    this.counts[problem.rule]++;
    if (this.problems.length < this.maxProblems) this.problems.push(problem);
  }

  get total(): number {
    let n = 0;
    for (const rule of RULE_IDS) n += this.counts[rule];
    return n;
  }

  build(): ValidationReport {
    const total = this.total;
    return {
      valid: total === 0,
      jobType: this.jobType,
      rowCount: this.rowCount,
      checkedRows: this.checkedRows,
      columns: this.columns,
      problems: this.problems,
      problemCounts: { ...this.counts },
      truncated: total > this.problems.length,
      notes: this.notes,
    };
  }
}

/**
 * Rows GEM will process, for the monitor's ETA: one segment per row of a readable file. Returns 0 for an
 * unreadable file so callers do not need a special case.
 */
export function estimateSegments(report: Pick<ValidationReport, 'rowCount' | 'problemCounts'>): number {
  return report.problemCounts['parquet-readable'] > 0 ? 0 : report.rowCount;
}
