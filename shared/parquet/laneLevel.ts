/**
 * LANE_LEVEL_MATCHING input checks (gem-api.md §6.2). TomTom's page is partly cut off, so these are
 * structural only: the file is readable (its footer and schema within the limits, see footer.ts), it has rows,
 * `id` and `points` exist, and `points` has the documented shape (a list of structs with coord { x, y } and
 * heading). Row values are not checked.
 */
import type { AsyncBuffer, SchemaTree } from 'hyparquet';
import { openParquet } from './footer.js';
import { resolveLimits, type ValidationLimits } from './limits.js';
import { DEFAULT_MAX_PROBLEMS, ReportBuilder, type ValidationReport } from './report.js';
import { columnInfos, describeType, GuardedFile } from './schema.js';

export interface LaneLevelOptions {
  maxProblems?: number;
  /** Bounds on what is read; unset ones take DEFAULT_VALIDATION_LIMITS. */
  limits?: Partial<ValidationLimits>;
}

/** The list element of a 3-level (or legacy 2-level) Parquet LIST, or undefined if not a list. */
function listElement(node: SchemaTree): SchemaTree | undefined {
  const e = node.element;
  if (e.converted_type !== 'LIST' && e.logical_type?.type !== 'LIST') return undefined;
  const repeated = node.children[0];
  if (!repeated) return undefined;
  // 3-level: LIST > repeated group list > element; 2-level: LIST > repeated element.
  return repeated.children.length === 1 && repeated.element.name === 'list' ? repeated.children[0] : repeated;
}

function child(node: SchemaTree | undefined, name: string): SchemaTree | undefined {
  return node?.children.find((c) => c.element.name === name);
}

const isNumeric = (node: SchemaTree | undefined) =>
  !!node &&
  node.children.length === 0 &&
  ['DOUBLE', 'FLOAT', 'INT32', 'INT64'].includes(node.element.type ?? '');

export async function validateLaneLevelInput(
  file: AsyncBuffer,
  options: LaneLevelOptions = {},
): Promise<ValidationReport> {
  const limits = resolveLimits(options.limits);
  const report = new ReportBuilder('LANE_LEVEL_MATCHING', options.maxProblems ?? DEFAULT_MAX_PROBLEMS);
  const layout = await openParquet(new GuardedFile(file, limits.maxFooterBytes + 8), report, limits);
  if (!layout) return report.build();
  const { columns } = layout;
  report.columns = columnInfos(columns);
  const listing = columns.map((c) => c.element.name).join(', ') || '(none)';
  const byName = new Map(columns.map((c) => [c.element.name, c]));

  const id = byName.get('id');
  if (!id) {
    report.add({
      rule: 'id-present',
      column: 'id',
      message: `No "id" column (columns: ${listing}); add a trace id.`,
    });
  } else {
    const type = describeType(id);
    if (!['STRING', 'INT32', 'INT64'].includes(type)) {
      report.add({
        rule: 'id-type',
        column: 'id',
        value: type,
        message: `"id" is ${type}; use a string trace id.`,
      });
    }
  }

  const points = byName.get('points');
  if (!points) {
    report.add({
      rule: 'points-present',
      column: 'points',
      message: `No "points" column (columns: ${listing}); add the trace as a list of {coord {x, y}, heading, …}.`,
    });
  } else {
    const element = listElement(points);
    const coord = child(element, 'coord');
    const missing: string[] = [];
    if (!element || element.children.length === 0) missing.push('a list of structs');
    else {
      if (!coord || !isNumeric(child(coord, 'x')) || !isNumeric(child(coord, 'y')))
        missing.push('coord { x, y } numbers');
      if (!isNumeric(child(element, 'heading'))) missing.push('heading');
    }
    if (missing.length > 0) {
      report.add({
        rule: 'points-type',
        column: 'points',
        value: describeType(points),
        message: `"points" lacks ${missing.join(', ')}; expected list<struct<coord struct<x double, y double>, heading double, lane long, timestamp long, velocity double>>.`,
      });
    }
  }
  report.notes.push('Lane-level checks are structural only (TomTom documents the row rules only in part).');
  return report.build();
}

/** The two CSV layouts TomTom names for lane-level input; exact formats are undocumented. */
const CSV_LAYOUTS: { name: string; columns: string[] }[] = [
  { name: 'road profile', columns: ['uuid', 'shape'] },
  { name: 'road events', columns: ['uuid', 'heading', 'coordinate'] },
];

/**
 * Checks the header line of a lane-level CSV from its first bytes (e.g. a 4 KiB ranged read), without
 * reading the rest of the file.
 */
export function validateLaneLevelCsvHeader(firstBytes: Uint8Array): ValidationReport {
  const report = new ReportBuilder('LANE_LEVEL_MATCHING');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(firstBytes).replace(/^\uFEFF/, '');
  const newline = text.search(/\r?\n/);
  const header = newline < 0 ? text : text.slice(0, newline);
  if (newline < 0 && firstBytes.byteLength >= 64 * 1024) {
    report.add({
      rule: 'csv-header',
      message: 'No line break in the first bytes: this does not look like CSV.',
    });
    return report.build();
  }
  const delimiter = [',', ';', '\t']
    .map((d) => [d, header.split(d).length] as const)
    .sort((a, b) => b[1] - a[1])[0]![0];
  const names = header.split(delimiter).map((n) => n.trim().replace(/^"(.*)"$/, '$1'));
  report.columns = names.map((name) => ({ name, type: 'CSV' }));
  const layout = CSV_LAYOUTS.find((l) => l.columns.every((c) => names.includes(c)));
  if (!layout) {
    report.add({
      rule: 'csv-header',
      value: header.slice(0, 120),
      message: `The CSV header has neither layout TomTom names: ${CSV_LAYOUTS.map((l) => `${l.name} (${l.columns.join(', ')})`).join(' or ')}.`,
    });
  } else {
    report.notes.push(`CSV layout: ${layout.name}. Only the header was checked.`);
  }
  return report.build();
}
