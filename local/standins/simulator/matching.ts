// Deterministic stand-in for GEM matching: every input road gets an outcome (fully, partially or not
// matched) and 0..n result rows derived from a hash of that road alone (its id, its geometry, is_navigable)
// and the job's type and map version (Overture release or Orbis version). The same road therefore gets the
// same GERS ids, confidences and ranges in any file, next to any other roads, so matching only the changed
// rows of a dataset and carrying the rest over gives what matching all of it again gives. A file's statistics
// are aggregated from its roads' outcomes, so they always agree with its rows.
import { createHash } from 'node:crypto';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { JobType, RoadMatchingStatistics } from './types.js';
import type { Road, Trace } from './validation.js';

export const CONFIDENCE_THRESHOLD = 60;

export interface MatchRow {
  id: string;
  gers: string;
  confidence: number;
  /** Matched part of the input line as "[start, end]" fractions of its length (encoding unknown upstream). */
  lr_id: string;
  /** Matched part of the Overture segment, same encoding (Overture's own `between` uses 0–1 fractions). */
  lr_gers: string;
}

export type Outcome = 'full' | 'partial' | 'none';

export interface MatchResult {
  rows: MatchRow[];
  outcomes: Outcome[];
}

/**
 * A stream of pseudo-random 32-bit words, a pure function of (seed, label): sha256(seed|label) gives the 128-bit
 * state of sfc32 (Chris Doty-Humphrey's small fast counting generator, from PractRand, public domain), which
 * makes the words. One digest per road instead of one per eight words keeps a million roads fast; nothing here
 * is secret, and 128 bits of state keep two roads from sharing a stream.
 */
