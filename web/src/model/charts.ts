/**
 * The numbers the match page charts, read through one function from one shape: today the statistics of
 * `GET /api/matches/{id}/map` (counted from GEM's results for the roads on the map), together with GEM's own
 * ratios from the match status, which cover the whole file. Pure.
 */
import type { MatchMapResponse, MatchStatus } from './types.js';

export interface Bar {
  key: string;
  label: string;
  value: number;
}

export interface ChartNumbers {
  /** Roads the counts cover, and all roads in the file. */
  roads: number;
  total: number;
  kinds: Bar[];
  /** Ten buckets of best confidence: 0–9, …, 90–100. */
  histogram: Bar[];
  /** GEM's ratios for the whole file, when the status has them. */
  gemRatios: Bar[];
}

const RATIOS: [string, string][] = [
  ['roads_fully_matched_ratio', 'fully matched'],
  ['roads_partially_matched_ratio', 'partially matched'],
  ['roads_unmatched_ratio', 'unmatched'],
];

export function chartNumbers(map: MatchMapResponse, status: Pick<MatchStatus, 'statistics'>): ChartNumbers {
  const { statistics } = map;
  const width = statistics.histogram.bucketWidth;
  const last = statistics.histogram.counts.length - 1;
  return {
    roads: statistics.roads,
    total: map.total,
    kinds: [
      { key: 'full', label: 'Full', value: statistics.full },
      { key: 'partial', label: 'Partial', value: statistics.partial },
      { key: 'unmatched', label: 'Unmatched', value: statistics.unmatched },
    ],
    histogram: statistics.histogram.counts.map((value, i) => ({
      key: String(i),
      label: i === last ? `${i * width}–${(i + 1) * width}` : `${i * width}–${(i + 1) * width - 1}`,
      value,
    })),
    gemRatios: RATIOS.flatMap(([key, label]) => {
      const value = status.statistics?.[key];
      return typeof value === 'number' ? [{ key, label, value }] : [];
    }),
  };
}
