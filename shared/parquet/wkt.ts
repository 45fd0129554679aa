/**
 * A small, strict parser for the one WKT form GEM accepts: a 2D `LINESTRING (x y, x y, …)`.
 *
 * Strict on purpose: anything GEM would reject (other geometry types, Z/M, EWKT prefixes, doubled
 * parentheses, NaN) must be caught here, before hours of queueing end in a FAILED job.
 */

export type LonLat = [lon: number, lat: number];

export type LineStringErrorCode =
  /** Empty text, or not WKT at all. */
  | 'syntax'
  /** Valid-looking WKT of another type (POINT, MULTILINESTRING, …). */
  | 'wrong-type'
  /** `LINESTRING Z/M/ZM`, or a coordinate with 3 or 4 numbers. */
  | 'not-2d'
  /** `LINESTRING EMPTY` or `LINESTRING ()`. */
  | 'empty'
  /** Parsed, but fewer than 2 points. */
  | 'too-few-points';

export interface LineStringError {
  code: LineStringErrorCode;
  message: string;
}

export type LineStringParse = { points: LonLat[] } | { error: LineStringError };

const NUMBER = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const KEYWORD = /[A-Za-z]+/y;
const GEOMETRY_TYPES = new Set([
  'POINT',
  'MULTIPOINT',
  'MULTILINESTRING',
  'POLYGON',
  'MULTIPOLYGON',
  'GEOMETRYCOLLECTION',
  'LINEARRING',
  'CIRCULARSTRING',
  'COMPOUNDCURVE',
  'TRIANGLE',
  'TIN',
  'POLYHEDRALSURFACE',
]);

const fail = (code: LineStringErrorCode, message: string): LineStringParse => ({ error: { code, message } });

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** A position in the text; the parse steps below move it forward. */
class Scanner {
  at = 0;
  constructor(readonly text: string) {}
  skipSpace(): void {
    while (this.at < this.text.length && isSpace(this.text.charCodeAt(this.at))) this.at++;
  }
  /** The match of a sticky pattern at the current position (the position does not move). */
  peek(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.at;
    return pattern.exec(this.text)?.[0];
  }
  get atEnd(): boolean {
    return this.at === this.text.length;
  }
  /** Up to 12 characters from here, to quote in a message. */
  near(): string {
    return this.text.slice(this.at, this.at + 12);
  }
}

/** Parses `LINESTRING (x y, …)` (keyword case-insensitive, 2D, ≥ 2 points) into [lon, lat] pairs. */
export function parseLineString(wkt: string): LineStringParse {
  const scanner = new Scanner(wkt);
  const refused = openLineString(scanner);
  if (refused) return refused;
  const points: LonLat[] = [];
  const unreadable = readPoints(scanner, points);
  if (unreadable) return unreadable;
  scanner.skipSpace();
  if (!scanner.atEnd) return fail('syntax', `unexpected text after the closing ")": "${scanner.near()}"`);
  if (points.length < 2) {
    return fail('too-few-points', `the LINESTRING has ${points.length} point; a road needs at least 2`);
  }
  return { points };
}

