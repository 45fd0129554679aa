/**
 * One source feature to GEM rows, as pure functions: the geometry checked, exploded into lines, stripped of
 * Z/M, reprojected to WGS 84 lon/lat and written as GEM's `LINESTRING (lon lat, …)`; the GEM id chosen; the
 * `is_navigable` value mapped. Anything that stops a feature from reaching GEM comes back as a finding that
 * names the feature (its index and its own id) and says what to change; the caller collects findings into
 * the validation report and writes rows with `gemParquet.ts`.
 *
 * Uniqueness of GEM ids is the caller's job, since it spans features: ids here are deterministic from the
 * feature, so a duplicate means the source (or `idColumn`) repeats a value. The caller can keep a set of
 * ids seen while the file is small, or, bounded by memory, write `id` + `source_index` to a scratch file
 * and sort it (or let DuckDB's `GROUP BY id HAVING count(*) > 1` do so) before staging.
 */
import type { Projection } from './crs.js';
import { countVertices } from './geometry.js';
import type { FormatLimits, PropertyValue, SourceFeature } from './types.js';

/** One row of GEM-ready Parquet, with the columns that map it back to its source feature. */
export interface GemRow {
  id: string;
  /** `LINESTRING (lon lat, …)`, EPSG:4326, 2D. */
  wkt: string;
  /** Present only when a `navigableColumn` was given; null = unknown (GEM treats it as not navigable). */
  isNavigable?: boolean | null;
  /** The source feature's `index`. */
  sourceIndex: number;
  /** The part of a MultiLineString (0-based); 0 for a LineString. */
  part: number;
}

/** Why a feature (or one part of it) does not reach GEM, and what to do about it. */
export interface FeatureFinding {
  rule: string;
  message: string;
  remedy: string;
  /** The source feature's index and its own id (null when the format has none). */
  index: number;
  id: string | number | null;
  /** The MultiLineString part concerned, when the finding is about one part. */
  part?: number;
}

export interface NormaliseOptions {
  projection: Projection;
  limits: Pick<FormatLimits, 'maxVertices'>;
  /** The attribute to take GEM ids from; default the source's own feature id, else the index. */
  idColumn?: string;
  /** The attribute to take `is_navigable` from; default none (the column is not written). */
  navigableColumn?: string;
}

export interface NormalisedFeature {
  rows: GemRow[];
  findings: FeatureFinding[];
}

/**
 * Decimals of the lon/lat written to GEM: 8 digits are 1.1 mm at the equator, so rounding adds at most
 * 5e-9° — well inside the 1e-7° the reprojection is held to, and far below GPS or map accuracy — while
 * keeping a vertex to about 24 characters. Trailing zeros are dropped; no exponent notation ever appears
 * (`toFixed` never uses it below 1e21, and coordinates are range-checked before formatting).
 */
export const WKT_DECIMALS = 8;

function formatCoordinate(n: number): string {
  const fixed = n.toFixed(WKT_DECIMALS);
  let end = fixed.length;
  while (fixed.charCodeAt(end - 1) === 0x30 /* 0 */) end--;
  if (fixed.charCodeAt(end - 1) === 0x2e /* . */) end--;
  const text = fixed.slice(0, end);
  return text === '-0' ? '0' : text;
}

// ---- Ids ----

type IdResult = { id: string } | { finding: Omit<FeatureFinding, 'index' | 'id'> };

function idText(value: PropertyValue | undefined): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'bigint') return value.toString();
  return undefined;
}

/**
 * The GEM id of a feature: the `idColumn` attribute when that option is set, else the source's own feature
 * id (GeoJSON `id`, GeoPackage `fid`), else the feature's index. Parts of an exploded MultiLineString get
 * `#<part>` appended (see `partId`).
 */
