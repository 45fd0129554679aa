/**
 * The counts the summary reports about an enriched run, gathered one road at a time while the join streams:
 * roads and kilometres per `match` kind, the kilometres the matches cover, a 10-bucket histogram of the best
 * match's confidence, and the rows on either side of GEM. Kilometres are geodesic lengths of the lon/lat
 * lines GEM was sent (`matchKind.ts`), rounded to metres only when reported.
 */
import type { MatchKind } from '../formats/types.js';

export const CONFIDENCE_BUCKETS = 10;

export interface EnrichmentCounts {
  /** Features read from the source (every one is in the enriched output). */
  inputFeatures: number;
  /** GEM rows the features became (MultiLineStrings exploded into one row per part). */
  gemRows: number;
  /** Rows in GEM's results file (one per match). */
  resultRows: number;
  /** Results rows whose id named no GEM row of the source: 0 unless GEM or the source changed. */
  unjoinedResultRows: number;
  roads: Record<MatchKind, number>;
  kilometres: {
    full: number;
    partial: number;
    unmatched: number;
    total: number;
    /** The matched parts' length: each road's coverage times its length. */
    covered: number;
  };
  /**
   * Roads by the best match's confidence: bucket i holds confidence in [10·i, 10·i + 10), the last one
   * [90, 100] inclusive. Unmatched roads have no confidence and are in no bucket.
   */
  confidenceHistogram: { from: number; to: number; roads: number }[];
}

export class CountsCollector {
  private readonly counts: EnrichmentCounts = {
    inputFeatures: 0,
    gemRows: 0,
    resultRows: 0,
    unjoinedResultRows: 0,
    roads: { full: 0, partial: 0, unmatched: 0 },
    kilometres: { full: 0, partial: 0, unmatched: 0, total: 0, covered: 0 },
    confidenceHistogram: Array.from({ length: CONFIDENCE_BUCKETS }, (_, i) => ({
      from: i * 10,
      to: i * 10 + 10,
      roads: 0,
    })),
  };
  private joinedRows = 0;

  /** One road: its kind, its length, the fraction its matches cover and its best confidence. */
  add(road: {
    kind: MatchKind;
    km: number;
    covered: number;
    gemRows: number;
    matches: number;
    confidence: number | null;
  }): void {
    const c = this.counts;
    c.inputFeatures++;
    c.gemRows += road.gemRows;
    this.joinedRows += road.matches;
    c.roads[road.kind]++;
    c.kilometres[road.kind] += road.km;
    c.kilometres.total += road.km;
    c.kilometres.covered += road.km * road.covered;
    if (road.confidence !== null) {
      const bucket = Math.min(CONFIDENCE_BUCKETS - 1, Math.max(0, Math.floor(road.confidence / 10)));
      c.confidenceHistogram[bucket]!.roads++;
    }
  }

  /** The counts, kilometres rounded to metres, given the results file's row count. */
  result(resultRows: number): EnrichmentCounts {
    const km = this.counts.kilometres;
    const round = (n: number) => Math.round(n * 1000) / 1000;
    return {
      ...this.counts,
      resultRows,
      unjoinedResultRows: Math.max(0, resultRows - this.joinedRows),
      roads: { ...this.counts.roads },
      kilometres: {
        full: round(km.full),
        partial: round(km.partial),
        unmatched: round(km.unmatched),
        total: round(km.total),
        covered: round(km.covered),
      },
      confidenceHistogram: this.counts.confidenceHistogram.map((b) => ({ ...b })),
    };
  }
}
