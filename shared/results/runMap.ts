/**
 * The map of a run: the user's roads as a GeoJSON FeatureCollection in EPSG:4326, each feature carrying what
 * GEM made of it (`{index, id, match, gers, confidence, match_count}`), plus the counts and the confidence
 * histogram of those roads. `mapFeaturesForRun` is the one place that decides where the features come from:
 * the GEM Parquet file the run matched (its prepared input, or the user's own GEM Parquet; WKT geometries in
 * lon/lat, read in bounded batches) joined with GEM's `results.parquet` on `id`. The answer is bounded: at
 * most `maxFeatures` roads and `maxVertices` coordinates (the first roads of the file, `truncated` then true
 * and `total` the file's row count, which validation checked against the row groups), and memory is the kept
 * roads plus one batch.
 */
import { FormatError } from '../formats/errors.js';
import { openParquet, rowBatches } from '../formats/parquetRows.js';
import { readerFor } from '../formats/registry.js';
import type { FormatLimits, Geometry, MatchKind, Position, SourceFile } from '../formats/types.js';
import {
  type GemResultRow,
  MatchStatisticsTally,
  type MatchStatisticsView,
  RoadMatchFold,
} from './roadMatches.js';

/** Most roads one map answer holds; the first ones of the file are drawn. */
export const MAP_MAX_FEATURES = 20_000;
/** Most coordinates one map answer holds (about 25 bytes of JSON each), whatever the roads' lengths. */
export const MAP_MAX_VERTICES = 2_000_000;
/** Decimal places kept of each coordinate: 6 is about 0.1 m, finer than any road survey. */
const COORDINATE_DECIMALS = 6;

/**
 * What the input reader may hold of one road: the limits validation enforced on the same file (a geometry's
 * WKT at most `maxValueBytes`, which bounds its points to about one per 22 bytes).
 */
export function mapReadLimits(maxValueBytes: number): FormatLimits {
  return {
    maxFeatureBytes: maxValueBytes,
    maxVertices: Math.ceil(maxValueBytes / 8),
    maxFields: 1_000,
    maxDepth: 32,
  };
}

export interface MapFeatureProperties {
  /** 0-based row of the road in the input file. */
  index: number;
  /** The road's own id (GEM's `id` column). */
  id: string | number | null;
  match: MatchKind;
  /** The best match's GERS id (highest confidence, then longest matched part); null when unmatched. */
  gers: string | null;
  confidence: number | null;
  match_count: number;
}

export type MapGeometry = Extract<Geometry, { type: 'LineString' | 'MultiLineString' }>;

export interface MapFeature {
  type: 'Feature';
  geometry: MapGeometry | null;
  properties: MapFeatureProperties;
}

export interface RunMap {
  type: 'FeatureCollection';
  features: MapFeature[];
  /** Roads in the input. */
  total: number;
  /** True when `features` holds only the first roads (`MAP_MAX_FEATURES`, `MAP_MAX_VERTICES`, or `limit`). */
  truncated: boolean;
  /** Where the features were read from. */
  source: 'input-and-results';
  /** Counts and histogram of the roads in `features`. */
  statistics: MatchStatisticsView;
}

/** The run's files the map is made from. */
export interface RunMapSources {
  /** The input GEM matched: a GEM Parquet file (`id`, WKT `geometry`). */
  input: SourceFile;
  /** GEM's results, one row per match. */
  results: SourceFile;
}

export interface RunMapOptions {
  maxFeatures?: number;
  maxVertices?: number;
  limits: FormatLimits;
  /** Scratch space the format readers may use. */
  tempDir: string;
}

interface KeptRoad {
  index: number;
  id: string | number | null;
  geometry: MapGeometry | null;
}

export async function mapFeaturesForRun(sources: RunMapSources, options: RunMapOptions): Promise<RunMap> {
  const input = await readInputRoads(sources.input, options);
  const folds = await foldResults(sources.results, input.roads);
  const tally = new MatchStatisticsTally();
  const features = input.roads.map((road, slot): MapFeature => {
    const verdict = folds[slot]!.result();
    tally.add(verdict);
    return {
      type: 'Feature',
      geometry: road.geometry,
      properties: { index: road.index, id: road.id, ...verdict },
    };
  });
  return {
    type: 'FeatureCollection',
    features,
    total: input.total,
    truncated: input.truncated,
    source: 'input-and-results',
    statistics: tally.result(),
  };
}

