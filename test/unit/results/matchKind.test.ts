import { describe, expect, it } from 'vitest';
import { bytesSourceFile } from '../../../shared/formats/sourceFile.js';
import type { GersMatch } from '../../../shared/formats/types.js';
import {
  GemResultsError,
  MatchIndex,
  parseLinearRange,
  parseResultRow,
} from '../../../shared/results/gemResults.js';
import {
  bestMatch,
  coverage,
  lineLengthKm,
  matchKind,
  unionFraction,
} from '../../../shared/results/matchKind.js';
import { scratch } from '../formats/support.js';
import { gersId, resultsParquet } from './support.js';

const dir = scratch();
const where = { row: 7, column: 'lr_id' };

function m(confidence: number, lrFrom: number | null, lrTo: number | null, part = 0, n = 0): GersMatch {
  return { gers: gersId(n), confidence, lrFrom, lrTo, gersFrom: null, gersTo: null, part };
}

describe("GEM's linear-reference text", () => {
  it('parses "[a, b]" into numbers, with any spacing; null and empty text are no range', () => {
    expect(parseLinearRange('[0.000, 0.500]', where)).toEqual({ from: 0, to: 0.5 });
    expect(parseLinearRange(' [ 0.25,1 ] ', where)).toEqual({ from: 0.25, to: 1 });
    expect(parseLinearRange('[1.000, 0.000]', where)).toEqual({ from: 1, to: 0 });
    expect(parseLinearRange('[1e-3, 1.0000001]', where)).toEqual({ from: 0.001, to: 1 });
    expect(parseLinearRange(new TextEncoder().encode('[0.1, 0.2]'), where)).toEqual({ from: 0.1, to: 0.2 });
    expect(parseLinearRange(null, where)).toBeNull();
    expect(parseLinearRange('  ', where)).toBeNull();
  });

  it.each([
    ['[0.1; 0.2]'],
    ['0.1, 0.2'],
    ['[NaN, 0.2]'],
    ['[0.1]'],
    ['[0.1, 0.2, 0.3]'],
    ['[0.1, 12.5]'],
    ['[-0.5, 0.2]'],
    ['[Infinity, 1]'],
  ])('refuses %s with the row, the column and the text', (text) => {
    expect(() => parseLinearRange(text, where)).toThrow(GemResultsError);
    expect(() => parseLinearRange(text, where)).toThrow(/row 7: lr_id is/);
  });

  it('refuses a number where text belongs, and a row without id, gers or a 0–100 confidence', () => {
    expect(() => parseLinearRange(0.5, where)).toThrow(/a number; gem-flow expects text/);
    const row = { id: 'a', gers: gersId(1), confidence: 80, lr_id: '[0, 1]', lr_gers: null };
    expect(parseResultRow(row, 0).match).toMatchObject({ lrFrom: 0, lrTo: 1, gersFrom: null });
    expect(parseResultRow({ ...row, id: 12n }, 0).id).toBe('12');
    expect(() => parseResultRow({ ...row, id: null }, 3)).toThrow(/row 3: id/);
    expect(() => parseResultRow({ ...row, gers: '' }, 3)).toThrow(/row 3: gers/);
    expect(() => parseResultRow({ ...row, confidence: 101 }, 3)).toThrow(/row 3: confidence/);
    expect(() => parseResultRow({ ...row, confidence: Number.NaN }, 3)).toThrow(/row 3: confidence/);
  });

  it('indexes a results file by id, keeping GEM order, and names a missing column', async () => {
    const rows = [
      { id: 'a', gers: gersId(1), confidence: 60, lr_id: '[0, 0.5]', lr_gers: null },
      { id: 'b', gers: gersId(2), confidence: 70, lr_id: '[0, 1]', lr_gers: '[0.2, 0.4]' },
      { id: 'a', gers: gersId(3), confidence: 80, lr_id: '[0.5, 1]', lr_gers: null },
    ];
    const index = await MatchIndex.build(bytesSourceFile(resultsParquet(rows), 'r.parquet'), dir);
    try {
      expect(index.rowCount).toBe(3);
      expect(index.lookup('a', 2).map((x) => [x.gers, x.part])).toEqual([
        [gersId(1), 2],
        [gersId(3), 2],
      ]);
      expect(index.lookup('b', 0)[0]).toMatchObject({ gersFrom: 0.2, gersTo: 0.4 });
      expect(index.lookup('c', 0)).toEqual([]);
    } finally {
      index.close();
    }
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const noGers = new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: 'id', data: ['a'], type: 'STRING' },
          { name: 'confidence', data: [1], type: 'INT32' },
        ],
      }),
    );
    await expect(MatchIndex.build(bytesSourceFile(noGers, 'r.parquet'), dir)).rejects.toThrow(
      /no gers column/,
    );
    await expect(
      MatchIndex.build(bytesSourceFile(new Uint8Array(40), 'r.parquet'), dir),
    ).rejects.toBeInstanceOf(GemResultsError);
  });
});

