/**
 * GEM's statistics of several jobs (the parts of a partitioned run, or an earlier run's carried-over results) as
 * one: counts and kilometres add up, ratios are averages weighted by each source's roads (a part of 10 roads
 * does not weigh as much as one of 100,000), and the threshold is kept when all agree. Pure, so an orchestrator
 * may call it. Statistics that are not GEM's documented road-matching shape (shared/tomtom/models.ts
 * `RoadMatchingStatistics`) cannot be combined meaningfully: then the result is null rather than a guess.
 */
import type { RoadMatchingStatistics } from '../tomtom/models.js';

export interface StatisticsSource {
  /** GEM's statistics of one job, as the poll returned them. */
  statistics: Record<string, unknown> | null;
  /** The roads the job matched: its weight when the statistics do not say `num_roads_processed`. */
  roads: number;
}

const RATIOS = [
  'roads_matched_ratio',
  'roads_unmatched_ratio',
  'roads_fully_matched_ratio',
  'roads_partially_matched_ratio',
] as const;
const SUMS = ['kms_processed', 'execution_time_sec'] as const;

/** Ratios are rounded to 1e-6: finer digits would only be the noise of the weighting. */
const RATIO_UNITS = 1e6;

function isRoadStatistics(s: Record<string, unknown> | null): s is RoadMatchingStatistics {
  if (!s) return false;
  return [...RATIOS, ...SUMS, 'confidence_threshold'].every((k) => typeof s[k] === 'number');
}

function weightOf(source: StatisticsSource & { statistics: RoadMatchingStatistics }): number {
  const n = source.statistics.num_roads_processed;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : Math.max(0, source.roads);
}

/**
 * One set of statistics for all sources: null when there is none, or when any source lacks GEM's documented
 * road-matching fields. `execution_time_sec` is the sum of the jobs' run times (GEM time spent, not wall time);
 * `parts` says how many jobs were combined.
 */
export function combineStatistics(sources: readonly StatisticsSource[]): Record<string, unknown> | null {
  if (sources.length === 0) return null;
  if (sources.length === 1) return sources[0]!.statistics;
  const typed: (StatisticsSource & { statistics: RoadMatchingStatistics })[] = [];
  for (const s of sources) {
    if (!isRoadStatistics(s.statistics)) return null;
    typed.push({ ...s, statistics: s.statistics });
  }
  const weights = typed.map(weightOf);
  const roads = weights.reduce((a, b) => a + b, 0);
  const combined: Record<string, unknown> = {};
  const thresholds = new Set(typed.map((s) => s.statistics.confidence_threshold));
  combined.confidence_threshold = thresholds.size === 1 ? [...thresholds][0] : null;
  for (const key of SUMS) {
    const total = typed.reduce((sum, s) => sum + s.statistics[key], 0);
    combined[key] = Math.round(total * 100) / 100;
  }
  combined.num_roads_processed = roads;
  for (const key of RATIOS) {
    const weighted = typed.reduce((sum, s, i) => sum + s.statistics[key] * weights[i]!, 0);
    combined[key] = roads === 0 ? 0 : Math.round((weighted / roads) * RATIO_UNITS) / RATIO_UNITS;
  }
  combined.parts = sources.length;
  return combined;
}
