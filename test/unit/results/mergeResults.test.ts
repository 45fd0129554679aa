// Merging GEM result files into one: rows of every source in order, across row-group boundaries, with the first
// source's schema; a source with other columns, or one that is not Parquet, is refused by name.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import {
  MERGE_ROW_GROUP_ROWS,
  type MergeSource,
  mergeResultFiles,
  ResultsMergeError,
} from '../../../shared/results/mergeResults.js';
import { gersId, type HandResult, resultsParquet } from './support.js';

/** GEM's road-results columns (local/standins/simulator/matching.ts `roadResultsParquet`). */
const GEM_COLUMNS = ['id', 'gers', 'confidence', 'lr_id', 'lr_gers'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'merge-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function rows(prefix: string, n: number): HandResult[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    gers: gersId(i),
    confidence: 60 + (i % 40),
    lr_id: i % 3 === 0 ? null : '[0.000, 1.000]',
    lr_gers: '[0.250, 0.750]',
  }));
}

const source = (label: string, bytes: Uint8Array): MergeSource => ({
  label,
  open: async () => bufferAsyncBuffer(bytes),
});

async function readMerged(path: string) {
  const bytes = new Uint8Array(await readFile(path));
  const file = bufferAsyncBuffer(bytes);
  const metadata = parquetMetadata(bytes.buffer as ArrayBuffer);
  return { metadata, rows: await parquetReadObjects({ file, metadata }) };
}

describe('mergeResultFiles', () => {
  it('writes every source’s rows in order, across output row groups, with GEM’s columns', async () => {
    const a = rows('a', MERGE_ROW_GROUP_ROWS + 7);
    const b = rows('b', 0);
    const c = rows('c', 11);
    const path = join(dir, 'merged.parquet');
    const merged = await mergeResultFiles(
      [
        source('part 1', resultsParquet(a)),
        source('part 2', resultsParquet(b)),
        source('part 3', resultsParquet(c)),
      ],
      path,
    );
    expect(merged.rows).toBe(a.length + c.length);
    const out = await readMerged(path);
    expect(out.metadata.row_groups.length).toBe(2);
    expect(out.metadata.schema.slice(1).map((e) => e.name)).toEqual(GEM_COLUMNS);
    expect(out.rows.length).toBe(a.length + c.length);
    const expected = [...a, ...c];
    for (const k of [0, 1, MERGE_ROW_GROUP_ROWS - 1, MERGE_ROW_GROUP_ROWS, expected.length - 1]) {
      expect(out.rows[k]).toEqual(expected[k]);
    }
    expect(out.rows.map((r) => r.id)).toEqual(expected.map((r) => r.id));
  });

  it('writes a valid empty file with GEM’s road-results columns when there is nothing to merge', async () => {
    const path = join(dir, 'empty.parquet');
    expect(await mergeResultFiles([], path)).toEqual({ rows: 0 });
    const out = await readMerged(path);
    expect(out.rows).toEqual([]);
    expect(out.metadata.schema.slice(1).map((e) => e.name)).toEqual(GEM_COLUMNS);
  });

  it('refuses a source whose columns differ from the first, naming it and both column lists', async () => {
    const other = new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: 'id', data: ['x'], type: 'STRING', nullable: false },
          { name: 'gers', data: ['y'], type: 'STRING', nullable: false },
          { name: 'confidence', data: [0.5], type: 'DOUBLE', nullable: false },
        ],
      }),
    );
    const attempt = mergeResultFiles(
      [source('part 1', resultsParquet(rows('a', 2))), source('part 2', other)],
      join(dir, 'mismatch.parquet'),
    );
    await expect(attempt).rejects.toBeInstanceOf(ResultsMergeError);
    await expect(attempt).rejects.toThrow(
      /part 2 has columns id:.*confidence:DOUBLE.*the first result file has .*lr_gers/,
    );
  });

  it('refuses a source that is not Parquet as a ResultsMergeError naming it', async () => {
    const attempt = mergeResultFiles(
      [
        source('part 1', resultsParquet(rows('a', 2))),
        source('part 2', new TextEncoder().encode('not parquet at all')),
      ],
      join(dir, 'broken.parquet'),
    );
    await expect(attempt).rejects.toBeInstanceOf(ResultsMergeError);
    await expect(attempt).rejects.toThrow(/part 2/);
  });
});