/** The first roads of the input, within the bounds; reading stops at the first road that does not fit. */
async function readInputRoads(
  file: SourceFile,
  options: RunMapOptions,
): Promise<{ roads: KeptRoad[]; total: number; truncated: boolean }> {
  const maxFeatures = options.maxFeatures ?? MAP_MAX_FEATURES;
  const maxVertices = options.maxVertices ?? MAP_MAX_VERTICES;
  const open = await readerFor('gem-parquet');
  const source = await open(file, { limits: options.limits, tempDir: options.tempDir });
  const roads: KeptRoad[] = [];
  let vertices = 0;
  let truncated = false;
  try {
    for await (const feature of source.features()) {
      const geometry = mapGeometry(feature.geometry);
      const size = vertexCount(geometry);
      if (roads.length >= maxFeatures || vertices + size > maxVertices) {
        truncated = true;
        break;
      }
      vertices += size;
      roads.push({ index: feature.index, id: feature.id, geometry });
    }
  } finally {
    await source.close();
  }
  // Validation checked the footer's row count against the row groups for this very version of the file.
  const total = truncated ? Math.max(source.declaredFeatureCount ?? 0, roads.length) : roads.length;
  return { roads, total, truncated };
}

const RESULT_COLUMNS = ['id', 'gers', 'confidence', 'lr_id'] as const;

/** One fold per kept road, fed with every results row whose `id` is that road's. */
async function foldResults(file: SourceFile, roads: readonly KeptRoad[]): Promise<RoadMatchFold[]> {
  const folds = roads.map(() => new RoadMatchFold());
  const slots = new Map<string, number[]>();
  roads.forEach((road, slot) => {
    if (road.id === null) return;
    const key = String(road.id);
    const existing = slots.get(key);
    if (existing) existing.push(slot);
    else slots.set(key, [slot]);
  });
  const label = `GEM's results (${file.name})`;
  const parquet = await openParquet(file, { geoparquet: false, label });
  const present = new Set(parquet.columns.map((column) => column.element.name));
  if (!present.has('id')) {
    throw new FormatError('results-readable', `${label} has no "id" column, so no road can be joined.`, {
      remedy: 'The results file is not GEM ROAD_MATCHING output; check the job type of the match.',
    });
  }
  const columns = RESULT_COLUMNS.filter((name) => present.has(name));
  for await (const batch of rowBatches(parquet, [...columns], label)) {
    for (const row of batch.rows) {
      const matched = slots.get(String(row.id));
      if (!matched) continue;
      const result = resultRow(row);
      for (const slot of matched) folds[slot]!.add(result);
    }
  }
  return folds;
}

function resultRow(row: Record<string, unknown>): GemResultRow {
  const confidence =
    typeof row.confidence === 'bigint' ? Number(row.confidence) : (row.confidence as number | null);
  return {
    id: String(row.id),
    gers: typeof row.gers === 'string' ? row.gers : null,
    confidence: typeof confidence === 'number' ? confidence : null,
    lr_id: typeof row.lr_id === 'string' ? row.lr_id : null,
  };
}

function flat(position: Position): Position {
  const scale = 10 ** COORDINATE_DECIMALS;
  return [Math.round(position[0]! * scale) / scale, Math.round(position[1]! * scale) / scale];
}

/** Lines in 2D, rounded; anything that is not a line (which validation would have refused) is left out. */
function mapGeometry(geometry: Geometry | null): MapGeometry | null {
  if (geometry?.type === 'LineString')
    return { type: 'LineString', coordinates: geometry.coordinates.map(flat) };
  if (geometry?.type === 'MultiLineString') {
    return { type: 'MultiLineString', coordinates: geometry.coordinates.map((line) => line.map(flat)) };
  }
  return null;
}

function vertexCount(geometry: MapGeometry | null): number {
  if (!geometry) return 0;
  if (geometry.type === 'LineString') return geometry.coordinates.length;
  return geometry.coordinates.reduce((sum, line) => sum + line.length, 0);
}
