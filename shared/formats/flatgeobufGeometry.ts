/**
 * FlatGeobuf geometries to and from gem-flow's GeoJSON-shaped `Geometry`, through the package's generated
 * `Geometry` table. The format keeps coordinates as flat `xy`, `z` and `m` arrays with `ends` marking where
 * rings and lines stop, and nested `parts` for multi-polygons and collections (the layout is the one in the
 * format's schema, `flatgeobuf/src/fbs/feature.fbs`). Decoding counts vertices against `maxVertices` and
 * nesting against `maxDepth` as it goes, so a hostile file whose parts point back at themselves stops at a
 * limit instead of growing without end; Z and M are kept as read (`[x, y, NaN, m]` when there is M but no Z).
 * The package's own `parseGeometry`/`toGeoJsonCoordinates` drop M, hence this module.
 */
import type { Builder } from 'flatbuffers';
import { FeatureDecodeError } from './featureProblem.js';
import type { FlatGeobufTables } from './flatgeobufLib.js';
import type { Geometry, GeometryType, Position } from './types.js';

/** FlatGeobuf's `GeometryType` enum values (feature.fbs) that have a GeoJSON counterpart. */
export const FGB_GEOMETRY_CODE: Record<GeometryType, number> = {
  Point: 1,
  LineString: 2,
  Polygon: 3,
  MultiPoint: 4,
  MultiLineString: 5,
  MultiPolygon: 6,
  GeometryCollection: 7,
};
export const FGB_UNKNOWN_GEOMETRY = 0;

const TYPE_BY_CODE = new Map<number, GeometryType>(
  Object.entries(FGB_GEOMETRY_CODE).map(([name, code]) => [code, name as GeometryType]),
);

/** The schema's names of the geometry types gem-flow does not decode (curves, surfaces, TINs). */
const UNSUPPORTED_NAMES: Record<number, string> = {
  8: 'CircularString',
  9: 'CompoundCurve',
  10: 'CurvePolygon',
  11: 'MultiCurve',
  12: 'MultiSurface',
  13: 'Curve',
  14: 'Surface',
  15: 'PolyhedralSurface',
  16: 'TIN',
  17: 'Triangle',
};

export function geometryTypeForCode(code: number): GeometryType | null {
  return TYPE_BY_CODE.get(code) ?? null;
}

export interface DecodeBudget {
  vertices: number;
  readonly maxVertices: number;
  readonly maxDepth: number;
}

type FgbGeometry = InstanceType<FlatGeobufTables['Geometry']>;

export function decodeGeometry(
  g: FgbGeometry,
  headerCode: number,
  budget: DecodeBudget,
  depth = 0,
): Geometry {
  if (depth > budget.maxDepth) {
    throw new FeatureDecodeError('geometry-unreadable', `geometry parts nest deeper than ${budget.maxDepth}`);
  }
  const code = g.type() || headerCode;
  const type = TYPE_BY_CODE.get(code);
  if (type === undefined) {
    const name = UNSUPPORTED_NAMES[code];
    if (name) throw new FeatureDecodeError('geometry-unsupported', `${name} geometries are not supported`);
    throw new FeatureDecodeError('geometry-unreadable', `unknown geometry type ${code}`);
  }
  switch (type) {
    case 'Point':
      return { type, coordinates: positions(g, budget)[0] ?? [] };
    case 'MultiPoint':
    case 'LineString':
      return { type, coordinates: positions(g, budget) };
    case 'MultiLineString':
    case 'Polygon':
      return { type, coordinates: splitAtEnds(positions(g, budget), g.endsArray()) };
    case 'MultiPolygon':
      return { type, coordinates: decodeParts(g, FGB_GEOMETRY_CODE.Polygon, budget, depth).map(asPolygon) };
    case 'GeometryCollection':
      return { type, geometries: decodeParts(g, FGB_UNKNOWN_GEOMETRY, budget, depth) };
  }
}

function decodeParts(g: FgbGeometry, partCode: number, budget: DecodeBudget, depth: number): Geometry[] {
  const parts: Geometry[] = [];
  const count = g.partsLength();
  for (let i = 0; i < count; i++) {
    const part = g.parts(i);
    if (part === null) throw new FeatureDecodeError('geometry-unreadable', `part ${i} is missing`);
    parts.push(decodeGeometry(part, partCode, budget, depth + 1));
  }
  return parts;
}

function asPolygon(part: Geometry): Position[][] {
  if (part.type !== 'Polygon') {
    throw new FeatureDecodeError('geometry-unreadable', `a MultiPolygon part is a ${part.type}`);
  }
  return part.coordinates;
}

