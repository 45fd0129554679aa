/**
 * What GEM's matches of one road say about it: the best match, how much of the road the matches cover, and
 * so its `match` kind. Pure functions of the matches and the lengths of the road's parts.
 *
 * Definitions (also in the README):
 * - **best match**: the highest `confidence`; among equals, the longest matched part (`|lr_to − lr_from|`);
 *   among equals again, the first in GEM's order.
 * - **coverage**: for each part GEM saw (a LineString is one part, a MultiLineString's parts are GEM rows of
 *   their own), the union of its matches' `lr_id` ranges as a fraction of that part; the parts' fractions
 *   weighted by their geodesic length (equally when every part has length 0). A match without an `lr_id`
 *   range covers nothing measurable.
 * - **match**: `full` when coverage ≥ `FULL_COVERAGE` (0.99, leaving room for GEM's 3-decimal text);
 *   `partial` when the road has at least one match but less coverage; `unmatched` when it has none.
 */
import type { Enrichment, GersMatch, MatchKind, Position } from '../formats/types.js';

export const FULL_COVERAGE = 0.99;

/** Mean Earth radius (IUGG), km: the haversine distance on this sphere is within 0.5 % of the ellipsoid's. */
const EARTH_RADIUS_KM = 6371.0088;
const RAD = Math.PI / 180;

/**
 * Length of a lon/lat line in km, by the haversine formula on the mean-radius sphere. A road summary needs
 * kilometres to a few per mille, which the sphere gives (geodesics on the WGS 84 ellipsoid differ by at most
 * about 0.5 %) without a geodesy dependency.
 */
export function lineLengthKm(line: readonly Position[]): number {
  let km = 0;
  for (let i = 1; i < line.length; i++) {
    const [lon1, lat1] = line[i - 1]!;
    const [lon2, lat2] = line[i]!;
    const dLat = (lat2! - lat1!) * RAD;
    const dLon = (lon2! - lon1!) * RAD;
    const a =
      Math.sin(dLat / 2) ** 2 + Math.cos(lat1! * RAD) * Math.cos(lat2! * RAD) * Math.sin(dLon / 2) ** 2;
    km += 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
  }
  return km;
}

/** Length of the union of ranges (each `[min, max]` of its ends), as a fraction 0–1. */
export function unionFraction(ranges: readonly (readonly [number, number])[]): number {
  if (ranges.length === 0) return 0;
  const sorted = ranges.map(([a, b]) => (a <= b ? [a, b] : [b, a])).sort((x, y) => x[0]! - y[0]!);
  let total = 0;
  let [start, end] = sorted[0]!;
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = sorted[i]!;
    if (a! > end!) {
      total += end! - start!;
      [start, end] = [a, b];
    } else if (b! > end!) end = b;
  }
  return Math.min(1, total + (end! - start!));
}

function matchedLength(m: GersMatch): number {
  return m.lrFrom === null || m.lrTo === null ? 0 : Math.abs(m.lrTo - m.lrFrom);
}

/** The best match (see the module comment), or null for none. */
export function bestMatch(matches: readonly GersMatch[]): GersMatch | null {
  let best: GersMatch | null = null;
  for (const m of matches) {
    if (
      best === null ||
      m.confidence > best.confidence ||
      (m.confidence === best.confidence && matchedLength(m) > matchedLength(best))
    ) {
      best = m;
    }
  }
  return best;
}

/** The coverage of a road by its matches; `partKm[p]` is the length of part p (the parts GEM saw). */
export function coverage(matches: readonly GersMatch[], partKm: ReadonlyMap<number, number>): number {
  if (partKm.size === 0) return 0;
  const byPart = new Map<number, [number, number][]>();
  for (const m of matches) {
    if (m.lrFrom === null || m.lrTo === null) continue;
    const list = byPart.get(m.part) ?? [];
    list.push([m.lrFrom, m.lrTo]);
    byPart.set(m.part, list);
  }
  let totalKm = 0;
  for (const km of partKm.values()) totalKm += km;
  let covered = 0;
  for (const [part, km] of partKm) {
    const weight = totalKm > 0 ? km / totalKm : 1 / partKm.size;
    covered += weight * unionFraction(byPart.get(part) ?? []);
  }
  return Math.min(1, covered);
}

export function matchKind(matchCount: number, covered: number): MatchKind {
  if (matchCount === 0) return 'unmatched';
  return covered >= FULL_COVERAGE ? 'full' : 'partial';
}

/** The enrichment columns of a road from its matches and coverage. */
export function enrichmentOf(matches: readonly GersMatch[], covered: number): Enrichment {
  const best = bestMatch(matches);
  return {
    gers: best?.gers ?? null,
    confidence: best?.confidence ?? null,
    lr_from: best?.lrFrom ?? null,
    lr_to: best?.lrTo ?? null,
    match: matchKind(matches.length, covered),
    match_count: matches.length,
  };
}
