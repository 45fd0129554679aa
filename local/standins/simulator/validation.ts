// GEM ROAD_MATCHING input checks, run in the documented order when a job starts; the first failure
// ends the job FAILED with a message naming the check and an example row. TomTom's own list of checks
// and messages is cut off in the docs, so these mirror the documented data rules (gem-api.md §6.1).
import { parquetMetadata, parquetReadObjects, parquetSchema, type SchemaElement } from 'hyparquet';

export type RoadCheck =
  | 'parquet-readable'
  | 'id-column-present'
  | 'geometry-column-present'
  | 'id-type'
  | 'id-unique'
  | 'geometry-linestring'
  | 'is-navigable-boolean';

/** In the order GEM runs them. */
export const ROAD_CHECKS: readonly RoadCheck[] = [
  'parquet-readable',
  'id-column-present',
  'geometry-column-present',
  'id-type',
  'id-unique',
  'geometry-linestring',
  'is-navigable-boolean',
];

export interface Road {
  id: string;
  coordinates: [number, number][];
  navigable: boolean;
}

export type ValidationResult<T> =
  | { ok: true; rows: T[] }
  | { ok: false; check: string; reason: string; rowNumber?: number; example?: Record<string, unknown> };

/** The job's FAILED `message`: the check, the reason, and an example row when one is to blame. */
export function failureMessage(f: Extract<ValidationResult<unknown>, { ok: false }>): string {
  let msg = `Input validation failed at check '${f.check}': ${f.reason}`;
  if (f.rowNumber !== undefined) msg += ` Example: row ${f.rowNumber} ${describeRow(f.example ?? {})}.`;
  return msg;
}

function describeRow(row: Record<string, unknown>): string {
  const parts = Object.entries(row).map(([k, v]) => {
    let text = typeof v === 'bigint' ? v.toString() : (JSON.stringify(v) ?? String(v));
    if (text.length > 80) text = `${text.slice(0, 77)}...`;
    return `${k}=${text}`;
  });
  return `{${parts.join(', ')}}`;
}

/** Copy into a standalone ArrayBuffer (hyparquet reads an ArrayBuffer-like "AsyncBuffer"). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(out).set(bytes);
  return out;
}

function physicalType(el: SchemaElement): string {
  if (el.num_children) return 'group';
  const logical = el.logical_type?.type;
  if (el.type === 'BYTE_ARRAY' && (el.converted_type === 'UTF8' || logical === 'STRING')) return 'string';
  if (el.type === 'INT32' && (el.converted_type === undefined || logical === 'INTEGER')) return 'int32';
  if (el.type === 'INT64' && (el.converted_type === undefined || logical === 'INTEGER')) return 'int64';
  return [el.type?.toLowerCase() ?? 'unknown', el.converted_type ?? logical].filter(Boolean).join('/');
}

export type LineParse =
  | { ok: true; coordinates: [number, number][] }
  | {
      ok: false;
      reason: string;
      kind: 'not-string' | 'not-linestring' | 'malformed' | 'too-few-points' | 'out-of-range';
    };

/** Parse one WKT LINESTRING (lon lat pairs, optional Z/M ordinates); reasons name the exact problem. */
export function parseLineString(value: unknown): LineParse {
  if (typeof value !== 'string') {
    return {
      ok: false,
      kind: 'not-string',
      reason:
        value === null || value === undefined
          ? 'geometry is null; it must be WKT text'
          : 'geometry must be WKT text (a string), not binary or another type',
    };
  }
  const m = /^\s*([A-Za-z]+)\s*(?:ZM|Z|M)?\s*\((.*)\)\s*$/s.exec(value);
  const type = m?.[1]?.toUpperCase() ?? /^\s*([A-Za-z]+)/.exec(value)?.[1]?.toUpperCase();
  if (type !== 'LINESTRING') {
    return {
      ok: false,
      kind: 'not-linestring',
      reason: `geometry must be a WKT LINESTRING, got ${type ?? 'no geometry type'}`,
    };
  }
  if (!m) return { ok: false, kind: 'malformed', reason: 'geometry is not well-formed WKT' };
  const inner = m[2]!;
  if (/[()]/.test(inner)) {
    return {
      ok: false,
      kind: 'malformed',
      reason: 'LINESTRING coordinates must not be wrapped in extra parentheses',
    };
  }
  const coordinates: [number, number][] = [];
  for (const pair of inner.split(',')) {
    const nums = pair.trim().split(/\s+/);
    if (
      nums.length < 2 ||
      nums.length > 4 ||
      nums.some((n) => !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(n))
    ) {
      return { ok: false, kind: 'malformed', reason: `'${pair.trim()}' is not a "longitude latitude" pair` };
    }
    const lon = Number(nums[0]);
    const lat = Number(nums[1]);
    if (lon < -180 || lon > 180 || lat < -90 || lat > 90) {
      return {
        ok: false,
        kind: 'out-of-range',
        reason: `coordinate (${nums[0]} ${nums[1]}) is out of range; expected longitude first in -180..180 and latitude in -90..90 (WGS84)`,
      };
    }
    coordinates.push([lon, lat]);
  }
  if (coordinates.length < 2) {
    return {
      ok: false,
      kind: 'too-few-points',
      reason: `a LINESTRING needs at least 2 points, this one has ${coordinates.length}`,
    };
  }
  return { ok: true, coordinates };
}

