/**
 * Shapefile (.shp) record contents to GeoJSON-shaped geometries, after the ESRI Shapefile Technical
 * Description (1998): a little-endian shape type, then per type a bounding box, part and point counts, part
 * start indices, XY points, and for the Z types a Z range and array followed by an optional M range and
 * array (M is optional in the M types as well). Every count is checked against the record's real length
 * before anything is allocated. PolyLines become a LineString with one part and a MultiLineString with
 * several; Polygons keep their rings in file order and are grouped by the specification's winding rule
 * (clockwise rings are outer, the counter-clockwise ones after them their holes); Points and MultiPoints
 * are read too, so the normaliser can name what they are. Z and M are kept as read (`[x, y, NaN, m]` for M
 * without Z); MultiPatch is reported, not read.
 */
import { FeatureDecodeError } from './featureProblem.js';
import type { Geometry, GeometryType, Position } from './types.js';

const NULL_SHAPE = 0;
const POINT_TYPES = new Set([1, 11, 21]);
const MULTIPOINT_TYPES = new Set([8, 18, 28]);
const POLYLINE_TYPES = new Set([3, 13, 23]);
const POLYGON_TYPES = new Set([5, 15, 25]);
const Z_TYPES = new Set([11, 13, 15, 18]);
const M_TYPES = new Set([21, 23, 25, 28]);
const MULTIPATCH = 31;

/** The layer type a .shp header's shape type declares; PolyLine/Polygon layers mix single and multi parts. */
export function declaredShapeType(shapeType: number): GeometryType | null {
  if (POINT_TYPES.has(shapeType)) return 'Point';
  if (MULTIPOINT_TYPES.has(shapeType)) return 'MultiPoint';
  return null;
}

export function isKnownShapeType(shapeType: number): boolean {
  return (
    shapeType === NULL_SHAPE ||
    shapeType === MULTIPATCH ||
    POINT_TYPES.has(shapeType) ||
    MULTIPOINT_TYPES.has(shapeType) ||
    POLYLINE_TYPES.has(shapeType) ||
    POLYGON_TYPES.has(shapeType)
  );
}

const fail = (message: string): never => {
  throw new FeatureDecodeError('geometry-unreadable', message);
};

/** Decodes one record's content (after its 8-byte record header). Null shapes give null. */
export function parseShape(content: DataView, maxVertices: number): Geometry | null {
  if (content.byteLength < 4) fail('the record is shorter than its shape type');
  const type = content.getInt32(0, true);
  if (type === NULL_SHAPE) return null;
  if (type === MULTIPATCH)
    throw new FeatureDecodeError('geometry-unsupported', 'MultiPatch shapes are not read');
  if (POINT_TYPES.has(type)) return { type: 'Point', coordinates: parsePoint(content, type) };
  if (!MULTIPOINT_TYPES.has(type) && !POLYLINE_TYPES.has(type) && !POLYGON_TYPES.has(type)) {
    fail(`shape type ${type} is not defined by the Shapefile specification`);
  }
  const multipoint = MULTIPOINT_TYPES.has(type);
  // MultiPoint: box, numPoints, points. PolyLine/Polygon: box, numParts, numPoints, parts, points.
  const numParts = multipoint ? 1 : content.byteLength >= 44 ? content.getInt32(36, true) : -1;
  const numPoints = content.byteLength >= 44 ? content.getInt32(multipoint ? 36 : 40, true) : -1;
  const partsAt = multipoint ? 40 : 44;
  const pointsAt = multipoint ? 40 : 44 + 4 * numParts;
  if (numParts < 0 || numPoints < 0 || pointsAt + 16 * numPoints > content.byteLength) {
    fail(`the record's ${numParts} parts and ${numPoints} points do not fit its ${content.byteLength} bytes`);
  }
  if (numPoints > maxVertices) {
    throw new FeatureDecodeError(
      'feature-too-large',
      `the shape has ${numPoints} points, more than ${maxVertices}`,
    );
  }
  const positions = parsePositions(content, type, pointsAt, numPoints);
  if (multipoint) return { type: 'MultiPoint', coordinates: positions };
  const parts = splitParts(content, partsAt, numParts, positions);
  if (POLYLINE_TYPES.has(type)) {
    if (parts.length === 0) return null;
    return parts.length === 1
      ? { type: 'LineString', coordinates: parts[0]! }
      : { type: 'MultiLineString', coordinates: parts };
  }
  return polygonFromRings(parts);
}

function parsePoint(content: DataView, type: number): Position {
  const has = (bytes: number): boolean => content.byteLength >= bytes;
  if (!has(20)) fail('the point record is cut short');
  const x = content.getFloat64(4, true);
  const y = content.getFloat64(12, true);
  if (type === 11) {
    if (!has(28)) fail('the PointZ record has no Z');
    const z = content.getFloat64(20, true);
    return has(36) ? [x, y, z, content.getFloat64(28, true)] : [x, y, z];
  }
  if (type === 21 && has(28)) return [x, y, Number.NaN, content.getFloat64(20, true)];
  return [x, y];
}

/** XY points, then (Z types) range + Z values, then (Z and M types, when present) range + M values. */
function parsePositions(content: DataView, type: number, at: number, count: number): Position[] {
  const zAt = at + 16 * count + 16;
  const hasZ = Z_TYPES.has(type);
  if (hasZ && zAt + 8 * count > content.byteLength) fail('the Z values are missing');
  const mAt = hasZ ? zAt + 8 * count + 16 : zAt;
  const hasM = (hasZ || M_TYPES.has(type)) && mAt + 8 * count <= content.byteLength;
  const positions: Position[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const x = content.getFloat64(at + 16 * i, true);
    const y = content.getFloat64(at + 16 * i + 8, true);
    const z = hasZ ? content.getFloat64(zAt + 8 * i, true) : Number.NaN;
    if (hasM) positions[i] = [x, y, z, content.getFloat64(mAt + 8 * i, true)];
    else positions[i] = hasZ ? [x, y, z] : [x, y];
  }
  return positions;
}

function splitParts(content: DataView, at: number, count: number, positions: Position[]): Position[][] {
  const parts: Position[][] = [];
  for (let i = 0; i < count; i++) {
    const start = content.getInt32(at + 4 * i, true);
    const end = i + 1 < count ? content.getInt32(at + 4 * (i + 1), true) : positions.length;
    if ((i === 0 && start !== 0) || start < 0 || end < start || end > positions.length) {
      fail(`part ${i} spans points ${start}–${end} of ${positions.length}`);
    }
    parts.push(positions.slice(start, end));
  }
  return parts;
}

/** Twice the signed area; negative for a clockwise ring (the specification's outer rings). */
function signedArea(ring: Position[]): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    sum += ring[i]![0]! * ring[i + 1]![1]! - ring[i + 1]![0]! * ring[i]![1]!;
  }
  return sum;
}

function polygonFromRings(rings: Position[][]): Geometry | null {
  const polygons: Position[][][] = [];
  for (const ring of rings) {
    const outer = signedArea(ring) <= 0;
    if (outer || polygons.length === 0) polygons.push([ring]);
    else polygons.at(-1)!.push(ring);
  }
  if (polygons.length === 0) return null;
  return polygons.length === 1
    ? { type: 'Polygon', coordinates: polygons[0]! }
    : { type: 'MultiPolygon', coordinates: polygons };
}