function positions(g: FgbGeometry, budget: DecodeBudget): Position[] {
  const xy = g.xyArray();
  if (xy === null) return [];
  if (xy.length % 2 !== 0) throw new FeatureDecodeError('geometry-unreadable', 'xy holds an odd count');
  const count = xy.length / 2;
  budget.vertices += count;
  if (budget.vertices > budget.maxVertices) {
    throw new FeatureDecodeError('feature-too-large', `more than ${budget.maxVertices} vertices`);
  }
  const z = g.zArray();
  const m = g.mArray();
  if ((z !== null && z.length !== count) || (m !== null && m.length !== count)) {
    throw new FeatureDecodeError('geometry-unreadable', 'z or m does not hold one value per vertex');
  }
  const out: Position[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const x = xy[2 * i]!;
    const y = xy[2 * i + 1]!;
    if (m !== null) out[i] = [x, y, z === null ? Number.NaN : z[i]!, m[i]!];
    else if (z !== null) out[i] = [x, y, z[i]!];
    else out[i] = [x, y];
  }
  return out;
}

/** `ends` are exclusive end indices of each ring or line; absent means one part holding every vertex. */
function splitAtEnds(all: Position[], ends: Uint32Array | null): Position[][] {
  if (ends === null) return [all];
  const parts: Position[][] = [];
  let start = 0;
  for (const end of ends) {
    if (end < start || end > all.length) {
      throw new FeatureDecodeError('geometry-unreadable', `part end ${end} is outside 0..${all.length}`);
    }
    parts.push(all.slice(start, end));
    start = end;
  }
  if (start !== all.length) {
    throw new FeatureDecodeError('geometry-unreadable', `parts end at ${start} of ${all.length} vertices`);
  }
  return parts;
}

// ---- Encoding ----

/** What the writer learns from each geometry for the header it completes at the end. */
export interface EncodedDimensions {
  hasZ: boolean;
  hasM: boolean;
}

/** Builds `geometry` into `builder` (before its feature starts) and returns the table's offset. */
export function encodeGeometry(
  builder: Builder,
  tables: FlatGeobufTables,
  geometry: Geometry,
  dims: EncodedDimensions,
): number {
  switch (geometry.type) {
    case 'Point':
      return leaf(builder, tables, geometry.type, [geometry.coordinates], dims);
    case 'MultiPoint':
    case 'LineString':
      return leaf(builder, tables, geometry.type, geometry.coordinates, dims);
    case 'MultiLineString':
    case 'Polygon':
      return leaf(builder, tables, geometry.type, geometry.coordinates.flat(), dims, geometry.coordinates);
    case 'MultiPolygon':
      return parent(
        builder,
        tables,
        geometry.type,
        geometry.coordinates.map((coordinates) => ({ type: 'Polygon', coordinates }) as Geometry),
        dims,
      );
    case 'GeometryCollection':
      return parent(builder, tables, geometry.type, geometry.geometries, dims);
  }
}

function parent(
  builder: Builder,
  tables: FlatGeobufTables,
  type: GeometryType,
  children: Geometry[],
  dims: EncodedDimensions,
): number {
  const offsets = children.map((child) => encodeGeometry(builder, tables, child, dims));
  const partsOffset = tables.Geometry.createPartsVector(builder, offsets);
  tables.Geometry.startGeometry(builder);
  tables.Geometry.addParts(builder, partsOffset);
  tables.Geometry.addType(builder, FGB_GEOMETRY_CODE[type]);
  return tables.Geometry.endGeometry(builder);
}

function leaf(
  builder: Builder,
  tables: FlatGeobufTables,
  type: GeometryType,
  coords: Position[],
  dims: EncodedDimensions,
  parts?: Position[][],
): number {
  // A point written as [] (an empty point) has no vertex at all.
  const vertices = coords.filter((p) => p.length >= 2);
  const hasZ = vertices.some((p) => p.length >= 3 && !Number.isNaN(p[2]));
  const hasM = vertices.some((p) => p.length >= 4);
  dims.hasZ ||= hasZ;
  dims.hasM ||= hasM;
  const xy = new Float64Array(vertices.length * 2);
  vertices.forEach((p, i) => {
    xy[2 * i] = p[0]!;
    xy[2 * i + 1] = p[1]!;
  });
  const G = tables.Geometry;
  const xyOffset = G.createXyVector(builder, xy);
  const zOffset = hasZ
    ? G.createZVector(
        builder,
        vertices.map((p) => p[2] ?? Number.NaN),
      )
    : 0;
  const mOffset = hasM
    ? G.createMVector(
        builder,
        vertices.map((p) => p[3] ?? Number.NaN),
      )
    : 0;
  const endsOffset = parts && parts.length !== 1 ? G.createEndsVector(builder, partEnds(parts)) : 0;
  G.startGeometry(builder);
  if (endsOffset) G.addEnds(builder, endsOffset);
  G.addXy(builder, xyOffset);
  if (zOffset) G.addZ(builder, zOffset);
  if (mOffset) G.addM(builder, mOffset);
  G.addType(builder, FGB_GEOMETRY_CODE[type]);
  return G.endGeometry(builder);
}

function partEnds(parts: Position[][]): number[] {
  const ends: number[] = [];
  let end = 0;
  for (const part of parts) {
    end += part.filter((p) => p.length >= 2).length;
    ends.push(end);
  }
  return ends;
}
