/**
 * ROAD_MATCHING input validation (gem-api.md §6.1): one Parquet file, one road per row, with
 *   id            int32 | int64 | string, non-null, unique
 *   geometry      string, 2D WKT LINESTRING in EPSG:4326, longitude first, ≥ 2 points
 *   is_navigable  optional BOOLEAN (null = not navigable)
 * GEM stops at the first failed check hours after submission; this reports every problem up front.
 *
 * Nothing the file says about itself is believed before it is checked (footer.ts, pages.ts), and reading is in
 * bounded batches of the three columns above (rowBatches.ts), so memory is one row group's chunks of those
 * columns, one batch of rows and the id index (idIndex.ts), whatever the file's size (see limits.ts).
 */
import type { AsyncBuffer, SchemaTree } from 'hyparquet';
import { openParquet, type ParquetLayout, planRowGroups, type RowGroupLayout } from './footer.js';
import { IdIndex, idPasses } from './idIndex.js';
import { formatBytes, LIMIT_SETTINGS, resolveLimits, type ValidationLimits } from './limits.js';
import {
  DEFAULT_MAX_PROBLEMS,
  ReportBuilder,
  type RuleId,
  truncateValue,
  type ValidationReport,
} from './report.js';
import { readRowBatches } from './rowBatches.js';
import { columnInfos, describeType, GuardedFile, nearMiss } from './schema.js';
import { type LonLat, parseLineString } from './wkt.js';

export interface ValidateOptions {
  /** Problems listed in the report (all are counted). Default 100. */
  maxProblems?: number;
  /** Bounds on what is read and held; unset ones take DEFAULT_VALIDATION_LIMITS. */
  limits?: Partial<ValidationLimits>;
}

function isAllowedIdType(node: SchemaTree): boolean {
  const e = node.element;
  if (node.children.length > 0 || e.repetition_type === 'REPEATED') return false;
  const logical = e.logical_type?.type;
  if (e.type === 'INT32' || e.type === 'INT64') {
    // Dates, times, timestamps and decimals are stored as integers but are not ids.
    const integerConverted = e.converted_type === undefined || /^U?INT_/.test(e.converted_type);
    return (logical === undefined || logical === 'INTEGER') && integerConverted;
  }
  if (e.type === 'BYTE_ARRAY') return logical === 'STRING' || e.converted_type === 'UTF8';
  return false;
}

function isStringColumn(node: SchemaTree): boolean {
  const e = node.element;
  return (
    node.children.length === 0 &&
    e.repetition_type !== 'REPEATED' &&
    e.type === 'BYTE_ARRAY' &&
    (e.logical_type?.type === 'STRING' || e.converted_type === 'UTF8')
  );
}

function isBooleanColumn(node: SchemaTree): boolean {
  return (
    node.children.length === 0 &&
    node.element.repetition_type !== 'REPEATED' &&
    node.element.type === 'BOOLEAN'
  );
}

const inRange = ([lon, lat]: LonLat) => lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90;

/** Validates a ROAD_MATCHING input file; storage failures are thrown, everything about the file is reported. */
export async function validateRoadMatchingInput(
  file: AsyncBuffer,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  const limits = resolveLimits(options.limits);
  const report = new ReportBuilder('ROAD_MATCHING', options.maxProblems ?? DEFAULT_MAX_PROBLEMS);
  const guarded = new GuardedFile(file, maxSliceBytes(limits));
  const layout = await openParquet(guarded, report, limits);
  if (!layout) return report.build();
  report.columns = columnInfos(layout.columns);
  const checks = checkColumns(layout.columns, report);
  const read = [checks.id, checks.geometry, checks.navigable].filter((c): c is SchemaTree => c !== undefined);
  if (read.length === 0 || layout.rowCount === 0) return report.build();
  const groups = planRowGroups(
    layout,
    read.map((c) => c.element.name),
    report,
    limits,
  );
  if (groups) await checkRows({ file: guarded, layout, groups, read, checks, limits, report });
  return report.build();
}

