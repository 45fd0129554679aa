// Combining GEM's statistics of several jobs: sums add up, ratios are weighted by roads, odd shapes give null.
import { describe, expect, it } from 'vitest';
import { combineStatistics } from '../../../shared/results/statistics.js';

const stats = (roads: number, matched: number, full: number, km: number, seconds: number) => ({
  confidence_threshold: 60,
  execution_time_sec: seconds,
  kms_processed: km,
  num_roads_processed: roads,
  roads_matched_ratio: matched,
  roads_unmatched_ratio: Math.round((1 - matched) * 1e4) / 1e4,
  roads_fully_matched_ratio: full,
  roads_partially_matched_ratio: Math.round((matched - full) * 1e4) / 1e4,
});

describe('combineStatistics', () => {
  it('weights ratios by roads and sums roads, kilometres and GEM time', () => {
    const combined = combineStatistics([
      { statistics: stats(100_000, 0.9, 0.7, 1000.5, 3600), roads: 100_000 },
      { statistics: stats(10, 0.1, 0.1, 1.25, 1), roads: 10 },
    ]);
    // 0.9 × 100000 + 0.1 × 10 = 90001 of 100010 roads matched.
    expect(combined).toEqual({
      confidence_threshold: 60,
      execution_time_sec: 3601,
      kms_processed: 1001.75,
      num_roads_processed: 100_010,
      roads_matched_ratio: Math.round((90_001 / 100_010) * 1e6) / 1e6,
      roads_unmatched_ratio: Math.round((10_009 / 100_010) * 1e6) / 1e6,
      roads_fully_matched_ratio: Math.round((70_001 / 100_010) * 1e6) / 1e6,
      roads_partially_matched_ratio: Math.round((20_000 / 100_010) * 1e6) / 1e6,
      parts: 2,
    });
    const c = combined as Record<string, number>;
    expect(c.roads_matched_ratio! + c.roads_unmatched_ratio!).toBeCloseTo(1, 5);
  });

  it('gives one source’s statistics unchanged, none as null, and null when a source is not GEM’s road shape', () => {
    const one = stats(5, 1, 1, 2, 3);
    expect(combineStatistics([{ statistics: one, roads: 5 }])).toBe(one);
    expect(combineStatistics([])).toBeNull();
    expect(
      combineStatistics([
        { statistics: one, roads: 5 },
        { statistics: { lanes: 3 }, roads: 2 },
      ]),
    ).toBeNull();
    expect(
      combineStatistics([
        { statistics: one, roads: 5 },
        { statistics: null, roads: 2 },
      ]),
    ).toBeNull();
  });

  it('falls back to the rows given when a job does not say how many roads it processed, and drops a threshold that differs', () => {
    const { num_roads_processed: _, ...noCount } = stats(0, 0.5, 0.5, 1, 1);
    const combined = combineStatistics([
      { statistics: noCount, roads: 30 },
      { statistics: { ...stats(10, 1, 1, 1, 1), confidence_threshold: 70 }, roads: 10 },
    ]) as Record<string, number | null>;
    expect(combined.num_roads_processed).toBe(40);
    expect(combined.roads_matched_ratio).toBe(0.625);
    expect(combined.confidence_threshold).toBeNull();
  });
});
