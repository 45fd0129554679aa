/**
 * ROAD_MATCHING input validation (gem-api.md §6.1): one Parquet file, one road per row, with
 *   id            int32 | int64 | string, non-null, unique
 *   geometry      string, 2D WKT LINESTRING in EPSG:4326, longitude first, ≥ 2 points
 *   is_navigable  optional BOOLEAN (null = not navigable)
 * GEM stops at the first failed check hours after submission; this reports every problem up front.
 *
 * Reading is one row group at a time, only the three columns above, so memory is one row group's worth
 * of those columns plus the id index (see IdIndex).
 */
import type { AsyncBuffer, SchemaTree } from 'hyparquet';
import { loadHyparquet } from './hyparquet.js';
import { DEFAULT_MAX_PROBLEMS, ReportBuilder, truncateValue, type ValidationReport } from './report.js';
import {
  columnInfos,
  describeType,
  errorText,
  GuardedFile,
  NODE_COMPRESSORS,
  nearMiss,
  readMetadata,
  topLevelColumns,
} from './schema.js';
import { type LonLat, parseLineString } from './wkt.js';

export interface ValidateOptions {
  /** Problems listed in the report (all are counted). Default 100. */
  maxProblems?: number;
  /**
   * Up to this many rows, ids are remembered exactly; beyond it, long string ids are remembered as a
   * 64-bit hash to bound memory (see IdIndex). Default 5,000,000.
   */
  exactIdLimit?: number;
  /** Footer bytes read first; keep equal to the blob buffer's `footerBytes`. Default hyparquet's 512 KiB. */
  initialFetchSize?: number;
}

type IdKey = number | string;

/**
 * Remembers each id's first row to find duplicates. Memory is O(distinct ids): roughly 40–60 bytes per
 * numeric id and 60 + length bytes per string id in a V8 Map, i.e. ~0.5–1 GB at 10 million string ids.
 * In hashed mode a string id longer than 8 characters is kept as a 64-bit hash packed into a 4-character
 * string, capping its cost; the chance of a false "duplicate" is about n²/2⁶⁵ (≈3·10⁻⁶ at 10 million
 * rows), and the report notes that hashing was used.
 */
class IdIndex {
  private readonly firstRow = new Map<IdKey, number>();
  constructor(readonly hashed: boolean) {}

  key(id: number | bigint | string): IdKey {
    if (typeof id === 'number') return id;
    if (typeof id === 'bigint') {
      // Safe-range int64 ids as numbers (cheaper keys); the rest as decimal strings, which cannot collide
      // with a number key.
      return id >= BigInt(Number.MIN_SAFE_INTEGER) && id <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(id)
        : `${id}n`;
    }
    return this.hashed && id.length > 8 ? hash64(id) : `s${id}`;
  }

  /** Returns the first row that had the same id, or undefined (and remembers this one). */
  seen(id: number | bigint | string, row: number): number | undefined {
    const k = this.key(id);
    const first = this.firstRow.get(k);
    if (first === undefined) this.firstRow.set(k, row);
    return first;
  }
}