/** The columns whose rows are checked; a column is absent when a column-level rule already failed it. */
interface ColumnChecks {
  id?: SchemaTree;
  geometry?: SchemaTree;
  navigable?: SchemaTree;
}

/** Column-level rules: each failure disables the row checks that depend on it, not the others. */
function checkColumns(columns: SchemaTree[], report: ReportBuilder): ColumnChecks {
  const byName = new Map(columns.map((c) => [c.element.name, c]));
  const listing = columns.map((c) => c.element.name).join(', ') || '(none)';
  const checks: ColumnChecks = {
    id: checkIdColumn(byName.get('id'), columns, listing, report),
    geometry: checkGeometryColumn(byName.get('geometry'), columns, listing, report),
    navigable: undefined,
  };
  const navNode = byName.get('is_navigable');
  if (!navNode) {
    report.notes.push('No "is_navigable" column: GEM treats every road as navigable.');
  } else if (!isBooleanColumn(navNode)) {
    report.add({
      rule: 'is-navigable-type',
      column: 'is_navigable',
      value: describeType(navNode),
      message: `"is_navigable" is ${describeType(navNode)}; it must be BOOLEAN (pyarrow pa.bool_()), or be left out.`,
    });
  } else {
    checks.navigable = navNode;
  }
  const ignored = columns
    .map((c) => c.element.name)
    .filter((n) => n !== 'id' && n !== 'geometry' && n !== 'is_navigable');
  if (ignored.length > 0) report.notes.push(`Columns GEM ignores: ${ignored.join(', ')}.`);
  if (checks.id) report.notes.push('Result files return "id" as a string, whatever its type here.');
  return checks;
}

/** A required column is absent: the finding names it, and the near miss to rename when there is one. */
function missingColumn(
  report: ReportBuilder,
  columns: SchemaTree[],
  listing: string,
  spec: { rule: RuleId; column: string; aliases: string[]; howToAdd: string },
): undefined {
  const miss = nearMiss(columns, spec.column, spec.aliases);
  report.add({
    rule: spec.rule,
    column: spec.column,
    message:
      `No "${spec.column}" column (columns: ${listing}).` +
      (miss ? ` Rename "${miss}" to "${spec.column}" (names are case-sensitive).` : ` ${spec.howToAdd}`),
  });
  return undefined;
}

function checkIdColumn(
  idNode: SchemaTree | undefined,
  columns: SchemaTree[],
  listing: string,
  report: ReportBuilder,
): SchemaTree | undefined {
  if (!idNode) {
    return missingColumn(report, columns, listing, {
      rule: 'id-present',
      column: 'id',
      aliases: ['ids', 'road_id', 'segment_id', 'fid'],
      howToAdd: 'Add a unique int32, int64 or string id per road.',
    });
  }
  if (!isAllowedIdType(idNode)) {
    report.add({
      rule: 'id-type',
      column: 'id',
      value: describeType(idNode),
      message: `"id" is ${describeType(idNode)}; GEM accepts int32, int64 or string (UTF-8) ids, e.g. pyarrow pa.int64() or pa.string().`,
    });
    return undefined;
  }
  return idNode;
}

function checkGeometryColumn(
  geometryNode: SchemaTree | undefined,
  columns: SchemaTree[],
  listing: string,
  report: ReportBuilder,
): SchemaTree | undefined {
  if (!geometryNode) {
    return missingColumn(report, columns, listing, {
      rule: 'geometry-present',
      column: 'geometry',
      aliases: ['geom', 'the_geom', 'wkt', 'shape', 'linestring'],
      howToAdd: 'Add the road shape as WKT text, e.g. LINESTRING (4.8952 52.3702, 4.8960 52.3710).',
    });
  }
  if (!isStringColumn(geometryNode)) {
    const type = describeType(geometryNode);
    const wkb = type.includes('WKB') || type === 'BYTE_ARRAY';
    report.add({
      rule: 'geometry-type',
      column: 'geometry',
      value: type,
      message:
        `"geometry" is ${type}; GEM needs WKT text in a string column.` +
        (wkb ? ' This looks like WKB/GeoParquet: convert with shapely.to_wkt() or GeoSeries.to_wkt().' : ''),
    });
    return undefined;
  }
  return geometryNode;
}

