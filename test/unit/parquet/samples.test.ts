/**
 * Unit tests of `local/standins/samples.ts`: roadMatchingSample; laneLevelSample; samples CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import {
  LANE_LEVEL_SCHEMA,
  laneLevelRecords,
  laneLevelSample,
  ROAD_SAMPLE_KINDS,
  roadMatchingRecords,
  roadMatchingSample,
} from '../../../local/standins/samples.js';
import { bufferAsyncBuffer } from '../../../shared/parquet/asyncBuffer.js';
import { validateLaneLevelInput } from '../../../shared/parquet/laneLevel.js';
import { parseLineString } from '../../../shared/parquet/wkt.js';

const ab = (u: Uint8Array) => u.slice().buffer as ArrayBuffer;

describe('roadMatchingSample', () => {
  it('is deterministic from the seed and differs between seeds', () => {
    for (const kind of ROAD_SAMPLE_KINDS) {
      expect(roadMatchingSample(kind, { seed: 4 })).toEqual(roadMatchingSample(kind, { seed: 4 }));
    }
    expect(roadMatchingSample('valid', { seed: 4 })).not.toEqual(roadMatchingSample('valid', { seed: 5 }));
  });

  it('writes the rows it describes, with Amsterdam lon-first linestrings and a few null is_navigable', async () => {
    const records = roadMatchingRecords('valid', { rows: 300, seed: 8 });
    const rows = await parquetReadObjects({ file: ab(roadMatchingSample('valid', { rows: 300, seed: 8 })) });
    expect(rows.map((r) => r.id)).toEqual(records.ids);
    expect(rows.map((r) => r.geometry)).toEqual(records.geometries);
    expect(rows.map((r) => r.is_navigable)).toEqual(records.isNavigable);
    const nulls = rows.filter((r) => r.is_navigable === null).length;
    expect(nulls).toBeGreaterThan(0);
    expect(nulls).toBeLessThan(rows.length / 5);
    for (const g of records.geometries!) {
      const parsed = parseLineString(g);
      if ('error' in parsed) throw new Error(parsed.error.message);
      for (const [lon, lat] of parsed.points) {
        expect(lon).toBeGreaterThan(4.7);
        expect(lon).toBeLessThan(5.1);
        expect(lat).toBeGreaterThan(52.25);
        expect(lat).toBeLessThan(52.5);
      }
    }
  });

  it('changes only the defect rows relative to the valid file', () => {
    const valid = roadMatchingRecords('valid', { rows: 50, seed: 6 });
    for (const kind of [
      'duplicate-ids',
      'not-a-linestring',
      'single-point',
      'coordinates-out-of-range',
    ] as const) {
      const bad = roadMatchingRecords(kind, { rows: 50, seed: 6 });
      const changed = valid.ids!.flatMap((id, i) =>
        id !== bad.ids![i] || valid.geometries![i] !== bad.geometries![i] ? [i] : [],
      );
      expect(changed).toEqual(bad.defectRows);
      expect(bad.defectRows.every((r) => r > 0)).toBe(true);
    }
  });

  it('honours rowGroupSize and the id type', () => {
    const md = parquetMetadata(
      ab(roadMatchingSample('valid', { rows: 100, rowGroupSize: 30, idType: 'int32' })),
    );
    expect(md.row_groups.map((g) => Number(g.num_rows))).toEqual([30, 30, 30, 10]);
    expect(md.schema.find((s) => s.name === 'id')?.type).toBe('INT32');
  });
});

describe('laneLevelSample', () => {
  it('writes the nested points schema and reads back as the records', async () => {
    const bytes = laneLevelSample({ rows: 5, seed: 3 });
    const md = parquetMetadata(ab(bytes));
    expect(md.schema.map((s) => s.name)).toEqual(LANE_LEVEL_SCHEMA.map((s) => s.name));
    const rows = await parquetReadObjects({ file: ab(bytes) });
    const records = laneLevelRecords({ rows: 5, seed: 3 });
    expect(rows.map((r) => r.id)).toEqual(records.ids);
    expect(rows.map((r) => r.points)).toEqual(records.points);
    expect((await validateLaneLevelInput(bufferAsyncBuffer(bytes))).valid).toBe(true);
  });
});

describe('samples CLI', () => {
  it('writes a file that matches roadMatchingSample', { timeout: 60_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gemflow-samples-'));
    const out = join(dir, 'roads.parquet');
    // Compile the script as the build does (CommonJS), into the repo's ignored .local so that
    // hyparquet-writer resolves from node_modules, then run it as the README does.
    mkdirSync(join(process.cwd(), '.local'), { recursive: true });
    const outDir = mkdtempSync(join(process.cwd(), '.local', 'samples-cli-'));
    execFileSync(
      process.execPath,
      [
        require.resolve('typescript/bin/tsc'),
        ...['--outDir', outDir, '--rootDir', '.', '--module', 'nodenext', '--moduleResolution', 'nodenext'],
        ...[
          '--target',
          'ES2023',
          '--types',
          'node',
          '--skipLibCheck',
          '--esModuleInterop',
          '--ignoreConfig',
          'local/standins/samples.ts',
        ],
      ],
      { stdio: 'pipe', timeout: 50_000 },
    );
    execFileSync(
      process.execPath,
      [join(outDir, 'local/standins/samples.js'), 'single-point', out, '25', '9'],
      { stdio: 'pipe', timeout: 20_000 },
    );
    rmSync(outDir, { recursive: true, force: true });
    expect(new Uint8Array(readFileSync(out))).toEqual(
      roadMatchingSample('single-point', { rows: 25, seed: 9 }),
    );
  });
});