describe('match kind, best match and coverage', () => {
  it('the best match is the most confident, then the longest, then the first', () => {
    expect(bestMatch([])).toBeNull();
    expect(bestMatch([m(70, 0, 0.2, 0, 1), m(90, 0, 0.1, 0, 2)])?.gers).toBe(gersId(2));
    expect(bestMatch([m(70, 0, 0.2, 0, 1), m(70, 0.2, 0.9, 0, 2)])?.gers).toBe(gersId(2));
    expect(bestMatch([m(70, 0.9, 0.2, 0, 1), m(70, 0, 0.5, 0, 2)])?.gers).toBe(gersId(1));
    expect(bestMatch([m(70, 0, 0.5, 0, 1), m(70, 0.5, 1, 0, 2)])?.gers).toBe(gersId(1));
    expect(bestMatch([m(70, null, null, 0, 1), m(70, 0, 0.1, 0, 2)])?.gers).toBe(gersId(2));
  });

  it('unions overlapping and reversed ranges', () => {
    expect(unionFraction([])).toBe(0);
    expect(
      unionFraction([
        [0, 0.5],
        [0.25, 0.75],
      ]),
    ).toBeCloseTo(0.75);
    expect(
      unionFraction([
        [0.6, 0.4],
        [0, 0.1],
      ]),
    ).toBeCloseTo(0.3);
    expect(
      unionFraction([
        [0, 0.5],
        [0.5, 1],
      ]),
    ).toBe(1);
  });

  it('weights a MultiLineString’s parts by length; equal weights when every part is empty', () => {
    const parts = new Map([
      [0, 3],
      [1, 1],
    ]);
    expect(coverage([m(80, 0, 1, 0)], parts)).toBeCloseTo(0.75);
    expect(coverage([m(80, 0, 1, 1)], parts)).toBeCloseTo(0.25);
    expect(coverage([m(80, 0, 1, 0), m(80, 0, 1, 1)], parts)).toBe(1);
    expect(
      coverage(
        [m(80, 0, 1, 1)],
        new Map([
          [0, 0],
          [1, 0],
        ]),
      ),
    ).toBeCloseTo(0.5);
    expect(coverage([m(80, null, null, 0)], parts)).toBe(0);
    expect(coverage([], new Map())).toBe(0);
  });

  it('full from 0.99 coverage, partial below with a match, unmatched with none', () => {
    expect(matchKind(1, 0.99)).toBe('full');
    expect(matchKind(1, 0.989)).toBe('partial');
    expect(matchKind(2, 0)).toBe('partial');
    expect(matchKind(0, 0)).toBe('unmatched');
  });

  it('measures lines by the haversine formula (1° of latitude ≈ 111.2 km)', () => {
    expect(
      lineLengthKm([
        [4.9, 52],
        [4.9, 53],
      ]),
    ).toBeCloseTo(111.195, 2);
    expect(lineLengthKm([[0, 0]])).toBe(0);
    // Two points in central Amsterdam, 0.65 km apart north–south and 0.49 km east–west: 0.815 km.
    expect(
      lineLengthKm([
        [4.90027, 52.37896],
        [4.89307, 52.37311],
      ]),
    ).toBeCloseTo(0.815, 1);
  });
});
