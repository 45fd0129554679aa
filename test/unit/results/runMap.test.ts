// The map of a run, made from a real GEM Parquet input (the samples the simulator matches) and a real GEM
// results file (the simulator's writer): one feature per road of the input, in EPSG:4326 lon/lat, each with
// the verdict its results rows give; the answer bounded by features and vertices with `truncated` and the
// file's `total` saying so; a results file that cannot be joined is a FormatError naming the file.
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { roadMatchingRecords, roadMatchingSample } from '../../../local/standins/samples.js';
import { type MatchRow, roadResultsParquet } from '../../../local/standins/simulator/matching.js';
import { FormatError } from '../../../shared/formats/errors.js';
import { bytesSourceFile } from '../../../shared/formats/sourceFile.js';
import { MAP_MAX_FEATURES, mapFeaturesForRun, mapReadLimits } from '../../../shared/results/runMap.js';
import { scratch } from '../formats/support.js';

const tempDir = scratch();
const ROWS = 12;
const SEED = 5;
const ids = roadMatchingRecords('valid', { rows: ROWS, seed: SEED }).ids!.map(String);
const input = () => bytesSourceFile(roadMatchingSample('valid', { rows: ROWS, seed: SEED }), 'roads.parquet');

const match = (id: string, lr_id: string, confidence: number, gers = `gers-${id}`): MatchRow => ({
  id,
  gers,
  confidence,
  lr_id,
  lr_gers: '[0.000, 1.000]',
});

/** Road 0 fully matched in two parts, road 1 partly, road 2 twice with the better match second; rest none. */
const rows: MatchRow[] = [
  match(ids[0]!, '[0.000, 0.600]', 70, 'a'),
  match(ids[0]!, '[0.600, 1.000]', 95, 'b'),
  match(ids[1]!, '[0.100, 0.500]', 42),
  match(ids[2]!, '[0.000, 1.000]', 61, 'worse'),
  match(ids[2]!, '[0.000, 1.000]', 88, 'better'),
  match('not-a-road-of-the-input', '[0, 1]', 99),
];
const results = () => bytesSourceFile(roadResultsParquet(rows), 'results.parquet');
const options = (extra = {}) => ({ limits: mapReadLimits(64 * 1024), tempDir, ...extra });

describe('mapFeaturesForRun', () => {
  it('draws every road of the input with the verdict of its results rows', async () => {
    const map = await mapFeaturesForRun({ input: input(), results: results() }, options());
    expect(map).toMatchObject({
      type: 'FeatureCollection',
      total: ROWS,
      truncated: false,
      source: 'input-and-results',
    });
    expect(map.features).toHaveLength(ROWS);
    expect(map.features.map((f) => String(f.properties.id))).toEqual(ids);
    expect(map.features.map((f) => f.properties.index)).toEqual([...Array(ROWS).keys()]);
    expect(map.features.slice(0, 4).map((f) => f.properties)).toEqual([
      {
        index: 0,
        id: map.features[0]!.properties.id,
        match: 'full',
        gers: 'b',
        confidence: 95,
        match_count: 2,
      },
      {
        index: 1,
        id: map.features[1]!.properties.id,
        match: 'partial',
        gers: `gers-${ids[1]}`,
        confidence: 42,
        match_count: 1,
      },
      {
        index: 2,
        id: map.features[2]!.properties.id,
        match: 'full',
        gers: 'better',
        confidence: 88,
        match_count: 2,
      },
      {
        index: 3,
        id: map.features[3]!.properties.id,
        match: 'unmatched',
        gers: null,
        confidence: null,
        match_count: 0,
      },
    ]);
    expect(map.statistics).toEqual({
      roads: ROWS,
      full: 2,
      partial: 1,
      unmatched: ROWS - 3,
      histogram: { bucketWidth: 10, counts: [0, 0, 0, 0, 1, 0, 0, 0, 1, 1] },
    });
  });

  it('gives lines in lon/lat degrees, rounded to 6 decimals', async () => {
    const map = await mapFeaturesForRun({ input: input(), results: results() }, options());
    for (const feature of map.features) {
      expect(feature.geometry?.type).toBe('LineString');
      const coordinates = feature.geometry!.coordinates as number[][];
      expect(coordinates.length).toBeGreaterThanOrEqual(2);
      for (const [lon, lat] of coordinates) {
        // The samples are roads in Amsterdam.
        expect(lon).toBeGreaterThan(4);
        expect(lon).toBeLessThan(6);
        expect(lat).toBeGreaterThan(52);
        expect(lat).toBeLessThan(53);
        expect(Math.round(lon! * 1e6) / 1e6).toBe(lon);
      }
    }
  });

  it('keeps the first roads within maxFeatures, saying truncated and the total', async () => {
    const map = await mapFeaturesForRun({ input: input(), results: results() }, options({ maxFeatures: 5 }));
    expect(map.features).toHaveLength(5);
    expect(map).toMatchObject({ truncated: true, total: ROWS });
    expect(map.statistics.roads).toBe(5);
  });

  it('stops at the road that would exceed maxVertices', async () => {
    const whole = await mapFeaturesForRun({ input: input(), results: results() }, options());
    const firstTwo = whole.features.slice(0, 2).reduce((n, f) => n + f.geometry!.coordinates.length, 0);
    const map = await mapFeaturesForRun(
      { input: input(), results: results() },
      options({ maxVertices: firstTwo }),
    );
    expect(map.features).toHaveLength(2);
    expect(map).toMatchObject({ truncated: true, total: ROWS });
  });

  it('has a default bound on features', () => {
    expect(MAP_MAX_FEATURES).toBeGreaterThan(0);
    expect(MAP_MAX_FEATURES).toBeLessThanOrEqual(100_000);
  });

  it('refuses a results file without an id column, naming it', async () => {
    const noIds = bytesSourceFile(
      new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'gers', data: ['x'], type: 'STRING' }] })),
      'results.parquet',
    );
    const error = await mapFeaturesForRun({ input: input(), results: noIds }, options()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toContain('results.parquet');
    expect((error as Error).message).toContain('"id"');
  });

  it('reads an input that is not Parquet as a FormatError, not a crash', async () => {
    const notParquet = bytesSourceFile(roadMatchingSample('not-parquet', { rows: 5 }), 'roads.parquet');
    await expect(
      mapFeaturesForRun({ input: notParquet, results: results() }, options()),
    ).rejects.toBeInstanceOf(FormatError);
  });
});
