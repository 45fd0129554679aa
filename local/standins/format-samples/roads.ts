/**
 * The roads every format sample is made of: the same Amsterdam streets as `../samples.ts` (taken from its
 * `roadMatchingRecords`, so a GeoJSON sample and a GEM Parquet sample of the same seed hold the same
 * lines), as features with one attribute of every type, some of them MultiLineStrings, optionally with Z,
 * and optionally projected to another CRS with proj4 from the registry definition `crs.ts` uses.
 */
import proj4 from 'proj4';
import { projectionFor } from '../../../shared/formats/crs.js';
import type { Geometry, Position, PropertyValue } from '../../../shared/formats/types.js';
import { parseLineString } from '../../../shared/parquet/wkt.js';
import { roadMatchingRecords } from '../samples.js';

/** A feature as the sample writers take it: the format's own id, a geometry, attributes of every type. */
export interface SampleFeature {
  id: string | number | null;
  geometry: Geometry | null;
  properties: Record<string, PropertyValue>;
}

export interface SampleRoadOptions {
  rows?: number;
  seed?: number;
  /** Every n-th road (from road 3) is a MultiLineString of two parts; 0 = none. Default 5. */
  multiEvery?: number;
  /** Add a Z value (metres above NAP, made up) to every position. */
  withZ?: boolean;
}

const STREET_NAMES = [
  'Damrak',
  'Rokin',
  'Prinsengracht',
  'Keizersgracht',
  'Herengracht',
  'Overtoom',
  'Vijzelstraat',
];

/** The roads of `roadMatchingRecords('valid')` with attributes of every field type. */
export function sampleRoads(options: SampleRoadOptions = {}): SampleFeature[] {
  const records = roadMatchingRecords('valid', { rows: options.rows, seed: options.seed, idType: 'string' });
  const multiEvery = options.multiEvery ?? 5;
  return records.geometries!.map((wkt, i) => {
    const parsed = parseLineString(wkt);
    if ('error' in parsed) throw new Error(`sample road ${i}: ${parsed.error.message}`);
    const line: Position[] = parsed.points.map(([x, y], k) =>
      options.withZ ? [x, y, Math.round((1.5 + k * 0.25) * 100) / 100] : [x, y],
    );
    const multi = multiEvery > 0 && i >= 3 && (i - 3) % multiEvery === 0 && line.length >= 3;
    const geometry: Geometry = multi
      ? { type: 'MultiLineString', coordinates: [line.slice(0, 2), line.slice(1)] }
      : { type: 'LineString', coordinates: line };
    return {
      id: records.ids![i] as string,
      geometry,
      properties: {
        road_id: records.ids![i] as string,
        name: `${STREET_NAMES[i % STREET_NAMES.length]} ${i}`,
        lanes: 1 + (i % 3),
        speed_kmh: 30 + (i % 4) * 7.5,
        oneway: i % 2 === 0,
        navigable: records.isNavigable![i] as boolean | null,
        length_mm: 9_007_199_254_740_993n + BigInt(i),
        surveyed: new Date(Date.UTC(2024, i % 12, 1 + (i % 28))),
        note: i % 4 === 0 ? null : `segment ${i}`,
      },
    };
  });
}

/** The roads with every position projected from lon/lat to `code` (e.g. 28992), Z kept. */
export async function projectRoads(features: SampleFeature[], code: number): Promise<SampleFeature[]> {
  const projection = await projectionFor({ kind: 'epsg', code, source: 'sample' });
  const converter = proj4(projection.definition as string);
  const pos = (p: Position): Position => {
    const [x, y] = converter.forward([p[0]!, p[1]!]) as number[];
    return [x!, y!, ...p.slice(2)];
  };
  return features.map((f) => {
    const g = f.geometry;
    if (!g) return f;
    const geometry: Geometry =
      g.type === 'LineString'
        ? { type: 'LineString', coordinates: g.coordinates.map(pos) }
        : g.type === 'MultiLineString'
          ? { type: 'MultiLineString', coordinates: g.coordinates.map((l) => l.map(pos)) }
          : g;
    return { ...f, geometry };
  });
}
