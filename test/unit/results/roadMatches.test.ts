// How GEM's per-match rows become one verdict per road (full / partial / unmatched, the best GERS id and
// confidence) and how verdicts become the counts and confidence histogram the results page charts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONFIDENCE_BUCKETS,
  confidenceBucket,
  coversWholeLine,
  type GemResultRow,
  MatchStatisticsTally,
  parseLinearRange,
  RoadMatchFold,
} from '../../../shared/results/roadMatches.js';

const row = (lr_id: string | null, confidence: number | null, gers = 'g'): GemResultRow => ({
  id: '1',
  gers,
  confidence,
  lr_id,
});

describe('parseLinearRange', () => {
  it('reads the text GEM writes, ordered, and nothing else', () => {
    expect(parseLinearRange('[0.000, 0.333]')).toEqual([0, 0.333]);
    expect(parseLinearRange('[0.9, 0.1]')).toEqual([0.1, 0.9]);
    expect(parseLinearRange('(0.25 .75)')).toEqual([0.25, 0.75]);
    for (const bad of ['', '[0.1]', '[0.1, 0.2, 0.3]', '[1.5, 0.2]', '[-0.1, 0.5]', 'NaN', null, 42, {}]) {
      expect(parseLinearRange(bad), String(bad)).toBeNull();
    }
  });

  it('refuses text longer than 200 characters without scanning it', () => {
    expect(parseLinearRange(`[0, 1]${' '.repeat(200)}`)).toBeNull();
  });
});

describe('coversWholeLine', () => {
  it('is true when the union of ranges reaches both ends within the tolerance', () => {
    expect(coversWholeLine([[0, 1]])).toBe(true);
    expect(
      coversWholeLine([
        [0.5, 1],
        [0, 0.5],
      ]),
    ).toBe(true);
    expect(
      coversWholeLine([
        [0.005, 0.5],
        [0.505, 0.996],
      ]),
    ).toBe(true);
  });

  it('is false with a gap or a missing end larger than the tolerance', () => {
    expect(
      coversWholeLine([
        [0, 0.4],
        [0.6, 1],
      ]),
    ).toBe(false);
    expect(coversWholeLine([[0.05, 1]])).toBe(false);
    expect(coversWholeLine([[0, 0.9]])).toBe(false);
    expect(coversWholeLine([])).toBe(false);
  });

  it('does not depend on the order of the ranges', () => {
    const range = fc.tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
    );
    fc.assert(
      fc.property(
        fc.array(range.map(([a, b]) => (a <= b ? [a, b] : [b, a]) as [number, number])),
        (ranges) => {
          expect(coversWholeLine([...ranges].reverse())).toBe(coversWholeLine(ranges));
        },
      ),
    );
  });
});

describe('RoadMatchFold', () => {
  it('is unmatched without rows', () => {
    expect(new RoadMatchFold().result()).toEqual({
      match: 'unmatched',
      gers: null,
      confidence: null,
      match_count: 0,
    });
  });

  it('is full when its matches cover the line, keeping the most confident match', () => {
    const fold = new RoadMatchFold();
    fold.add(row('[0.000, 0.500]', 70, 'first'));
    fold.add(row('[0.500, 1.000]', 90, 'second'));
    expect(fold.result()).toEqual({ match: 'full', gers: 'second', confidence: 90, match_count: 2 });
  });

  it('is partial when part of the line is unmatched; ties in confidence go to the longer match', () => {
    const fold = new RoadMatchFold();
    fold.add(row('[0.000, 0.200]', 80, 'short'));
    fold.add(row('[0.300, 0.700]', 80, 'long'));
    expect(fold.result()).toEqual({ match: 'partial', gers: 'long', confidence: 80, match_count: 2 });
  });

  it('counts rows with an unreadable range or confidence as matches without claiming coverage', () => {
    const fold = new RoadMatchFold();
    fold.add(row('somewhere', null, 'x'));
    expect(fold.result()).toEqual({ match: 'partial', gers: 'x', confidence: null, match_count: 1 });
  });

  it('keeps a handful of ranges for a road split into thousands of matches', () => {
    const fold = new RoadMatchFold();
    const n = 5_000;
    for (let i = 0; i < n; i++)
      fold.add(row(`[${(i / n).toFixed(6)}, ${((i + 1) / n).toFixed(6)}]`, i % 100));
    const kept = (fold as unknown as { ranges: unknown[] }).ranges.length;
    expect(kept).toBeLessThanOrEqual(17);
    expect(fold.result()).toMatchObject({ match: 'full', confidence: 99, match_count: n });
  });
});

describe('the statistics the page charts', () => {
  it('buckets confidences by tens, 100 in the last bucket, nothing for none', () => {
    expect([0, 9.99, 10, 59, 99, 100].map(confidenceBucket)).toEqual([0, 0, 1, 5, 9, 9]);
    expect(confidenceBucket(null)).toBeNull();
    expect(confidenceBucket(Number.NaN)).toBeNull();
    expect(confidenceBucket(-5)).toBe(0);
    expect(confidenceBucket(250)).toBe(CONFIDENCE_BUCKETS - 1);
  });

  it('counts every road once by kind and every matched road once in the histogram', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            match: fc.constantFrom('full', 'partial', 'unmatched' as const),
            confidence: fc.option(fc.integer({ min: 0, max: 100 })),
          }),
        ),
        (roads) => {
          const tally = new MatchStatisticsTally();
          for (const r of roads)
            tally.add({ ...r, gers: null, match_count: r.match === 'unmatched' ? 0 : 1 });
          const view = tally.result();
          expect(view.roads).toBe(roads.length);
          expect(view.full + view.partial + view.unmatched).toBe(roads.length);
          const withConfidence = roads.filter((r) => r.match !== 'unmatched' && r.confidence !== null).length;
          expect(view.histogram.counts.reduce((a, b) => a + b, 0)).toBe(withConfidence);
          expect(view.histogram.counts).toHaveLength(CONFIDENCE_BUCKETS);
        },
      ),
    );
  });

  it('hands out a copy, so a caller cannot change the tally', () => {
    const tally = new MatchStatisticsTally();
    tally.add({ match: 'full', gers: 'g', confidence: 95, match_count: 1 });
    tally.result().histogram.counts[9] = 1000;
    expect(tally.result().histogram.counts[9]).toBe(1);
  });
});