function hashStream(seed: string, label: string) {
  const digest = createHash('sha256').update(`${seed}|${label}`).digest();
  let a = digest.readInt32BE(0);
  let b = digest.readInt32BE(4);
  let c = digest.readInt32BE(8);
  let counter = digest.readInt32BE(12);
  return {
    next(): number {
      const t = (((a + b) | 0) + counter) | 0;
      counter = (counter + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      return t >>> 0;
    },
    /** Uniform in [0, 1). */
    unit(): number {
      return this.next() / 2 ** 32;
    },
  };
}

const uuidBytes = Buffer.alloc(16);

/** A UUID from the next four words, with the version 4 / RFC 4122 variant bits GERS ids carry. */
function uuidFrom(h: { next(): number }): string {
  for (let i = 0; i < 16; i += 4) uuidBytes.writeUInt32BE(h.next(), i);
  uuidBytes[6] = (uuidBytes[6]! & 0x0f) | 0x40;
  uuidBytes[8] = (uuidBytes[8]! & 0x3f) | 0x80;
  const hex = uuidBytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const fraction = (x: number) => Math.round(x * 1000) / 1000;
const range = (a: number, b: number) => `[${fraction(a).toFixed(3)}, ${fraction(b).toFixed(3)}]`;

/** What a road's matches depend on besides the road: the job type and its map version. */
export interface MatchContext {
  jobType: JobType;
  /** The Overture release (ROAD_MATCHING) or Orbis version (LANE_LEVEL_MATCHING). */
  version: string;
}

// The version tag lets a later change of the model give other results on purpose, never by accident.
const contextKey = (c: MatchContext) => JSON.stringify(['gem-simulator/road-v1', c.jobType, c.version]);

/**
 * The identity of a road for matching: its id, is_navigable, and its geometry as parsed (longitude/latitude
 * pairs), so that two spellings of the same WKT (`1.50` and `1.5`, other spacing) are the same road. JSON
 * keeps the parts apart, whatever characters an id holds.
 */
export function roadKey(road: Road): string {
  return JSON.stringify([road.id, road.navigable, road.coordinates]);
}

export function matchRoads(roads: Road[], context: MatchContext): MatchResult {
  const seed = contextKey(context);
  const rows: MatchRow[] = [];
  const outcomes: Outcome[] = [];
  for (const road of roads) {
    const h = hashStream(seed, roadKey(road));
    const draw = h.unit();
    // Navigable roads mostly match; non-navigable ones (paths, private roads) mostly do not.
    const outcome: Outcome = road.navigable
      ? draw < 0.68
        ? 'full'
        : draw < 0.85
          ? 'partial'
          : 'none'
      : draw < 0.2
        ? 'partial'
        : 'none';
    outcomes.push(outcome);
    if (outcome === 'none') continue;
    // A road may span several Overture segments: split [0, covered] into 1–3 consecutive pieces.
    const pieces = 1 + (h.next() % 3);
    const covered = outcome === 'full' ? 1 : 0.25 + h.unit() * 0.6;
    const start = outcome === 'full' ? 0 : h.unit() * (1 - covered);
    for (let p = 0; p < pieces; p++) {
      const a = start + (covered * p) / pieces;
      const b = start + (covered * (p + 1)) / pieces;
      const gStart = h.unit() * 0.3;
      rows.push({
        id: road.id,
        gers: uuidFrom(h),
        confidence: CONFIDENCE_THRESHOLD + (h.next() % (101 - CONFIDENCE_THRESHOLD)),
        lr_id: range(a, b),
        lr_gers: range(gStart, gStart + (1 - gStart) * (0.5 + h.unit() * 0.5)),
      });
    }
  }
  return { rows, outcomes };
}

const EARTH_RADIUS_KM = 6371.0088;

export function haversineKm([lon1, lat1]: [number, number], [lon2, lat2]: [number, number]): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

export function lineLengthKm(coords: [number, number][]): number {
  let km = 0;
  for (let i = 1; i < coords.length; i++) km += haversineKm(coords[i - 1]!, coords[i]!);
  return km;
}

const UNITS = 10_000; // ratios are reported with 4 decimals, like TomTom's example (0.8468)

/**
 * Ratios are computed in integer units of 1e-4 so that matched = fully + partially holds exactly in
 * those units, and unmatched = 1 - matched makes matched + unmatched === 1 exactly (true in binary
 * floating point for every m/1e4 + (1e4 - m)/1e4).
 */
export function computeStatistics(
  roads: Road[],
  outcomes: Outcome[],
  executionTimeSec: number,
): RoadMatchingStatistics {
  const n = roads.length;
  const full = outcomes.filter((o) => o === 'full').length;
  const partial = outcomes.filter((o) => o === 'partial').length;
  const fullUnits = n === 0 ? 0 : Math.round((full * UNITS) / n);
  // Round the matched share, then give partial what is left, so neither drifts from its own count
  // by more than one unit and the sum is exact.
  const matchedUnits = n === 0 ? 0 : Math.round(((full + partial) * UNITS) / n);
  const partialUnits = matchedUnits - fullUnits;
  const km = roads.reduce((sum, r) => sum + lineLengthKm(r.coordinates), 0);
  return {
    confidence_threshold: CONFIDENCE_THRESHOLD,
    execution_time_sec: Math.round(executionTimeSec * 100) / 100,
    kms_processed: Math.round(km * 100) / 100,
    num_roads_processed: n,
    roads_fully_matched_ratio: fullUnits / UNITS,
    roads_matched_ratio: matchedUnits / UNITS,
    roads_partially_matched_ratio: partialUnits / UNITS,
    roads_unmatched_ratio: (UNITS - matchedUnits) / UNITS,
  };
}

export function roadResultsParquet(rows: MatchRow[]): Uint8Array {
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'id', data: rows.map((r) => r.id), type: 'STRING', nullable: false },
      { name: 'gers', data: rows.map((r) => r.gers), type: 'STRING', nullable: false },
      { name: 'confidence', data: rows.map((r) => r.confidence), type: 'INT32', nullable: false },
      { name: 'lr_id', data: rows.map((r) => r.lr_id), type: 'STRING', nullable: false },
      { name: 'lr_gers', data: rows.map((r) => r.lr_gers), type: 'STRING', nullable: false },
    ],
  });
  return new Uint8Array(buf);
}

/**
 * LANE_LEVEL_MATCHING results: one row per trace (traceId, mapRevisionId, roads as JSON text), each from its
 * trace id and the Orbis version (the simulator does not read the points).
 */
export function laneResultsParquet(traces: Trace[], orbisVersion: string): Uint8Array {
  const seed = contextKey({ jobType: 'LANE_LEVEL_MATCHING', version: orbisVersion });
  const roads = traces.map((t) => {
    const h = hashStream(seed, JSON.stringify([t.id]));
    return JSON.stringify([{ roadId: uuidFrom(h), lanes: [1 + (h.next() % 3)] }]);
  });
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'traceId', data: traces.map((t) => t.id), type: 'STRING', nullable: false },
      { name: 'mapRevisionId', data: traces.map(() => orbisVersion), type: 'STRING', nullable: false },
      { name: 'roads', data: roads, type: 'STRING', nullable: false },
    ],
  });
  return new Uint8Array(buf);
}

/** `test_data.parquet` → `test_data.results.parquet` (the documented convention). */
export function resultFilename(input: string): string {
  const slash = input.lastIndexOf('/');
  const dot = input.lastIndexOf('.');
  const stem = dot > slash ? input.slice(0, dot) : input;
  return `${stem}.results.parquet`;
}
