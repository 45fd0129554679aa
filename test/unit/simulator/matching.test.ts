import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import {
  CONFIDENCE_THRESHOLD,
  computeStatistics,
  haversineKm,
  matchRoads,
  resultFilename,
  roadResultsParquet,
} from '../../../local/standins/simulator/matching.js';
import { type Road, toArrayBuffer } from '../../../local/standins/simulator/validation.js';

/** Small seeded PRNG so the "random" inputs are reproducible when a case fails. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomRoads(seed: number): Road[] {
  const rand = prng(seed);
  const n = Math.floor(rand() * 400);
  return Array.from({ length: n }, (_, i) => {
    const lon = rand() * 360 - 180;
    const lat = rand() * 170 - 85;
    return {
      id: `r${seed}-${i}`,
      coordinates: [
        [lon, lat],
        [Math.min(180, lon + rand() * 0.01), Math.min(90, lat + rand() * 0.01)],
      ] as [number, number][],
      navigable: rand() < 0.8,
    };
  });
}

describe('statistics invariants', () => {
  it('hold exactly for 300 random inputs', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const roads = randomRoads(seed);
      const { outcomes } = matchRoads(roads, `seed-${seed}`);
      const s = computeStatistics(roads, outcomes, 123.456);
      const units = (x: number) => Math.round(x * 10_000);
      expect(s.roads_matched_ratio + s.roads_unmatched_ratio).toBe(1);
      expect(units(s.roads_fully_matched_ratio) + units(s.roads_partially_matched_ratio)).toBe(
        units(s.roads_matched_ratio),
      );
      for (const r of [
        s.roads_matched_ratio,
        s.roads_unmatched_ratio,
        s.roads_fully_matched_ratio,
        s.roads_partially_matched_ratio,
      ]) {
        expect(r).toBeGreaterThanOrEqual(0);
        expect(r).toBeLessThanOrEqual(1);
        expect(units(r) / 10_000).toBe(r); // at most 4 decimals
      }
      expect(s.num_roads_processed).toBe(roads.length);
      const full = outcomes.filter((o) => o === 'full').length;
      const matched = outcomes.filter((o) => o !== 'none').length;
      if (roads.length > 0) {
        expect(Math.abs(s.roads_fully_matched_ratio - full / roads.length)).toBeLessThanOrEqual(0.00005);
        expect(Math.abs(s.roads_matched_ratio - matched / roads.length)).toBeLessThanOrEqual(0.00005);
      }
      expect(s.confidence_threshold).toBe(CONFIDENCE_THRESHOLD);
      expect(s.execution_time_sec).toBe(123.46);
    }
  });

  it('reports zero matched and everything unmatched for an empty file', () => {
    const s = computeStatistics([], [], 300);
    expect([s.roads_matched_ratio, s.roads_unmatched_ratio, s.num_roads_processed, s.kms_processed]).toEqual([
      0, 1, 0, 0,
    ]);
  });

  it('sums haversine lengths for kms_processed', () => {
    // One degree of latitude is about 111.2 km on the mean-radius sphere.
    expect(haversineKm([0, 0], [0, 1])).toBeCloseTo(111.195, 2);
    const roads: Road[] = [
      {
        id: 'a',
        coordinates: [
          [0, 0],
          [0, 1],
          [0, 2],
        ],
        navigable: true,
      },
      {
        id: 'b',
        coordinates: [
          [10, 0],
          [10, 1],
        ],
        navigable: true,
      },
    ];
    const s = computeStatistics(roads, ['full', 'none'], 1);
    expect(s.kms_processed).toBeCloseTo(3 * 111.195, 1);
  });
});

describe('matchRoads', () => {
  const roads = randomRoads(42);

  it('is deterministic for the same seed and differs for another', () => {
    expect(matchRoads(roads, 'x')).toEqual(matchRoads(roads, 'x'));
    expect(matchRoads(roads, 'y').rows).not.toEqual(matchRoads(roads, 'x').rows);
  });

  it('emits rows only for matched roads, with valid GERS UUIDs and confidences ≥ the threshold', () => {
    const { rows, outcomes } = matchRoads(roads, 's');
    const matchedIds = new Set(roads.filter((_, i) => outcomes[i] !== 'none').map((r) => r.id));
    expect(new Set(rows.map((r) => r.id))).toEqual(matchedIds);
    for (const row of rows) {
      expect(row.gers).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Number.isInteger(row.confidence)).toBe(true);
      expect(row.confidence).toBeGreaterThanOrEqual(CONFIDENCE_THRESHOLD);
      expect(row.confidence).toBeLessThanOrEqual(100);
      expect(row.lr_id).toMatch(/^\[\d\.\d{3}, \d\.\d{3}\]$/);
    }
    // A fully matched road's pieces cover its whole length.
    const fullId = roads.find((_, i) => outcomes[i] === 'full')!.id;
    const pieces = rows.filter((r) => r.id === fullId).map((r) => JSON.parse(r.lr_id) as number[]);
    expect(pieces[0]![0]).toBe(0);
    expect(pieces.at(-1)![1]).toBe(1);
  });

  it('writes a results Parquet with the documented columns', async () => {
    const { rows } = matchRoads(roads, 's');
    const bytes = roadResultsParquet(rows);
    const back = await parquetReadObjects({ file: toArrayBuffer(bytes), rowFormat: 'object' });
    expect(back).toEqual(rows.map((r) => ({ ...r })));
    const empty = await parquetReadObjects({
      file: toArrayBuffer(roadResultsParquet([])),
      rowFormat: 'object',
    });
    expect(empty).toEqual([]);
  });
});

describe('resultFilename', () => {
  it.each([
    ['test_data.parquet', 'test_data.results.parquet'],
    ['dir/a.b.parquet', 'dir/a.b.results.parquet'],
    ['noext', 'noext.results.parquet'],
    ['dir.v2/file', 'dir.v2/file.results.parquet'],
  ])('%s → %s', (input, out) => expect(resultFilename(input)).toBe(out));
});
