/**
 * GeoPackage binary geometries (GeoPackage 1.4, clause 2.1.3 "Geometry Encoding"): the "GP" magic, a version
 * byte (0 for version 1), a flags byte (bit 0 header byte order, bits 1–3 envelope kind, bit 4 empty,
 * bit 5 extended), the SRS id, an optional envelope of 4, 6 or 8 doubles, then standard WKB. The WKB itself is
 * read and written by `wkx` through `./geometry.js`; this module only frames it, checking every length
 * against the blob it was given. The writer always frames with an XY envelope, as GDAL does, and flags empty
 * geometries so readers can skip them without parsing the WKB.
 */
import { FeatureDecodeError } from './featureProblem.js';
import { countVertices, geometryToWkb, wkbToGeometry } from './geometry.js';
import type { Geometry, Position } from './types.js';

const MAGIC_G = 0x47;
const MAGIC_P = 0x50;
/** Envelope bytes per envelope code: none, XY, XYZ, XYM, XYZM; codes 5–7 are invalid. */
const ENVELOPE_BYTES = [0, 32, 48, 48, 64];

/** Decodes one geometry blob; null for SQL NULL and for empty geometries. Throws `FeatureDecodeError`. */
export function decodeGpkgGeometry(blob: Uint8Array, maxVertices: number): Geometry | null {
  if (blob.byteLength < 8 || blob[0] !== MAGIC_G || blob[1] !== MAGIC_P) {
    throw new FeatureDecodeError(
      'geometry-unreadable',
      'the value is not a GeoPackage geometry (no "GP" header)',
    );
  }
  if (blob[2] !== 0) {
    throw new FeatureDecodeError('geometry-unsupported', `GeoPackage geometry version ${blob[2]} is unknown`);
  }
  const flags = blob[3]!;
  if (flags & 0b0010_0000) {
    throw new FeatureDecodeError(
      'geometry-unsupported',
      'extended GeoPackage geometries (GeoPackage extensions) are not read',
    );
  }
  const envelopeBytes = ENVELOPE_BYTES[(flags >> 1) & 0b111];
  if (envelopeBytes === undefined || 8 + envelopeBytes > blob.byteLength) {
    throw new FeatureDecodeError('geometry-unreadable', 'the geometry header has an invalid envelope');
  }
  if (flags & 0b0001_0000) return null;
  let geometry: Geometry | null;
  try {
    geometry = wkbToGeometry(blob.subarray(8 + envelopeBytes));
  } catch (error) {
    throw new FeatureDecodeError(
      'geometry-unreadable',
      `the WKB cannot be read (${(error as Error).message})`,
    );
  }
  if (geometry !== null && countVertices(geometry) > maxVertices) {
    throw new FeatureDecodeError('feature-too-large', `the geometry has more than ${maxVertices} vertices`);
  }
  return geometry;
}

export interface Envelope {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** Widens `into` by `geometry`'s XY extent; NaN ordinates (empty points) are skipped. */
export function extendEnvelope(into: Envelope | null, geometry: Geometry): Envelope | null {
  let envelope = into;
  forEachPosition(geometry, (p) => {
    const [x, y] = p;
    if (x === undefined || y === undefined || Number.isNaN(x) || Number.isNaN(y)) return;
    if (envelope === null) envelope = { minX: x, minY: y, maxX: x, maxY: y };
    else {
      envelope.minX = Math.min(envelope.minX, x);
      envelope.minY = Math.min(envelope.minY, y);
      envelope.maxX = Math.max(envelope.maxX, x);
      envelope.maxY = Math.max(envelope.maxY, y);
    }
  });
  return envelope;
}

function forEachPosition(geometry: Geometry, visit: (p: Position) => void): void {
  switch (geometry.type) {
    case 'Point':
      visit(geometry.coordinates);
      return;
    case 'MultiPoint':
    case 'LineString':
      geometry.coordinates.forEach(visit);
      return;
    case 'MultiLineString':
    case 'Polygon':
      for (const line of geometry.coordinates) line.forEach(visit);
      return;
    case 'MultiPolygon':
      for (const polygon of geometry.coordinates) for (const ring of polygon) ring.forEach(visit);
      return;
    case 'GeometryCollection':
      for (const child of geometry.geometries) forEachPosition(child, visit);
  }
}

/** The blob for one geometry (little-endian header, XY envelope), or null for no geometry. */
export function encodeGpkgGeometry(geometry: Geometry | null, srsId: number): Uint8Array | null {
  if (geometry === null) return null;
  const envelope = extendEnvelope(null, geometry);
  const wkb = geometryToWkb(geometry);
  const envelopeBytes = envelope === null ? 0 : 32;
  const blob = new Uint8Array(8 + envelopeBytes + wkb.byteLength);
  const view = new DataView(blob.buffer);
  blob[0] = MAGIC_G;
  blob[1] = MAGIC_P;
  blob[2] = 0;
  // Little-endian header; envelope code 1 (XY) or 0 with the empty flag when there is no coordinate.
  blob[3] = envelope === null ? 0b0001_0001 : 0b0000_0011;
  view.setInt32(4, srsId, true);
  if (envelope !== null) {
    view.setFloat64(8, envelope.minX, true);
    view.setFloat64(16, envelope.maxX, true);
    view.setFloat64(24, envelope.minY, true);
    view.setFloat64(32, envelope.maxY, true);
  }
  blob.set(wkb, 8 + envelopeBytes);
  return blob;
}