export function gemIdFor(feature: SourceFeature, idColumn?: string): IdResult {
  if (idColumn !== undefined) {
    if (!Object.hasOwn(feature.properties, idColumn)) {
      return {
        finding: {
          rule: 'id-missing',
          message: `feature ${feature.index} has no attribute "${idColumn}" (the idColumn option).`,
          remedy: `Give every feature a "${idColumn}" value, or set idColumn to an attribute every feature has.`,
        },
      };
    }
    const id = idText(feature.properties[idColumn]);
    if (id === undefined) {
      return {
        finding: {
          rule: 'id-missing',
          message: `feature ${feature.index}: "${idColumn}" (the idColumn option) is empty or not a string or number.`,
          remedy: `Fill in "${idColumn}" for this feature, or choose another idColumn.`,
        },
      };
    }
    return { id };
  }
  const own = feature.id === null ? undefined : idText(feature.id);
  return { id: own ?? String(feature.index) };
}

/** The GEM id of one part: the feature's id, with `#<part>` when the feature was exploded into several rows. */
export function partId(id: string, part: number, partCount: number): string {
  return partCount > 1 ? `${id}#${part}` : id;
}

// ---- is_navigable ----

const TRUE_TEXT = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_TEXT = new Set(['false', 'f', 'no', 'n', '0']);

/**
 * The documented `is_navigable` mapping: booleans as they are; numbers 1 → true, 0 → false; text
 * `true/t/yes/y/1` → true and `false/f/no/n/0` → false (any case, trimmed); null, absent or empty text →
 * null (GEM reads null as not navigable). Anything else is `undefined`: a finding.
 */
export function navigableValue(value: PropertyValue | undefined): boolean | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (value === 1 || value === 1n) return true;
    if (value === 0 || value === 0n) return false;
    return undefined;
  }
  if (typeof value === 'string') {
    const t = value.trim().toLowerCase();
    if (t === '') return null;
    if (TRUE_TEXT.has(t)) return true;
    if (FALSE_TEXT.has(t)) return false;
  }
  return undefined;
}

// ---- Geometry ----

type LineResult = { wkt: string } | { rule: string; message: string; remedy: string };

/** One line (a LineString or a MultiLineString part) as GEM WKT, reprojected; or why it cannot be. */
export function lineToWkt(line: readonly (readonly number[])[], projection: Projection): LineResult {
  if (line.length < 2) {
    return {
      rule: 'geometry-min-points',
      message: `the line has ${line.length} point${line.length === 1 ? '' : 's'}; a road needs at least 2.`,
      remedy: 'Remove the feature or give it at least two distinct points.',
    };
  }
  let text = 'LINESTRING (';
  for (let i = 0; i < line.length; i++) {
    const p = line[i]!;
    const [lon, lat] = projection.isLonLat ? [p[0]!, p[1]!] : projection.toLonLat(p[0]!, p[1]!);
    if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90)) {
      const shown = `${formatShown(p[0])} ${formatShown(p[1])}`;
      return {
        rule: 'geometry-coordinate-range',
        message:
          `point ${i + 1} (${shown}) is not a lon/lat position after reprojection from ${projection.label}` +
          (Number.isFinite(lon) && Number.isFinite(lat)
            ? ` (it became ${formatShown(lon)} ${formatShown(lat)}).`
            : '.'),
        remedy: projection.isLonLat
          ? 'Check the coordinate order (longitude first) and the CRS: if the data is projected, set sourceCrs.'
          : 'Check that sourceCrs (or the CRS the file declares) is the one the coordinates are really in.',
      };
    }
    if (i > 0) text += ', ';
    text += `${formatCoordinate(lon)} ${formatCoordinate(lat)}`;
  }
  return { wkt: `${text})` };
}

function formatShown(n: number | undefined): string {
  return n === undefined ? '?' : Number.isFinite(n) ? String(Math.round(n * 1e6) / 1e6) : String(n);
}

const NOT_A_LINE_REMEDY =
  'GEM matches roads drawn as lines: export the road centre lines as LineString or MultiLineString ' +
  '(e.g. convert polygons to their boundaries), or remove features of other types.';