/** cyrb53's two 32-bit lanes kept whole: a 64-bit hash as four UTF-16 code units. */
function hash64(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  // '#' prefix keeps hashed keys apart from the 's'-prefixed exact ones.
  return `#${String.fromCharCode(h1 >>> 16, h1 & 0xffff, h2 >>> 16, h2 & 0xffff)}`;
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
  const report = new ReportBuilder('ROAD_MATCHING', options.maxProblems ?? DEFAULT_MAX_PROBLEMS);
  const guarded = new GuardedFile(file);
  const metadata = await readMetadata(guarded, report, options.initialFetchSize);
  if (!metadata) return report.build();

  report.rowCount = Number(metadata.num_rows);
  const columns = await topLevelColumns(metadata);
  report.columns = columnInfos(columns);
  const byName = new Map(columns.map((c) => [c.element.name, c]));
  const listing = columns.map((c) => c.element.name).join(', ') || '(none)';

  // Column-level rules: each failure disables the row checks that depend on it, not the others.
  const idNode = byName.get('id');
  let checkIds = false;
  if (!idNode) {
    const miss = nearMiss(columns, 'id', ['ids', 'road_id', 'segment_id', 'fid']);
    report.add({
      rule: 'id-present',
      column: 'id',
      message:
        `No "id" column (columns: ${listing}).` +
        (miss
          ? ` Rename "${miss}" to "id" (names are case-sensitive).`
          : ' Add a unique int32, int64 or string id per road.'),
    });
  } else if (!isAllowedIdType(idNode)) {
    report.add({
      rule: 'id-type',
      column: 'id',
      value: describeType(idNode),
      message: `"id" is ${describeType(idNode)}; GEM accepts int32, int64 or string (UTF-8) ids, e.g. pyarrow pa.int64() or pa.string().`,
    });
  } else {
    checkIds = true;
  }

  const geometryNode = byName.get('geometry');
  let checkGeometry = false;
  if (!geometryNode) {
    const miss = nearMiss(columns, 'geometry', ['geom', 'the_geom', 'wkt', 'shape', 'linestring']);
    report.add({
      rule: 'geometry-present',
      column: 'geometry',
      message:
        `No "geometry" column (columns: ${listing}).` +
        (miss
          ? ` Rename "${miss}" to "geometry" (names are case-sensitive).`
          : ' Add the road shape as WKT text, e.g. LINESTRING (4.8952 52.3702, 4.8960 52.3710).'),
    });
  } else if (!isStringColumn(geometryNode)) {
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
  } else {
    checkGeometry = true;
  }

  const navNode = byName.get('is_navigable');
  let checkNavigable = false;
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
    checkNavigable = true;
  }

  const ignored = columns
    .map((c) => c.element.name)
    .filter((n) => n !== 'id' && n !== 'geometry' && n !== 'is_navigable');
  if (ignored.length > 0) report.notes.push(`Columns GEM ignores: ${ignored.join(', ')}.`);
  if (checkIds) report.notes.push('Result files return "id" as a string, whatever its type here.');

  const read = [checkIds && 'id', checkGeometry && 'geometry', checkNavigable && 'is_navigable'].filter(
    (c): c is string => typeof c === 'string',
  );
  if (read.length === 0) return report.build();

  const exactIdLimit = options.exactIdLimit ?? 5_000_000;
  const ids = new IdIndex(report.rowCount > exactIdLimit);
  if (ids.hashed) {
    report.notes.push(
      `Long string ids were compared by 64-bit hash to bound memory (${report.rowCount} rows); ` +
        'a reported duplicate is almost certainly real, but check it.',
    );
  }
  let navigableNulls = 0;
  let swapHints = 0;

  const { parquetReadObjects } = await loadHyparquet();
  let groupStart = 0;
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const groupRows = Number(metadata.row_groups[g]!.num_rows);
    const rowStart = groupStart;
    groupStart += groupRows;
    if (groupRows === 0) continue;
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({
        file: guarded,
        metadata,
        columns: read,
        rowStart,
        rowEnd: rowStart + groupRows,
        compressors: NODE_COMPRESSORS,
      });
    } catch (err) {
      guarded.rethrowIo();
      report.add({
        rule: 'parquet-readable',
        message:
          `Row group ${g} (rows ${rowStart}–${rowStart + groupRows - 1}) cannot be decoded: ${errorText(err)}. ` +
          'Re-export the file (SNAPPY, GZIP or ZSTD compression); later rows were not checked.',
      });
      break;
    }

    for (let k = 0; k < rows.length; k++) {
      const row = rowStart + k;
      const record = rows[k]!;
      if (checkIds) {
        const id = record.id as number | bigint | string | null | undefined;
        if (id === null || id === undefined) {
          report.add({
            row,
            column: 'id',
            rule: 'id-not-null',
            message: 'id is null; every road needs an id',
          });
        } else if (typeof id === 'string' && id.trim() === '') {
          report.add({ row, column: 'id', rule: 'id-not-null', message: 'id is an empty string', value: id });
        } else {
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
      }
      if (checkGeometry) {
        const wkt = record.geometry;
        if (wkt === null || wkt === undefined) {
          report.add({ row, column: 'geometry', rule: 'geometry-not-null', message: 'geometry is null' });
        } else {
          const text = String(wkt);
          const parsed = parseLineString(text);
          if ('error' in parsed) {
            report.add({
              row,
              column: 'geometry',
              rule:
                parsed.error.code === 'too-few-points' ? 'geometry-min-points' : 'geometry-wkt-linestring',
              message: parsed.error.message,
              value: truncateValue(text),
            });
          } else {
            const bad = parsed.points.findIndex((p) => !inRange(p));
            if (bad >= 0) {
              const [x, y] = parsed.points[bad]!;
              // If every pair would be in range with its numbers swapped, the writer put latitude first.
              const swapped = parsed.points.every(([lon, lat]) => inRange([lat, lon]));
              if (swapped) swapHints++;
              report.add({
                row,
                column: 'geometry',
                rule: 'geometry-coordinate-range',
                value: truncateValue(text),
                message:
                  `point ${bad + 1} (${x} ${y}) is outside EPSG:4326 (lon −180..180, lat −90..90)` +
                  (swapped
                    ? '; it looks like latitude first: longitude must come first (x = lon, y = lat)'
                    : ''),
              });
            }
          }
        }
      }
      if (checkNavigable && (record.is_navigable === null || record.is_navigable === undefined))
        navigableNulls++;
    }
    report.checkedRows += rows.length;
  }

  if (navigableNulls > 0) {
    report.notes.push(`${navigableNulls} rows have a null is_navigable: GEM treats them as NOT navigable.`);
  }
  if (swapHints > 0) {
    report.notes.push(
      `${swapHints} geometries look like latitude/longitude swapped; WKT in EPSG:4326 is "lon lat" (x y).`,
    );
  }
  return report.build();
}
