/**
 * Geometry codecs: WKT and WKB (ISO and EWKB) to the GeoJSON-shaped `Geometry` of `types.ts` and back,
 * through `wkx`, which reads and writes every OGC simple-feature type with Z, M and ZM. The project's own
 * `shared/parquet/wkt.ts` stays the strict checker of GEM's single form (a 2D LINESTRING); user files carry
 * MULTILINESTRING Z, LINESTRING M, POINT and the rest, which need a complete codec. hyparquet's own WKB
 * decoder is not used for user data: it reads XYM as if M were Z, and one bad value fails a whole row group
 * instead of one feature.
 *
 * Positions follow `types.ts`: `[x, y]`, `[x, y, z]`, `[x, y, z, m]`, and XYM as `[x, y, NaN, m]`.
 * Decoding is bounded by the bytes given: wkx reads counts as it goes and fails on the first read past the
 * end, so a claimed count of 4 billion points costs no more than the value's real length.
 */
import * as wkx from 'wkx';
import type { Geometry, Position } from './types.js';

type WkxPoint = wkx.Point;

const finite = (n: unknown): boolean => typeof n === 'number' && Number.isFinite(n);

/**
 * wkx's WKT parser is lenient: a word where a number belongs (`1 a`, `oops`, `NaN`) comes back as a missing
 * or NaN coordinate instead of an error. Every coordinate the dimensions call for must be a finite number.
 */
function toPosition(p: WkxPoint): Position {
  if (!finite(p.x) || !finite(p.y) || (p.hasZ && !finite(p.z)) || (p.hasM && !finite(p.m))) {
    throw new Error('a coordinate is not a number');
  }
  if (p.hasZ && p.hasM) return [p.x, p.y, p.z, p.m];
  if (p.hasZ) return [p.x, p.y, p.z];
  if (p.hasM) return [p.x, p.y, Number.NaN, p.m];
  return [p.x, p.y];
}

const ring = (points: WkxPoint[]): Position[] => points.map(toPosition);

function fromWkx(g: wkx.Geometry): Geometry | null {
  if (g instanceof wkx.Point) {
    return g.x === undefined || Number.isNaN(g.x) ? null : { type: 'Point', coordinates: toPosition(g) };
  }
  if (g instanceof wkx.LineString)
    return g.points.length ? { type: 'LineString', coordinates: ring(g.points) } : null;
  if (g instanceof wkx.Polygon) {
    if (!g.exteriorRing.length) return null;
    return { type: 'Polygon', coordinates: [ring(g.exteriorRing), ...g.interiorRings.map(ring)] };
  }
  if (g instanceof wkx.MultiPoint)
    return g.points.length ? { type: 'MultiPoint', coordinates: ring(g.points) } : null;
  if (g instanceof wkx.MultiLineString) {
    if (!g.lineStrings.length) return null;
    return { type: 'MultiLineString', coordinates: g.lineStrings.map((l) => ring(l.points)) };
  }
  if (g instanceof wkx.MultiPolygon) {
    if (!g.polygons.length) return null;
    return {
      type: 'MultiPolygon',
      coordinates: g.polygons.map((p) => [ring(p.exteriorRing), ...p.interiorRings.map(ring)]),
    };
  }
  if (g instanceof wkx.GeometryCollection) {
    if (!g.geometries.length) return null;
    const geometries = g.geometries.map(fromWkx).filter((x): x is Geometry => x !== null);
    return { type: 'GeometryCollection', geometries };
  }
  throw new Error('unsupported geometry type');
}

/** Parses WKT or EWKT (the SRID prefix is ignored: the layer's CRS applies). `EMPTY` gives null. */
export function wktToGeometry(text: string): Geometry | null {
  const wkt = text.trim();
  // wkx stops at the geometry's last parenthesis and ignores what follows: refuse trailing text.
  if (!/(?:\)|\bEMPTY)$/i.test(wkt)) throw new Error('the WKT does not end with ")" or EMPTY');
  let depth = 0;
  for (let i = 0; i < wkt.length; i++) {
    const c = wkt.charCodeAt(i);
    if (c === 0x28) depth++;
    else if (c === 0x29 && --depth === 0 && i !== wkt.length - 1)
      throw new Error('text after the geometry\'s closing ")"');
  }
  if (depth !== 0) throw new Error('unbalanced parentheses');
  return fromWkx(wkx.Geometry.parse(wkt));
}

/** Parses ISO WKB or EWKB. `EMPTY` gives null. */
export function wkbToGeometry(bytes: Uint8Array): Geometry | null {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return fromWkx(wkx.Geometry.parse(buffer));
}

// ---- Writing ----

interface Dims {
  z: boolean;
  m: boolean;
}

function firstPosition(g: Geometry): Position | undefined {
  switch (g.type) {
    case 'Point':
      return g.coordinates;
    case 'MultiPoint':
    case 'LineString':
      return g.coordinates[0];
    case 'MultiLineString':
    case 'Polygon':
      return g.coordinates[0]?.[0];
    case 'MultiPolygon':
      return g.coordinates[0]?.[0]?.[0];
    case 'GeometryCollection':
      for (const child of g.geometries) {
        const p = firstPosition(child);
        if (p) return p;
      }
      return undefined;
  }
}

