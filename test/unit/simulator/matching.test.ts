/**
 * Unit tests of `local/standins/simulator/matching.ts`: statistics invariants; matchRoads; resultFilename.
 */
import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import {
  CONFIDENCE_THRESHOLD,
  computeStatistics,
  haversineKm,
  type MatchContext,
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

const release = (version: string): MatchContext => ({ jobType: 'ROAD_MATCHING', version });
const R1 = release('2026-01-21.0');

describe('statistics invariants', () => {
  it('hold exactly for 300 random inputs', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const roads = randomRoads(seed);
      const { outcomes } = matchRoads(roads, release(`2026-01-${seed}.0`));
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
  const rowsOf = (result: ReturnType<typeof matchRoads>, id: string) =>
    result.rows.filter((r) => r.id === id);

  it('is deterministic for the same release and differs for another', () => {
    expect(matchRoads(roads, R1)).toEqual(matchRoads(roads, R1));
    expect(matchRoads(roads, release('2026-02-18.0')).rows).not.toEqual(matchRoads(roads, R1).rows);
  });

  it('gives a road the same rows in any file, whatever its neighbours and its position', () => {
    const whole = matchRoads(roads, R1);
    // Another file: a reversed subset plus roads of its own.
    const other = [...roads.slice(100, 250).reverse(), ...randomRoads(7)];
    const part = matchRoads(other, R1);
    for (const road of roads.slice(100, 250)) {
      expect(rowsOf(part, road.id), road.id).toEqual(rowsOf(whole, road.id));
    }
    // One road on its own, too.
    const single = roads.find((_, i) => whole.outcomes[i] === 'partial')!;
    expect(matchRoads([single], R1).rows).toEqual(rowsOf(whole, single.id));
  });

  it("changes a road's rows when its geometry, is_navigable or id changes, and no other road's", () => {
    const whole = matchRoads(roads, R1);
    const i = whole.outcomes.indexOf('full');
    const road = roads[i]!;
    const moved = {
      ...road,
      coordinates: road.coordinates.map(([x, y]) => [x, y + 1e-7]) as [number, number][],
    };
    const variants = [moved, { ...road, navigable: !road.navigable }, { ...road, id: `${road.id}-b` }];
    for (const variant of variants) {
      const edited = roads.map((r, j) => (j === i ? variant : r));
      const result = matchRoads(edited, R1);
      expect(result.rows.filter((r) => r.id === variant.id)).not.toEqual(rowsOf(whole, road.id));
      const others = (m: typeof whole) => m.rows.filter((r) => r.id !== road.id && r.id !== variant.id);
      expect(others(result)).toEqual(others(whole));
    }
  });

  it('emits rows only for matched roads, with valid GERS UUIDs and confidences ≥ the threshold', () => {
    const { rows, outcomes } = matchRoads(roads, R1);
    const matchedIds = new Set(roads.filter((_, i) => outcomes[i] !== 'none').map((r) => r.id));
    expect(new Set(rows.map((r) => r.id))).toEqual(matchedIds);
    for (const row of rows) {
      expect(row.gers).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Number.isInteger(row.confidence)).toBe(true);
      expect(row.confidence).toBeGreaterThanOrEqual(CONFIDENCE_THRESHOLD);
      expect(row.confidence).toBeLessThanOrEqual(100);
      expect(row.lr_id).toMatch(/^\[\d\.\d{3}, \d\.\d{3}\]$/);
    }
    // A fully matched road's pieces cover its whole length; a partial one's do not.
    const pieces = (outcome: string) => {
      const id = roads.find((_, i) => outcomes[i] === outcome)!.id;
      return rows.filter((r) => r.id === id).map((r) => JSON.parse(r.lr_id) as number[]);
    };
    expect([pieces('full')[0]![0], pieces('full').at(-1)![1]]).toEqual([0, 1]);
    const partial = pieces('partial');
    expect(partial.at(-1)![1]! - partial[0]![0]!).toBeLessThan(1);
  });

  it('writes a results Parquet with the documented columns', async () => {
    const { rows } = matchRoads(roads, R1);
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
