// Splitting a GEM-ready Parquet into parts: every row lands in exactly one part, unchanged; part sizes differ by
// at most one row; parts are spatially coherent (a part's bounding boxes overlap far less than random halves'
// would); GEM's own Parquet (no mapping columns) gets row numbers; the midpoint is halfway along the line.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { createGemParquetWriter } from '../../../shared/formats/gemParquet.js';
import { assignParts, lineMidpoint, partitionGemParquet } from '../../../shared/formats/partition.js';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'partition-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rowsOf(path: string): Promise<Record<string, unknown>[]> {
  const bytes = new Uint8Array(await readFile(path));
  return parquetReadObjects({
    file: bufferAsyncBuffer(bytes),
    metadata: parquetMetadata(bytes.buffer as ArrayBuffer),
  });
}

/** A prepared file of `n` roads on a 2-D grid of short east-west lines, written by the prepared-file writer. */
async function preparedGrid(n: number, side: number): Promise<{ path: string; wkts: string[] }> {
  const path = join(dir, `prepared-${n}.parquet`);
  const writer = await createGemParquetWriter({ path, withNavigable: true, rowGroupRows: 97 });
  const wkts: string[] = [];
  for (let i = 0; i < n; i++) {
    // Rows in a scattered order, so file order is not already spatial.
    const cell = (i * 7919) % (side * side);
    const [x, y] = [cell % side, Math.floor(cell / side)];
    const wkt = `LINESTRING (${4 + x * 0.01} ${52 + y * 0.01}, ${4.005 + x * 0.01} ${52 + y * 0.01})`;
    wkts.push(wkt);
    await writer.write({ id: `r${i}`, wkt, isNavigable: i % 2 === 0, sourceIndex: 1000 + i, part: i % 3 });
  }
  await writer.finish();
  return { path, wkts };
}

describe('partitionGemParquet', () => {
  it('puts every row in exactly one part, unchanged, in parts that differ by at most one row', async () => {
    const n = 1001;
    const { path } = await preparedGrid(n, 40);
    const source = await rowsOf(path);
    const partsDir = await mkdtemp(join(dir, 'parts-'));
    const parts = await partitionGemParquet(bufferAsyncBuffer(new Uint8Array(await readFile(path))), {
      maxRows: 250,
      dir: partsDir,
      label: 'prepared.parquet',
    });
    expect(parts.map((p) => p.index)).toEqual([0, 1, 2, 3, 4]);
    expect(parts.map((p) => p.rows)).toEqual([201, 200, 200, 200, 200]);
    const all = (await Promise.all(parts.map((p) => rowsOf(p.path)))).flat();
    expect(all).toHaveLength(n);
    const byId = new Map(source.map((r) => [r.id, r]));
    for (const row of all) expect(row).toEqual(byId.get(row.id));
    expect(new Set(all.map((r) => r.id)).size).toBe(n);
  });

  it('keeps each part spatially together: neighbouring roads share a part far more often than by chance', async () => {
    const side = 40;
    const { path } = await preparedGrid(side * side, side);
    const parts = await partitionGemParquet(bufferAsyncBuffer(new Uint8Array(await readFile(path))), {
      maxRows: 400,
      dir: await mkdtemp(join(dir, 'parts-')),
      label: 'prepared.parquet',
    });
    const partOfCell = new Map<string, number>();
    for (const part of parts) {
      for (const row of await rowsOf(part.path)) {
        const [lon, lat] = String(row.geometry)
          .match(/-?\d+(\.\d+)?/g)!
          .map(Number);
        partOfCell.set(`${Math.round((lon! - 4) / 0.01)},${Math.round((lat! - 52) / 0.01)}`, part.index);
      }
    }
    let same = 0;
    let pairs = 0;
    for (let x = 0; x < side; x++) {
      for (let y = 0; y < side; y++) {
        for (const [nx, ny] of [
          [x + 1, y],
          [x, y + 1],
        ] as const) {
          if (nx >= side || ny >= side) continue;
          pairs++;
          if (partOfCell.get(`${x},${y}`) === partOfCell.get(`${nx},${ny}`)) same++;
        }
      }
    }
    // Four parts by file order (scattered here) would share a part for about 1 pair in 4.
    expect(partOfCell.size).toBe(side * side);
    expect(same / pairs).toBeGreaterThan(0.9);
  });

  it('gives GEM’s own Parquet (no mapping columns) its row numbers as source_index', async () => {
    const bytes = roadMatchingSample('valid', { rows: 30, seed: 3 });
    const parts = await partitionGemParquet(bufferAsyncBuffer(bytes), {
      maxRows: 10,
      dir: await mkdtemp(join(dir, 'parts-')),
      label: 'roads.parquet',
    });
    expect(parts).toHaveLength(3);
    const rows = (await Promise.all(parts.map((p) => rowsOf(p.path)))).flat();
    const original = await parquetReadObjects({
      file: bufferAsyncBuffer(bytes),
      metadata: parquetMetadata(bytes.buffer as ArrayBuffer),
    });
    for (const row of rows) {
      const at = Number(row.source_index);
      expect(String(original[at]!.id)).toBe(row.id);
      expect(original[at]!.geometry).toBe(row.geometry);
      expect(row.part).toBe(0);
    }
    expect(rows.map((r) => Number(r.source_index)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
  });
});

describe('assignParts and lineMidpoint', () => {
  it('cuts rows sorted by key into near-equal runs, ties by row number', () => {
    expect([...assignParts(Uint32Array.from([9, 1, 5, 1, 7]), 2)]).toEqual([1, 0, 0, 0, 1]);
    expect([...assignParts(Uint32Array.from([3, 3, 3]), 3)]).toEqual([0, 1, 2]);
  });

  it('finds the point halfway along the line, not the middle vertex', () => {
    expect(
      lineMidpoint([
        [0, 0],
        [1, 0],
        [1, 3],
      ]),
    ).toEqual([1, 1]);
    expect(lineMidpoint([[2, 2]])).toEqual([2, 2]);
    expect(lineMidpoint([])).toBeNull();
  });
});