/** Reads up to and past the opening `(` of a 2D LINESTRING; returns the refusal for anything else. */
function openLineString(scanner: Scanner): LineStringParse | undefined {
  scanner.skipSpace();
  if (scanner.atEnd)
    return fail('syntax', 'the geometry is empty text; expected LINESTRING (lon lat, lon lat, …)');
  if (/^SRID=/i.test(scanner.text.slice(scanner.at, scanner.at + 5))) {
    return fail('syntax', 'EWKT "SRID=…;" prefix found; GEM takes plain WKT in EPSG:4326, remove the prefix');
  }
  const keyword = scanner.peek(KEYWORD);
  if (!keyword) return fail('syntax', 'not WKT: expected the keyword LINESTRING');
  const upper = keyword.toUpperCase();
  if (upper !== 'LINESTRING') {
    if (GEOMETRY_TYPES.has(upper)) {
      return fail('wrong-type', `the geometry is a ${upper}; GEM matches roads given as LINESTRING only`);
    }
    return fail('syntax', `not WKT: expected the keyword LINESTRING, found "${keyword}"`);
  }
  scanner.at += keyword.length;
  scanner.skipSpace();

  const modifier = scanner.peek(KEYWORD);
  if (modifier) {
    const m = modifier.toUpperCase();
    if (m === 'EMPTY') return fail('empty', 'LINESTRING EMPTY has no points; a road needs at least 2');
    if (m === 'Z' || m === 'M' || m === 'ZM') {
      return fail(
        'not-2d',
        `LINESTRING ${m} has extra dimensions; GEM takes 2D WKT (lon lat), drop the ${m} values`,
      );
    }
    return fail('syntax', `unexpected "${modifier}" after LINESTRING`);
  }
  const { text } = scanner;
  if (text.charCodeAt(scanner.at) !== 0x28 /* ( */) return fail('syntax', 'expected "(" after LINESTRING');
  scanner.at++;
  scanner.skipSpace();
  if (text.charCodeAt(scanner.at) === 0x28) {
    return fail('syntax', 'extra parentheses: write LINESTRING (lon lat, lon lat), not LINESTRING ((…))');
  }
  if (text.charCodeAt(scanner.at) === 0x29 /* ) */)
    return fail('empty', 'LINESTRING () has no points; a road needs at least 2');
  return undefined;
}

/** Reads `lon lat, lon lat, …)` into `points`, up to and past the closing `)`; returns the refusal if any. */
function readPoints(scanner: Scanner, points: LonLat[]): LineStringParse | undefined {
  for (;;) {
    const coord = readNumbers(scanner, points.length + 1);
    if (!Array.isArray(coord)) return coord;
    if (coord.length === 0) {
      const near = scanner.near();
      return fail(
        'syntax',
        /^nan|^inf/i.test(near)
          ? `point ${points.length + 1}: ${near.split(/[\s,)]/)[0]} is not a coordinate`
          : `point ${points.length + 1}: expected "lon lat", found "${near}"`,
      );
    }
    if (coord.length === 1)
      return fail('syntax', `point ${points.length + 1}: has one number; expected "lon lat"`);
    if (coord.length > 2) {
      return fail(
        'not-2d',
        `point ${points.length + 1} has ${coord.length} numbers; GEM takes 2D "lon lat" only`,
      );
    }
    points.push([coord[0]!, coord[1]!]);
    scanner.skipSpace();
    const c = scanner.text[scanner.at];
    if (c === ',' || c === ')') scanner.at++;
    if (c === ',') continue;
    if (c === ')') return undefined;
    return fail(
      'syntax',
      c === undefined
        ? 'missing ")" at the end'
        : `point ${points.length}: unexpected "${c}" (expected "," or ")")`,
    );
  }
}

/** The numbers of one point, separated by white space; a number run into other text is refused. */
function readNumbers(scanner: Scanner, point: number): number[] | LineStringParse {
  const { text } = scanner;
  const coord: number[] = [];
  for (;;) {
    scanner.skipSpace();
    const number = scanner.peek(NUMBER);
    if (number === undefined) return coord;
    coord.push(Number(number));
    scanner.at = NUMBER.lastIndex;
    const i = scanner.at;
    if (i < text.length && !isSpace(text.charCodeAt(i)) && text[i] !== ',' && text[i] !== ')') {
      return fail('syntax', `point ${point}: malformed number near "${scanner.near()}"`);
    }
  }
}

const EARTH_RADIUS_KM = 6371.0088; // IUGG mean radius

/** Great-circle length of a polyline in kilometres (haversine), for size and time estimates. */
export function lineLengthKm(points: readonly LonLat[]): number {
  let total = 0;
  const rad = Math.PI / 180;
  for (let k = 1; k < points.length; k++) {
    const [lon1, lat1] = points[k - 1]!;
    const [lon2, lat2] = points[k]!;
    const dLat = (lat2 - lat1) * rad;
    const dLon = (lon2 - lon1) * rad;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
    total += 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
  }
  return total;
}
