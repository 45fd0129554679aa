/**
 * GeoParquet samples, written with hyparquet-writer and its own WKB encoder (not gem-flow's), so a test
 * reading them checks gem-flow's reader against an independent writer: the sample roads with typed columns
 * (INT32, INT64 beyond 2^53, DOUBLE, BOOLEAN, TIMESTAMP, text), WKB geometry, and `geo` metadata whose `crs`
 * is PROJJSON (absent for CRS84). Broken: an unknown CRS (`crs: null`), a PROJJSON on a datum no registry
 * knows, and one corrupt WKB value.
 */
import { loadHyparquetWriter } from '../../../shared/formats/hyparquetWriter.js';
import type { Geometry } from '../../../shared/formats/types.js';
import { type SampleFeature, sampleRoads } from './roads.js';

/** RD New as PROJJSON, the way PROJ writes it (`projinfo EPSG:28992 -o PROJJSON`, abridged to what matters). */
export const RD_NEW_PROJJSON = {
  $schema: 'https://proj.org/schemas/v0.7/projjson.schema.json',
  type: 'ProjectedCRS',
  name: 'Amersfoort / RD New',
  base_crs: {
    name: 'Amersfoort',
    datum: {
      type: 'GeodeticReferenceFrame',
      name: 'Amersfoort',
      ellipsoid: { name: 'Bessel 1841', semi_major_axis: 6377397.155, inverse_flattening: 299.1528128 },
    },
    coordinate_system: {
      subtype: 'ellipsoidal',
      axis: [
        { name: 'Geodetic latitude', abbreviation: 'Lat', direction: 'north', unit: 'degree' },
        { name: 'Geodetic longitude', abbreviation: 'Lon', direction: 'east', unit: 'degree' },
      ],
    },
    id: { authority: 'EPSG', code: 4289 },
  },
  conversion: {
    name: 'RD New',
    method: { name: 'Oblique Stereographic', id: { authority: 'EPSG', code: 9809 } },
    parameters: [
      {
        name: 'Latitude of natural origin',
        value: 52.1561605555556,
        unit: 'degree',
        id: { authority: 'EPSG', code: 8801 },
      },
      {
        name: 'Longitude of natural origin',
        value: 5.38763888888889,
        unit: 'degree',
        id: { authority: 'EPSG', code: 8802 },
      },
      {
        name: 'Scale factor at natural origin',
        value: 0.9999079,
        unit: 'unity',
        id: { authority: 'EPSG', code: 8805 },
      },
      { name: 'False easting', value: 155000, unit: 'metre', id: { authority: 'EPSG', code: 8806 } },
      { name: 'False northing', value: 463000, unit: 'metre', id: { authority: 'EPSG', code: 8807 } },
    ],
  },
  coordinate_system: {
    subtype: 'Cartesian',
    axis: [
      { name: 'Easting', abbreviation: 'X', direction: 'east', unit: 'metre' },
      { name: 'Northing', abbreviation: 'Y', direction: 'north', unit: 'metre' },
    ],
  },
  id: { authority: 'EPSG', code: 28992 },
};

export interface GeoParquetSampleOptions {
  /** The `crs` member: absent (CRS84), null (unknown), or PROJJSON. */
  crs?: Record<string, unknown> | null;
  rowGroupSize?: number;
  /** Replaces one feature's WKB by these bytes (the corrupt-WKB case). */
  corrupt?: { index: number; bytes: Uint8Array };
}

export async function valid(
  features: SampleFeature[] = sampleRoads(),
  options: GeoParquetSampleOptions = {},
): Promise<Uint8Array> {
  const { parquetWriteBuffer, geojsonToWkb } = await loadHyparquetWriter();
  const p = (name: string) => features.map((f) => f.properties[name] ?? null);
  const wkb = features.map((f, i) =>
    options.corrupt?.index === i
      ? options.corrupt.bytes
      : f.geometry
        ? geojsonToWkb(f.geometry as never)
        : null,
  );
  const types = [
    ...new Set(features.map((f) => f.geometry?.type).filter((t): t is Geometry['type'] => !!t)),
  ].sort();
  const column: Record<string, unknown> = { encoding: 'WKB', geometry_types: types };
  if (options.crs !== undefined) column.crs = options.crs;
  const geo = { version: '1.1.0', primary_column: 'geometry', columns: { geometry: column } };
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: 'road_id', data: p('road_id'), type: 'STRING' },
      { name: 'name', data: p('name'), type: 'STRING' },
      { name: 'lanes', data: p('lanes'), type: 'INT32' },
      { name: 'speed_kmh', data: p('speed_kmh'), type: 'DOUBLE' },
      { name: 'oneway', data: p('oneway'), type: 'BOOLEAN' },
      { name: 'navigable', data: p('navigable'), type: 'BOOLEAN' },
      { name: 'length_mm', data: p('length_mm'), type: 'INT64' },
      { name: 'surveyed', data: p('surveyed'), type: 'TIMESTAMP' },
      { name: 'note', data: p('note'), type: 'STRING' },
      { name: 'geometry', data: wkb, type: 'BYTE_ARRAY' },
    ] as never,
    kvMetadata: [{ key: 'geo', value: JSON.stringify(geo) }],
    ...(options.rowGroupSize ? { rowGroupSize: options.rowGroupSize } : {}),
    createdBy: 'gem-flow samples',
  });
  return new Uint8Array(buffer);
}

export const GEOPARQUET_BROKEN = ['crs-null', 'crs-unknown-datum', 'corrupt-wkb'] as const;
export type GeoParquetBroken = (typeof GEOPARQUET_BROKEN)[number];
export const DEFECT_FEATURE = 2;

export async function broken(
  kind: GeoParquetBroken,
  features: SampleFeature[] = sampleRoads(),
): Promise<Uint8Array> {
  switch (kind) {
    case 'crs-null':
      return valid(features, { crs: null });
    case 'crs-unknown-datum': {
      const { id: _id, ...noId } = RD_NEW_PROJJSON;
      const local = {
        ...noId,
        name: 'Local survey grid',
        base_crs: {
          ...noId.base_crs,
          id: undefined,
          name: 'Local datum',
          datum: { ...noId.base_crs.datum, name: 'Local datum' },
        },
      };
      return valid(features, { crs: JSON.parse(JSON.stringify(local)) });
    }
    case 'corrupt-wkb':
      // A LineString header claiming 1,000,000 points, followed by one.
      return valid(features, {
        corrupt: {
          index: DEFECT_FEATURE,
          bytes: Uint8Array.from([1, 2, 0, 0, 0, 0x40, 0x42, 0x0f, 0, ...new Array(16).fill(0)]),
        },
      });
  }
}