/** The largest slice validation asks for: the footer, or one column chunk of a row group. */
function maxSliceBytes(limits: ValidationLimits): number {
  return Math.max(limits.maxFooterBytes + 8, limits.maxRowGroupBytes);
}

interface RowPass {
  file: GuardedFile;
  layout: ParquetLayout;
  groups: RowGroupLayout[];
  read: SchemaTree[];
  checks: ColumnChecks;
  limits: ValidationLimits;
  report: ReportBuilder;
}

/**
 * Reads the checked columns once, checking every row; when the ids need more than one pass of the bounded id
 * index, reads the id column again per extra pass, checking only duplicates.
 */
async function checkRows(pass: RowPass): Promise<void> {
  const { checks, limits, report, layout } = pass;
  const passes = checks.id ? idPasses(layout.rowCount, limits.maxIdIndexBytes) : 1;
  const rows = new RowChecker(checks, limits, report, new IdIndex(0, passes));
  const reader = { ...pass, columns: pass.read, stopped: false };
  for await (const batch of readRowBatches(reader)) {
    for (let k = 0; k < batch.rows.length; k++) rows.check(batch.rows[k]!, batch.rowStart + k);
    report.checkedRows += batch.rows.length;
  }
  rows.addNotes();
  if (reader.stopped || !checks.id || passes === 1) return;
  for (let p = 1; p < passes; p++) {
    const ids = new IdIndex(p, passes);
    const idReader = { ...pass, columns: [checks.id], stopped: false };
    for await (const batch of readRowBatches(idReader)) {
      for (let k = 0; k < batch.rows.length; k++) {
        const id = batch.rows[k]!.id;
        if (isIdValue(id)) duplicateCheck(ids, id, batch.rowStart + k, report);
      }
    }
    if (idReader.stopped) return;
  }
  report.notes.push(
    `Ids were compared in ${passes} passes over the id column, to keep the duplicate check within ` +
      `${formatBytes(limits.maxIdIndexBytes)} of memory.`,
  );
}

function isIdValue(id: unknown): id is number | bigint | string {
  return typeof id === 'number' || typeof id === 'bigint' || (typeof id === 'string' && id.trim() !== '');
}

function duplicateCheck(
  ids: IdIndex,
  id: number | bigint | string,
  row: number,
  report: ReportBuilder,
): void {
  const first = ids.seen(id, row);
  if (first !== undefined) {
    report.add({
      row,
      column: 'id',
      rule: 'id-unique',
      value: truncateValue(id),
      message: `duplicate id; first used at row ${first}`,
    });
  }
}

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');

/** The row rules, applied to one decoded row at a time; counts what the notes report. */
class RowChecker {
  private navigableNulls = 0;
  private swapHints = 0;
  private stringIds = false;
  constructor(
    private readonly checks: ColumnChecks,
    private readonly limits: ValidationLimits,
    private readonly report: ReportBuilder,
    private readonly ids: IdIndex,
  ) {}

  check(record: Record<string, unknown>, row: number): void {
    let rowBytes = 0;
    if (this.checks.id) rowBytes += this.checkId(record.id, row);
    if (this.checks.geometry) rowBytes += this.checkGeometry(record.geometry, row);
    if (this.checks.navigable) {
      rowBytes += 1;
      if (record.is_navigable === null || record.is_navigable === undefined) this.navigableNulls++;
    }
    if (rowBytes > this.limits.maxRowBytes) {
      this.report.add({
        row,
        rule: 'row-size',
        message:
          `the row's id, geometry and is_navigable take ${formatBytes(rowBytes)}, more than the ` +
          `${formatBytes(this.limits.maxRowBytes)} a row may (${LIMIT_SETTINGS.maxRowBytes}); split the road into segments`,
      });
    }
  }