const readable = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** GEM's first check, shared by both job types: the file must be readable Parquet. */
function readSchema(
  file: ArrayBuffer,
): { ok: true; schema: SchemaElement[] } | { ok: false; check: 'parquet-readable'; reason: string } {
  try {
    return { ok: true, schema: parquetMetadata(file).schema };
  } catch (e) {
    return {
      ok: false,
      check: 'parquet-readable',
      reason: `the file is not a readable Parquet file (${readable(e)}).`,
    };
  }
}

type Failure = Extract<ValidationResult<unknown>, { ok: false }>;
type Row = Record<string, unknown>;
/** The failing row's values of the columns read, for the failure message. */
type Example = (rowIndex: number) => Row;

/** Runs the ROAD_MATCHING checks in order over a whole file. */
export async function validateRoadMatchingInput(bytes: Uint8Array): Promise<ValidationResult<Road>> {
  const file = toArrayBuffer(bytes);
  const read = readSchema(file);
  if (!read.ok) return read;
  const columns = roadColumns(read.schema);
  if (!columns.ok) return columns;
  const navColumn = columns.byName.get('is_navigable');
  const wanted = navColumn ? ['id', 'geometry', 'is_navigable'] : ['id', 'geometry'];
  const data = await readRows(file, wanted);
  if (!data.ok) return data;
  const { rows } = data;
  const example: Example = (i) => Object.fromEntries(wanted.map((c) => [c, rows[i]![c]]));

  const duplicate = checkIdsSetAndUnique(rows, example);
  if (duplicate) return duplicate;
  const lines = parseGeometries(rows, example);
  if (!lines.ok) return lines;
  const navigable = navColumn && checkNavigableBoolean(navColumn, rows, example);
  if (navigable) return navigable;

  return {
    ok: true,
    rows: rows.map((r, i) => ({
      id: String(r.id),
      coordinates: lines.coordinates[i]!,
      // Column missing → every road is navigable; a null in a present column → not navigable (docs).
      navigable: navColumn ? r.is_navigable === true : true,
    })),
  };
}

/** The top-level columns by name, once `id` and `geometry` are there and `id` has a type GEM accepts. */
function roadColumns(schema: SchemaElement[]): { ok: true; byName: Map<string, SchemaElement> } | Failure {
  const columns = new Map(parquetSchema({ schema }).children.map((c) => [c.element.name, c.element]));
  const found = [...columns.keys()].join(', ') || 'none';
  if (!columns.has('id')) {
    return {
      ok: false,
      check: 'id-column-present',
      reason: `required column 'id' is missing (columns found: ${found}).`,
    };
  }
  if (!columns.has('geometry')) {
    return {
      ok: false,
      check: 'geometry-column-present',
      reason: `required column 'geometry' is missing (columns found: ${found}).`,
    };
  }
  const idType = physicalType(columns.get('id')!);
  if (!['int32', 'int64', 'string'].includes(idType)) {
    return {
      ok: false,
      check: 'id-type',
      reason: `column 'id' has type ${idType}; expected int32, int64 or string.`,
    };
  }
  return { ok: true, byName: columns };
}