/** The lines of a geometry, or a finding when it is not a line geometry. */
function linesOf(feature: SourceFeature): Position2[] | Omit<FeatureFinding, 'index' | 'id'> {
  const g = feature.geometry;
  if (!g) {
    return {
      rule: 'geometry-missing',
      message: `feature ${feature.index} has no geometry.`,
      remedy: 'Give the feature a LineString geometry, or remove it.',
    };
  }
  if (g.type === 'LineString') return [g.coordinates];
  if (g.type === 'MultiLineString') {
    if (g.coordinates.length > 0) return g.coordinates;
    return {
      rule: 'geometry-missing',
      message: `feature ${feature.index} is a MultiLineString with no parts.`,
      remedy: 'Give the feature at least one line, or remove it.',
    };
  }
  return {
    rule: 'geometry-type',
    message: `feature ${feature.index} is a ${g.type}; GEM matches LineString and MultiLineString roads.`,
    remedy: NOT_A_LINE_REMEDY,
  };
}

type Position2 = readonly (readonly number[])[];

/**
 * One feature to GEM rows: LineString → one row; MultiLineString → one row per part (`part` kept, ids
 * suffixed); anything else, or a part that cannot be written, → a finding. A MultiLineString with a bad
 * part still yields its good parts, so the report names exactly the part to fix.
 */
export function normaliseFeature(feature: SourceFeature, options: NormaliseOptions): NormalisedFeature {
  const named = (f: Omit<FeatureFinding, 'index' | 'id'>): FeatureFinding => ({
    ...f,
    index: feature.index,
    id: feature.id,
  });
  if (feature.problem) {
    return {
      rows: [],
      findings: [
        named({
          rule: feature.problem.rule,
          message: `feature ${feature.index}: ${feature.problem.message}`,
          remedy: 'Fix or remove this feature in the source file.',
        }),
      ],
    };
  }
  const lines = linesOf(feature);
  if (!Array.isArray(lines)) return { rows: [], findings: [named(lines)] };
  const vertices = countVertices(feature.geometry!);
  if (vertices > options.limits.maxVertices) {
    return {
      rows: [],
      findings: [
        named({
          rule: 'geometry-too-many-vertices',
          message: `feature ${feature.index} has ${vertices} vertices; at most ${options.limits.maxVertices} are accepted.`,
          remedy: 'Split the road into shorter segments, or simplify its geometry.',
        }),
      ],
    };
  }
  const idResult = gemIdFor(feature, options.idColumn);
  if ('finding' in idResult) return { rows: [], findings: [named(idResult.finding)] };

  let isNavigable: boolean | null | undefined;
  const findings: FeatureFinding[] = [];
  if (options.navigableColumn !== undefined) {
    isNavigable = navigableValue(feature.properties[options.navigableColumn]);
    if (isNavigable === undefined) {
      findings.push(
        named({
          rule: 'is-navigable-value',
          message: `feature ${feature.index}: "${options.navigableColumn}" (the navigableColumn option) has a value that is not true/false, yes/no or 1/0.`,
          remedy: 'Use true/false (or yes/no, 1/0, or empty for unknown) in that attribute.',
        }),
      );
      return { rows: [], findings };
    }
  }
  const rows: GemRow[] = [];
  for (let part = 0; part < lines.length; part++) {
    const result = lineToWkt(lines[part]!, options.projection);
    if ('rule' in result) {
      const where = lines.length > 1 ? ` part ${part}` : '';
      findings.push({
        ...named({ ...result, message: `feature ${feature.index}${where}: ${result.message}` }),
        ...(lines.length > 1 ? { part } : {}),
      });
      continue;
    }
    const row: GemRow = {
      id: partId(idResult.id, part, lines.length),
      wkt: result.wkt,
      sourceIndex: feature.index,
      part,
    };
    if (options.navigableColumn !== undefined) row.isNavigable = isNavigable ?? null;
    rows.push(row);
  }
  return { rows, findings };
}
