// Deterministic stand-in for GEM matching: every input road gets an outcome (fully, partially or not
// matched) and 0..n result rows derived from a hash of the whole input plus the road id, so the same
// file always yields the same results and statistics.
import { createHash } from 'node:crypto';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { RoadMatchingStatistics } from './types.js';
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

/** A stream of pseudo-random 32-bit words from sha256(seed|label|counter). */
function hashStream(seed: string, label: string) {
  let counter = 0;
  let buf = Buffer.alloc(0);
  let offset = 0;
  return {
    next(): number {
      if (offset + 4 > buf.length) {
        buf = createHash('sha256').update(`${seed}|${label}|${counter++}`).digest();
        offset = 0;
      }
      const v = buf.readUInt32BE(offset);
      offset += 4;
      return v;
    },
    /** Uniform in [0, 1). */
    unit(): number {
      return this.next() / 2 ** 32;
    },
  };
}

function uuidFrom(words: number[]): string {
  const hex = words.map((w) => w.toString(16).padStart(8, '0')).join('');
  // Version 4 / RFC 4122 variant bits so the value looks like the UUIDs GERS uses.
  const v = `${hex.slice(0, 12)}4${hex.slice(13, 16)}${((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 32)}`;
  return `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20, 32)}`;
}

const fraction = (x: number) => Math.round(x * 1000) / 1000;
const range = (a: number, b: number) => `[${fraction(a).toFixed(3)}, ${fraction(b).toFixed(3)}]`;

/** The seed of a file's matching: a digest of its bytes. */
export function seedOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function matchRoads(roads: Road[], seed: string): MatchResult {
  const rows: MatchRow[] = [];
  const outcomes: Outcome[] = [];
  for (const road of roads) {
    const h = hashStream(seed, road.id);
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
        gers: uuidFrom([h.next(), h.next(), h.next(), h.next()]),
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

/** LANE_LEVEL_MATCHING results: one row per trace (traceId, mapRevisionId, roads as JSON text). */
export function laneResultsParquet(traces: Trace[], orbisVersion: string, seed: string): Uint8Array {
  const roads = traces.map((t) => {
    const h = hashStream(seed, t.id);
    return JSON.stringify([
      { roadId: uuidFrom([h.next(), h.next(), h.next(), h.next()]), lanes: [1 + (h.next() % 3)] },
    ]);
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