/** The `wanted` columns of every row; unreadable data pages fail the readable-Parquet check. */
async function readRows(file: ArrayBuffer, wanted: string[]): Promise<{ ok: true; rows: Row[] } | Failure> {
  try {
    return { ok: true, rows: await parquetReadObjects({ file, columns: wanted, rowFormat: 'object' }) };
  } catch (e) {
    return {
      ok: false,
      check: 'parquet-readable',
      reason: `the file's data pages cannot be read (${readable(e)}).`,
    };
  }
}

/** Every row has an id, and no id appears twice (the second row is the one to blame). */
function checkIdsSetAndUnique(rows: Row[], example: Example): Failure | undefined {
  const firstRowOf = new Map<string, number>();
  for (let i = 0; i < rows.length; i++) {
    const id = rows[i]!.id;
    if (id === null || id === undefined || id === '') {
      return {
        ok: false,
        check: 'id-unique',
        reason: `'id' must be set on every row; row ${i + 1} has none.`,
        rowNumber: i + 1,
        example: example(i),
      };
    }
    const key = String(id);
    const first = firstRowOf.get(key);
    if (first !== undefined) {
      return {
        ok: false,
        check: 'id-unique',
        reason: `'id' values must be unique; ${key} appears in rows ${first + 1} and ${i + 1}.`,
        rowNumber: i + 1,
        example: example(i),
      };
    }
    firstRowOf.set(key, i);
  }
  return undefined;
}

/** Every row's geometry as coordinates, or the first row whose geometry is not a valid LINESTRING. */
function parseGeometries(
  rows: Row[],
  example: Example,
): { ok: true; coordinates: [number, number][][] } | Failure {
  const coordinates: [number, number][][] = [];
  for (let i = 0; i < rows.length; i++) {
    const parsed = parseLineString(rows[i]!.geometry);
    if (!parsed.ok) {
      return {
        ok: false,
        check: 'geometry-linestring',
        reason: `${parsed.reason}.`,
        rowNumber: i + 1,
        example: example(i),
      };
    }
    coordinates.push(parsed.coordinates);
  }
  return { ok: true, coordinates };
}

/** A present `is_navigable` column must be boolean; the example is its first non-null row. */
function checkNavigableBoolean(navColumn: SchemaElement, rows: Row[], example: Example): Failure | undefined {
  const navType = navColumn.num_children ? 'group' : (navColumn.type?.toLowerCase() ?? 'unknown');
  if (navType === 'boolean') return undefined;
  const i = rows.findIndex((r) => r.is_navigable !== null && r.is_navigable !== undefined);
  return {
    ok: false,
    check: 'is-navigable-boolean',
    reason: `column 'is_navigable' must be boolean; found type ${physicalType(navColumn)}.`,
    ...(i >= 0 ? { rowNumber: i + 1, example: example(i) } : {}),
  };
}

export interface Trace {
  id: string;
}

/** LANE_LEVEL_MATCHING: a structural check only (Parquet readable, `id` and `points` present). */
export async function validateLaneLevelInput(bytes: Uint8Array): Promise<ValidationResult<Trace>> {
  const file = toArrayBuffer(bytes);
  const read = readSchema(file);
  if (!read.ok) return read;
  const schema = read.schema;
  const names = parquetSchema({ schema }).children.map((c) => c.element.name);
  for (const col of ['id', 'points']) {
    if (!names.includes(col)) {
      return {
        ok: false,
        check: `${col}-column-present`,
        reason: `required column '${col}' is missing (columns found: ${names.join(', ') || 'none'}).`,
      };
    }
  }
  const rows = await parquetReadObjects({ file, columns: ['id'], rowFormat: 'object' });
  return { ok: true, rows: rows.map((r) => ({ id: String(r.id) })) };
}