/** The dimensions a geometry is written with, taken from its first position (WKT and WKB are uniform). */
export function dimsOf(g: Geometry): Dims {
  const p = firstPosition(g);
  return { z: p !== undefined && p.length >= 3 && !Number.isNaN(p[2]), m: p !== undefined && p.length >= 4 };
}

function toPoint(p: Position, dims: Dims): WkxPoint {
  const point = new wkx.Point(p[0], p[1], dims.z ? (p[2] ?? 0) : undefined, dims.m ? (p[3] ?? 0) : undefined);
  return point;
}

function withDims<T extends wkx.Geometry>(g: T, dims: Dims): T {
  g.hasZ = dims.z;
  g.hasM = dims.m;
  return g;
}

function toWkx(g: Geometry, dims: Dims): wkx.Geometry {
  const pts = (ps: Position[]) => ps.map((p) => toPoint(p, dims));
  switch (g.type) {
    case 'Point':
      return withDims(toPoint(g.coordinates, dims), dims);
    case 'MultiPoint':
      return withDims(new wkx.MultiPoint(pts(g.coordinates)), dims);
    case 'LineString':
      return withDims(new wkx.LineString(pts(g.coordinates)), dims);
    case 'MultiLineString':
      return withDims(
        new wkx.MultiLineString(g.coordinates.map((l) => withDims(new wkx.LineString(pts(l)), dims))),
        dims,
      );
    case 'Polygon':
      return withDims(new wkx.Polygon(pts(g.coordinates[0] ?? []), g.coordinates.slice(1).map(pts)), dims);
    case 'MultiPolygon':
      return withDims(
        new wkx.MultiPolygon(
          g.coordinates.map((p) => withDims(new wkx.Polygon(pts(p[0] ?? []), p.slice(1).map(pts)), dims)),
        ),
        dims,
      );
    case 'GeometryCollection':
      return withDims(new wkx.GeometryCollection(g.geometries.map((c) => toWkx(c, dims))), dims);
  }
}

/** WKT of a geometry, with Z/M as its positions carry them (`LINESTRING Z (…)`, `LINESTRING M (…)`). */
export function geometryToWkt(g: Geometry): string {
  return toWkx(g, dimsOf(g)).toWkt();
}

/** ISO WKB of a geometry (what GeoParquet specifies), with Z/M as its positions carry them. */
export function geometryToWkb(g: Geometry): Uint8Array {
  const wkb = toWkx(g, dimsOf(g)).toWkb();
  return new Uint8Array(wkb.buffer, wkb.byteOffset, wkb.byteLength);
}

/** Every coordinate in a geometry, counted without allocating. */
export function countVertices(g: Geometry): number {
  switch (g.type) {
    case 'Point':
      return 1;
    case 'MultiPoint':
    case 'LineString':
      return g.coordinates.length;
    case 'MultiLineString':
    case 'Polygon':
      return g.coordinates.reduce((n, l) => n + l.length, 0);
    case 'MultiPolygon':
      return g.coordinates.reduce((n, p) => n + p.reduce((m, l) => m + l.length, 0), 0);
    case 'GeometryCollection':
      return g.geometries.reduce((n, c) => n + countVertices(c), 0);
  }
}

const TYPES = new Set(['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon']);

function isPosition(p: unknown): p is Position {
  return Array.isArray(p) && p.length >= 2 && p.length <= 4 && p.every((n) => typeof n === 'number');
}

function nested(value: unknown, depth: number): boolean {
  if (depth === 0) return isPosition(value);
  return Array.isArray(value) && value.every((v) => nested(v, depth - 1));
}

const DEPTH: Record<string, number> = {
  Point: 0,
  MultiPoint: 1,
  LineString: 1,
  MultiLineString: 2,
  Polygon: 2,
  MultiPolygon: 3,
};

/**
 * Checks that a parsed GeoJSON value is a geometry of `types.ts` (type, and coordinates nested to the
 * type's depth with 2–4 numbers a position). Returns a reason when it is not. GeoJSON has no M, so a
 * 4-number position is [x, y, z, m] as the RFC's "additional elements" allow.
 */
export function checkGeoJsonGeometry(value: unknown, depth = 0): string | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'the geometry is not an object';
  const g = value as { type?: unknown; coordinates?: unknown; geometries?: unknown };
  if (g.type === 'GeometryCollection') {
    if (!Array.isArray(g.geometries)) return 'a GeometryCollection without a "geometries" array';
    if (depth > 4) return 'GeometryCollections nested too deeply';
    for (const child of g.geometries) {
      const reason = checkGeoJsonGeometry(child, depth + 1);
      if (reason) return reason;
    }
    return null;
  }
  if (typeof g.type !== 'string' || !TYPES.has(g.type))
    return `"${String(g.type).slice(0, 40)}" is not a geometry type`;
  if (!nested(g.coordinates, DEPTH[g.type]!))
    return `the ${g.type}'s coordinates are not arrays of 2 to 4 numbers`;
  return null;
}