  /** Checks the id; returns its size in bytes. */
  private checkId(value: unknown, row: number): number {
    const id = value as number | bigint | string | null | undefined;
    if (id === null || id === undefined) {
      this.report.add({
        row,
        column: 'id',
        rule: 'id-not-null',
        message: 'id is null; every road needs an id',
      });
      return 0;
    }
    if (typeof id !== 'string') {
      duplicateCheck(this.ids, id, row, this.report);
      return 8;
    }
    this.stringIds = true;
    const bytes = utf8Bytes(id);
    if (this.tooLarge('id', bytes, row, id)) return bytes;
    if (id.trim() === '') {
      this.report.add({
        row,
        column: 'id',
        rule: 'id-not-null',
        message: 'id is an empty string',
        value: id,
      });
    } else {
      duplicateCheck(this.ids, id, row, this.report);
    }
    return bytes;
  }

  private tooLarge(column: string, bytes: number, row: number, value: string): boolean {
    if (bytes <= this.limits.maxValueBytes) return false;
    this.report.add({
      row,
      column,
      rule: 'value-size',
      value: truncateValue(value),
      message:
        `${column} is ${formatBytes(bytes)}, more than the ${formatBytes(this.limits.maxValueBytes)} a value may be ` +
        `(${LIMIT_SETTINGS.maxValueBytes})` +
        (column === 'geometry' ? '; split the road into segments' : '; use a short id'),
    });
    return true;
  }

  /** Checks the geometry; returns its size in bytes. */
  private checkGeometry(wkt: unknown, row: number): number {
    if (wkt === null || wkt === undefined) {
      this.report.add({ row, column: 'geometry', rule: 'geometry-not-null', message: 'geometry is null' });
      return 0;
    }
    const text = String(wkt);
    const bytes = utf8Bytes(text);
    if (this.tooLarge('geometry', bytes, row, text)) return bytes;
    const parsed = parseLineString(text);
    if ('error' in parsed) {
      this.report.add({
        row,
        column: 'geometry',
        rule: parsed.error.code === 'too-few-points' ? 'geometry-min-points' : 'geometry-wkt-linestring',
        message: parsed.error.message,
        value: truncateValue(text),
      });
      return bytes;
    }
    const bad = parsed.points.findIndex((p) => !inRange(p));
    if (bad < 0) return bytes;
    const [x, y] = parsed.points[bad]!;
    // If every pair would be in range with its numbers swapped, the writer put latitude first.
    const swapped = parsed.points.every(([lon, lat]) => inRange([lat, lon]));
    if (swapped) this.swapHints++;
    this.report.add({
      row,
      column: 'geometry',
      rule: 'geometry-coordinate-range',
      value: truncateValue(text),
      message:
        `point ${bad + 1} (${x} ${y}) is outside EPSG:4326 (lon −180..180, lat −90..90)` +
        (swapped ? '; it looks like latitude first: longitude must come first (x = lon, y = lat)' : ''),
    });
    return bytes;
  }

  addNotes(): void {
    const { notes } = this.report;
    if (this.navigableNulls > 0)
      notes.push(`${this.navigableNulls} rows have a null is_navigable: GEM treats them as NOT navigable.`);
    if (this.swapHints > 0) {
      notes.push(
        `${this.swapHints} geometries look like latitude/longitude swapped; WKT in EPSG:4326 is "lon lat" (x y).`,
      );
    }
    if (this.stringIds) {
      notes.push(
        'String ids are compared by a 64-bit hash to keep memory bounded: a reported duplicate is almost ' +
          'certainly real (a false one has a chance of about n²/2⁶⁵), but check it.',
      );
    }
  }
}
