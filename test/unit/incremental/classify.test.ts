// The incremental core: fingerprints of prepared GEM rows and the merge walk that classifies the current
// file's rows against the previous file's, checked against a plain Map-based classification of random files.
import { describe, expect, it } from 'vitest';
import { classifyRows, ROW_CHANGED, ROW_NEW, ROW_UNCHANGED } from '../../../shared/incremental/classify.js';
import {
  contentDigest,
  FingerprintBuilder,
  idDigest,
  parseFingerprint,
  serialiseFingerprint,
  sortedHas,
} from '../../../shared/incremental/fingerprint.js';

interface Row {
  id: string;
  wkt: string;
  navigable: boolean | null;
}

function fingerprintOf(rows: Row[]) {
  const builder = new FingerprintBuilder();
  for (const row of rows) builder.add(row.id, row.wkt, row.navigable);
  return builder.finish();
}

/** A deterministic pseudo-random generator (mulberry32), so a failure can be reproduced. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const road = (i: number, shift = 0): Row => ({
  id: `road-${i}`,
  wkt: `LINESTRING (${i} ${shift}, ${i + 1} ${shift + 1})`,
  navigable: i % 3 === 0 ? null : i % 3 === 1,
});

describe('content and id digests', () => {
  it('tell apart what GEM matches on, including a missing is_navigable from false', () => {
    const base = contentDigest('a', 'LINESTRING (0 0, 1 1)', true);
    expect(contentDigest('a', 'LINESTRING (0 0, 1 1)', true)).toBe(base);
    expect(contentDigest('b', 'LINESTRING (0 0, 1 1)', true)).not.toBe(base);
    expect(contentDigest('a', 'LINESTRING (0 0, 1 2)', true)).not.toBe(base);
    expect(contentDigest('a', 'LINESTRING (0 0, 1 1)', false)).not.toBe(base);
    expect(contentDigest('a', 'LINESTRING (0 0, 1 1)', null)).not.toBe(
      contentDigest('a', 'LINESTRING (0 0, 1 1)', false),
    );
    // Framed: moving text between the parts changes the digest.
    expect(contentDigest('a"', 'b', null)).not.toBe(contentDigest('a', '"b', null));
    expect(idDigest('a')).not.toBe(idDigest('b'));
    expect(typeof idDigest('a')).toBe('bigint');
  });
});

describe('classifyRows', () => {
  it('agrees with a plain comparison of random files, row by row', () => {
    const next = random(14);
    const previous: Row[] = [];
    const current: Row[] = [];
    for (let i = 0; i < 5000; i++) {
      const draw = next();
      if (draw < 0.9) previous.push(road(i));
      // 2 % of the previous rows change, 3 % are deleted, and rows the previous file lacked are new.
      if (draw < 0.9) {
        const fate = next();
        if (fate < 0.02) current.push(road(i, 1));
        else if (fate < 0.025) current.push({ ...road(i), navigable: !road(i).navigable });
        else if (fate >= 0.055) current.push(road(i));
      } else current.push(road(i));
    }
    // The current file in another order: classification must not depend on it.
    current.sort(() => next() - 0.5);

    const result = classifyRows(fingerprintOf(previous), fingerprintOf(current));

    const before = new Map(previous.map((row) => [row.id, JSON.stringify(row)]));
    const expected = current.map((row) =>
      !before.has(row.id)
        ? ROW_NEW
        : before.get(row.id) === JSON.stringify(row)
          ? ROW_UNCHANGED
          : ROW_CHANGED,
    );
    expect(Array.from(result.rowClass)).toEqual(expected);
    const nowIds = new Set(current.map((row) => row.id));
    expect(result.counts).toEqual({
      unchanged: expected.filter((c) => c === ROW_UNCHANGED).length,
      changed: expected.filter((c) => c === ROW_CHANGED).length,
      new: expected.filter((c) => c === ROW_NEW).length,
      deleted: previous.filter((row) => !nowIds.has(row.id)).length,
    });
    expect(result.counts.changed).toBeGreaterThan(50);
    expect(result.counts.deleted).toBeGreaterThan(50);
    expect(result.counts.new).toBeGreaterThan(300);
    // The unchanged ids, as the carried results are selected by them.
    for (const [k, row] of current.entries()) {
      expect(sortedHas(result.unchangedIds, idDigest(row.id))).toBe(expected[k] === ROW_UNCHANGED);
    }
  });

  it('handles empty files on either side', () => {
    const rows = [road(1), road(2)];
    expect(classifyRows(fingerprintOf([]), fingerprintOf(rows)).counts).toEqual({
      unchanged: 0,
      changed: 0,
      new: 2,
      deleted: 0,
    });
    expect(classifyRows(fingerprintOf(rows), fingerprintOf([])).counts).toEqual({
      unchanged: 0,
      changed: 0,
      new: 0,
      deleted: 2,
    });
  });

  it('counts a repeated id as a collision, which classification refuses', () => {
    const fingerprint = fingerprintOf([road(1), road(2), { ...road(1), wkt: 'LINESTRING (9 9, 8 8)' }]);
    expect(fingerprint.collisions).toBe(1);
    expect(fingerprint.ids.length).toBe(3);
    expect(new Set(fingerprint.rows).size).toBe(3);
    expect(() => classifyRows(fingerprint, fingerprintOf([road(1)]))).toThrow(/colliding/);
  });
});

describe('stored fingerprints', () => {
  it('read back as written, without row positions', () => {
    const fingerprint = fingerprintOf(Array.from({ length: 3000 }, (_, i) => road(i)));
    const parsed = parseFingerprint(serialiseFingerprint(fingerprint));
    if ('unusable' in parsed) throw new Error(parsed.unusable);
    expect(parsed.ids).toEqual(fingerprint.ids);
    expect(parsed.contents).toEqual(fingerprint.contents);
    expect(parsed.rows).toBeUndefined();
    expect(parsed.collisions).toBe(0);
  });

  it('are refused when truncated, padded, out of order or not a fingerprint', () => {
    const bytes = serialiseFingerprint(fingerprintOf([road(1), road(2), road(3)]));
    expect(parseFingerprint(bytes.subarray(0, bytes.length - 8))).toEqual({
      unusable: expect.stringMatching(/claims 3 rows/),
    });
    expect(parseFingerprint(Buffer.concat([bytes, Buffer.alloc(16)]))).toEqual({
      unusable: expect.stringMatching(/claims 3 rows/),
    });
    expect(parseFingerprint(Buffer.from('PAR1 not a fingerprint'))).toEqual({
      unusable: expect.stringMatching(/not a gem-flow fingerprint/),
    });
    const swapped = Buffer.from(bytes);
    bytes.copy(swapped, 16, 24, 32);
    bytes.copy(swapped, 24, 16, 24);
    expect(parseFingerprint(swapped)).toEqual({ unusable: 'its ids are not in order' });
  });
});
