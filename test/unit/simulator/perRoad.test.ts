// Matching per road, through whole jobs: the same road (id, geometry, is_navigable) gets the same result rows in
// any input file, so matching only the changed rows of a dataset and carrying the others over gives what a
// full re-run gives; and each file's statistics agree with its own result rows.
import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import {
  encodeRoadMatchingRecords,
  type RoadSampleRecords,
  roadMatchingRecords,
} from '../../../local/standins/samples.js';
import type { MatchRow } from '../../../local/standins/simulator/matching.js';
import type { RoadMatchingStatistics } from '../../../local/standins/simulator/types.js';
import { toArrayBuffer } from '../../../local/standins/simulator/validation.js';
import { created, harness, road } from './jobHarness.js';

const all = roadMatchingRecords('valid', { rows: 400, seed: 3 });

/** Rows `indexes` of the sample, as their own file (optionally with a row's geometry replaced). */
function fileOf(indexes: number[], geometry: (i: number, wkt: string) => string = (_, w) => w) {
  const records: RoadSampleRecords = {
    ...all,
    ids: indexes.map((i) => all.ids![i]!),
    geometries: indexes.map((i) => geometry(i, all.geometries![i]!)),
    isNavigable: indexes.map((i) => all.isNavigable![i]!),
  };
  return encodeRoadMatchingRecords(records);
}

/** Runs one job per file to SUCCESS and returns each one's result rows and statistics. */
async function run(files: Record<string, Uint8Array>, overtureRelease = '2026-01-21.0') {
  const h = harness({ durations: { queuedMs: 0, minRunningMs: 1, segmentsPerHour: 1e9 } });
  const ids: Record<string, number> = {};
  for (const [name, bytes] of Object.entries(files)) {
    await h.blobs.write('storage-001', name, bytes);
    ids[name] = (await created(h.store, { ...road(name), overtureRelease })).job_id;
  }
  h.advance(1_000);
  const out: Record<string, { rows: MatchRow[]; statistics: RoadMatchingStatistics }> = {};
  for (const name of Object.keys(files)) {
    const job = (await h.store.get(ids[name]!, 'user-a'))!;
    expect(job.status, job.message).toBe('SUCCESS');
    const bytes = (await h.blobs.read('storage-001', job.result_filename!))!;
    const rows = (await parquetReadObjects({
      file: toArrayBuffer(bytes),
      rowFormat: 'object',
    })) as MatchRow[];
    out[name] = { rows, statistics: job.statistics as RoadMatchingStatistics };
  }
  return out;
}

const byId = (rows: MatchRow[]) => {
  const map = new Map<string, MatchRow[]>();
  for (const row of rows) map.set(row.id, [...(map.get(row.id) ?? []), row]);
  return map;
};
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('matching per road', () => {
  it('gives a road the same GERS ids, confidences and ranges in any file', async () => {
    // Overlapping files, the second in another order and with its WKT written differently.
    const respelled = (_: number, wkt: string) =>
      wkt.replace('LINESTRING (', 'LINESTRING(').replace(/0+(?=[ ,)])/g, '');
    const results = await run({
      'full.parquet': fileOf(range(0, 400)),
      'a.parquet': fileOf(range(0, 250)),
      'b.parquet': fileOf(range(150, 400).reverse(), respelled),
    });
    expect(respelled(0, all.geometries![0]!)).not.toBe(all.geometries![0]);
    const full = byId(results['full.parquet']!.rows);
    for (const name of ['a.parquet', 'b.parquet']) {
      const part = byId(results[name]!.rows);
      expect(part.size).toBeGreaterThan(100);
      for (const [id, rows] of part) expect(rows, `${name} ${id}`).toEqual(full.get(id));
    }
    // Carrying a's rows over for roads 0–149 and adding b's gives the full run's rows.
    const onlyInA = new Set(range(0, 150).map((i) => String(all.ids![i])));
    const merged = new Map([...byId(results['a.parquet']!.rows)].filter(([id]) => onlyInA.has(id)));
    for (const [id, rows] of byId(results['b.parquet']!.rows)) merged.set(id, rows);
    expect(new Map([...merged].sort())).toEqual(new Map([...full].sort()));
  });

  it('gives a changed road new matches and leaves every other road as it was', async () => {
    const before = byId((await run({ 'before.parquet': fileOf(range(0, 100)) }))['before.parquet']!.rows);
    // A road that has matches, moved by a millionth of a degree at its last vertex.
    const changed = range(0, 100).find((i) => before.has(String(all.ids![i])))!;
    const moved = (i: number, wkt: string) =>
      i === changed ? wkt.replace(/(\d)\)$/, (_, d) => `${(Number(d) + 1) % 10})`) : wkt;
    const after = byId((await run({ 'after.parquet': fileOf(range(0, 100), moved) }))['after.parquet']!.rows);
    const changedId = String(all.ids![changed]);
    expect(after.get(changedId)).not.toEqual(before.get(changedId));
    before.delete(changedId);
    after.delete(changedId);
    expect(after).toEqual(before);
  });

  it('matches again with other results under another Overture release', async () => {
    const file = fileOf(range(0, 100));
    const [one, other] = await Promise.all([
      run({ 'r.parquet': file }),
      run({ 'r.parquet': file }, '2026-02-18.0'),
    ]);
    expect(other['r.parquet']!.rows).not.toEqual(one['r.parquet']!.rows);
  });

  it("reports statistics that agree with the file's own result rows", async () => {
    const results = await run({ 'a.parquet': fileOf(range(0, 400)), 'b.parquet': fileOf(range(33, 90)) });
    for (const { rows, statistics } of Object.values(results)) {
      const roads = statistics.num_roads_processed;
      const matched = byId(rows);
      // A fully matched road's pieces run from 0 to 1; a partial one's cover less.
      const full = [...matched.values()].filter((pieces) => {
        const ranges = pieces.map((p) => JSON.parse(p.lr_id) as [number, number]);
        return ranges[0]![0] === 0 && ranges.at(-1)![1] === 1;
      }).length;
      const ratio = (n: number) => Math.round((n * 10_000) / roads) / 10_000;
      expect(statistics.roads_matched_ratio).toBe(ratio(matched.size));
      expect(statistics.roads_fully_matched_ratio).toBe(ratio(full));
      expect(statistics.roads_matched_ratio + statistics.roads_unmatched_ratio).toBe(1);
      expect(statistics.roads_matched_ratio).toBeGreaterThan(0.5);
    }
    expect(results['b.parquet']!.statistics.num_roads_processed).toBe(57);
  });
});
