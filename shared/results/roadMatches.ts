/**
 * What GEM's results say about one road, and about many. GEM's ROAD_MATCHING results have one row per match
 * (`id`, `gers`, `confidence`, `lr_id`, `lr_gers`), so a road has 0..n rows; this module folds a road's rows
 * into one verdict (`full`, `partial` or `unmatched`, the best match's GERS id and confidence, the number of
 * matches) and a set of roads into the counts and the confidence histogram the results page charts. The best
 * match is the one with the highest confidence, then the longest matched part of the road. A road is `full`
 * when its matches together cover the whole line: the union of their `lr_id` ranges (fractions 0–1 of the
 * line, gaps of at most `FULL_COVERAGE_TOLERANCE` closed) runs from 0 to 1 within that tolerance. Pure.
 */
import type { MatchKind } from '../formats/types.js';

/** How much of a line (as a fraction of its length) may go unmatched, at an end or in a gap, for `full`. */
export const FULL_COVERAGE_TOLERANCE = 0.01;
/** Buckets of the confidence histogram: 0–9, 10–19, …, 90–100 (GEM's confidence is 0–100). */
export const CONFIDENCE_BUCKETS = 10;
export const CONFIDENCE_BUCKET_WIDTH = 10;

/** One row of GEM's results, as read (the text columns unparsed). */
export interface GemResultRow {
  id: string;
  gers: string | null;
  confidence: number | null;
  lr_id: string | null;
}

/** One road's verdict: the properties a map feature carries besides its index and id. */
export interface RoadMatch {
  match: MatchKind;
  gers: string | null;
  confidence: number | null;
  match_count: number;
}

export type LinearRange = [from: number, to: number];

const NUMBER = /[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g;

/**
 * An `lr_id` (or `lr_gers`) as `[from, to]` fractions of the line. GEM documents the column but not its
 * encoding; what it writes is text like `[0.000, 0.333]`, so any text holding exactly two numbers within
 * 0–1 is read as a range (ordered), and anything else as unknown (null).
 */
export function parseLinearRange(text: unknown): LinearRange | null {
  if (typeof text !== 'string' || text.length > 200) return null;
  const numbers = text.match(NUMBER)?.map(Number) ?? [];
  if (numbers.length !== 2) return null;
  const [a, b] = numbers as [number, number];
  if (![a, b].every((n) => Number.isFinite(n) && n >= 0 && n <= 1)) return null;
  return a <= b ? [a, b] : [b, a];
}

/** Sorted, disjoint ranges with gaps of at most the tolerance closed. */
function mergeRanges(ranges: LinearRange[], tolerance: number): LinearRange[] {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
  const merged: LinearRange[] = [];
  for (const [from, to] of sorted) {
    const last = merged[merged.length - 1];
    if (last && from <= last[1] + tolerance) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged;
}

/** True when the ranges together cover 0–1 within the tolerance. */
export function coversWholeLine(ranges: LinearRange[], tolerance = FULL_COVERAGE_TOLERANCE): boolean {
  const merged = mergeRanges(ranges, tolerance);
  return merged.length === 1 && merged[0]![0] <= tolerance && merged[0]![1] >= 1 - tolerance;
}

/**
 * A road's rows folded one at a time, in whatever order they come. Memory per road: the best match and the
 * matched ranges, kept merged, so a road split over many Overture segments keeps a handful of ranges.
 */
export class RoadMatchFold {
  private count = 0;
  private best: { gers: string | null; confidence: number; length: number } | undefined;
  private ranges: LinearRange[] = [];

  add(row: GemResultRow): void {
    this.count++;
    const range = parseLinearRange(row.lr_id);
    if (range) {
      this.ranges.push(range);
      if (this.ranges.length > 16) this.ranges = mergeRanges(this.ranges, FULL_COVERAGE_TOLERANCE);
    }
    const confidence =
      typeof row.confidence === 'number' && Number.isFinite(row.confidence) ? row.confidence : -1;
    const length = range ? range[1] - range[0] : 0;
    const best = this.best;
    if (!best || confidence > best.confidence || (confidence === best.confidence && length > best.length)) {
      this.best = { gers: row.gers, confidence, length };
    }
  }

  result(): RoadMatch {
    if (this.count === 0 || !this.best)
      return { match: 'unmatched', gers: null, confidence: null, match_count: 0 };
    return {
      match: coversWholeLine(this.ranges) ? 'full' : 'partial',
      gers: this.best.gers,
      confidence: this.best.confidence >= 0 ? this.best.confidence : null,
      match_count: this.count,
    };
  }
}

/** The numbers the results page charts: roads by kind and the best confidence of each matched road. */
export interface MatchStatisticsView {
  /** Roads counted (all of the input, or the first `roads` when the response says `truncated`). */
  roads: number;
  full: number;
  partial: number;
  unmatched: number;
  histogram: {
    bucketWidth: typeof CONFIDENCE_BUCKET_WIDTH;
    /** `counts[i]`: matched roads whose best confidence is in [10·i, 10·i + 10), the last bucket holding 100. */
    counts: number[];
  };
}

/** The histogram bucket of a confidence (0–100); null for none. */
export function confidenceBucket(confidence: number | null): number | null {
  if (confidence === null || !Number.isFinite(confidence)) return null;
  const bucket = Math.floor(confidence / CONFIDENCE_BUCKET_WIDTH);
  return Math.min(CONFIDENCE_BUCKETS - 1, Math.max(0, bucket));
}

/** Counts roads by kind and their best confidences into the histogram, one road at a time. */
export class MatchStatisticsTally {
  private readonly view: MatchStatisticsView = {
    roads: 0,
    full: 0,
    partial: 0,
    unmatched: 0,
    histogram: { bucketWidth: CONFIDENCE_BUCKET_WIDTH, counts: new Array(CONFIDENCE_BUCKETS).fill(0) },
  };

  add(road: RoadMatch): void {
    this.view.roads++;
    this.view[road.match]++;
    const bucket = road.match === 'unmatched' ? null : confidenceBucket(road.confidence);
    if (bucket !== null) this.view.histogram.counts[bucket]!++;
  }

  result(): MatchStatisticsView {
    return structuredClone(this.view);
  }
}
