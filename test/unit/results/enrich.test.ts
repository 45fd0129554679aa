import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import * as geojsonSamples from '../../../local/standins/format-samples/geojson.js';
import * as gpkgSamples from '../../../local/standins/format-samples/geopackage.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import * as shapefileSamples from '../../../local/standins/format-samples/shapefile.js';
import { encodeRoadMatchingRecords, roadMatchingRecords } from '../../../local/standins/samples.js';
import type { PreparedInput } from '../../../shared/formats/prepared.js';
import { readerFor } from '../../../shared/formats/registry.js';
import { bytesSourceFile, localSourceFile } from '../../../shared/formats/sourceFile.js';
import type { InputFormat, OutputFormat, SourceFeature } from '../../../shared/formats/types.js';
import { loadHyparquet } from '../../../shared/parquet/hyparquet.js';
import { enrichSource } from '../../../shared/results/enrich.js';
import { GemResultsError } from '../../../shared/results/gemResults.js';
import { UNMATCHED } from '../../support/formatFixtures.js';
import { drain, readOptions, scratch } from '../formats/support.js';
import { gersId, type HandResult, resultsParquet } from './support.js';

const dir = scratch();
const roads = sampleRoads({ rows: 12 });
const ids = roads.map((r) => String(r.id));

/**
 * GEM's answer, by hand: road 0 fully matched once; road 1 by two equally confident pieces (the longer is the
 * best); road 2 partly; road 3 (a MultiLineString) on both parts, its second part half and more confidently;
 * road 4 to 0.995 (full within GEM's rounding); roads 5–11 not at all; one row naming no road.
 */
const HAND: HandResult[] = [
  { id: ids[0]!, gers: gersId(1), confidence: 90, lr_id: '[0.000, 1.000]', lr_gers: '[0.100, 0.900]' },
  { id: ids[1]!, gers: gersId(2), confidence: 70, lr_id: '[0.000, 0.400]', lr_gers: '[0.000, 1.000]' },
  { id: ids[1]!, gers: gersId(3), confidence: 70, lr_id: '[0.400, 1.000]', lr_gers: '[0.000, 0.500]' },
  { id: ids[2]!, gers: gersId(4), confidence: 65, lr_id: '[0.200, 0.500]', lr_gers: null },
  { id: `${ids[3]}#0`, gers: gersId(5), confidence: 80, lr_id: '[0.000, 1.000]', lr_gers: '[0.000, 1.000]' },
  {
    id: `${ids[3]}#1`,
    gers: gersId(6),
    confidence: 95,
    lr_id: ' [0.000 ,0.500] ',
    lr_gers: '[0.250, 0.750]',
  },
  { id: ids[4]!, gers: gersId(7), confidence: 61, lr_id: '[0.000, 0.995]', lr_gers: '[0.000, 1.000]' },
  { id: 'not-a-road', gers: gersId(8), confidence: 99, lr_id: '[0.000, 1.000]', lr_gers: '[0.000, 1.000]' },
];

const EXPECTED = [
  { gers: gersId(1), confidence: 90, lr_from: 0, lr_to: 1, match: 'full', match_count: 1 },
  { gers: gersId(3), confidence: 70, lr_from: 0.4, lr_to: 1, match: 'full', match_count: 2 },
  { gers: gersId(4), confidence: 65, lr_from: 0.2, lr_to: 0.5, match: 'partial', match_count: 1 },
  { gers: gersId(6), confidence: 95, lr_from: 0, lr_to: 0.5, match: 'partial', match_count: 2 },
  { gers: gersId(7), confidence: 61, lr_from: 0, lr_to: 0.995, match: 'full', match_count: 1 },
];
const expectedEnrichment = (i: number) => EXPECTED[i] ?? UNMATCHED;

function prepared(format: InputFormat, outputFormat: OutputFormat, extra: Partial<PreparedInput> = {}) {
  return { format, options: { outputFormat }, layer: null, crs: null, ...extra };
}

async function enrich(
  input: Uint8Array,
  name: string,
  format: InputFormat,
  outputFormat: OutputFormat,
  extra: Partial<PreparedInput> = {},
  results: HandResult[] = HAND,
) {
  const outputPath = join(dir, `${name}.${outputFormat}.out`);
  const result = await enrichSource({
    source: bytesSourceFile(input, name),
    prepared: prepared(format, outputFormat, extra),
    results: bytesSourceFile(resultsParquet(results), 'results.parquet'),
    outputPath,
    tempDir: dir,
  });
  return { ...result, outputPath };
}

async function writeScratch(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

async function readBack(format: InputFormat, path: string): Promise<SourceFeature[]> {
  const open = await readerFor(format);
  return drain(await open(await localSourceFile(path), readOptions(dir)));
}

describe('the enrichment join', () => {
  it('GeoJSON → GeoJSON: every feature, attributes and geometry unchanged, enrichment and matches (JSON.parse)', async () => {
    const { counts, written, outputPath } = await enrich(
      geojsonSamples.valid(roads),
      'roads.geojson',
      'geojson',
      'geojson',
    );
    expect(written.features).toBe(roads.length);
    const collection = JSON.parse(await readFile(outputPath, 'utf8'));
    expect(collection.features).toHaveLength(roads.length);
    collection.features.forEach(
      (f: { id: unknown; geometry: unknown; properties: Record<string, unknown> }, i: number) => {
        expect(f.id).toBe(roads[i]!.id);
        expect(f.geometry).toEqual(roads[i]!.geometry);
        expect(f.properties.name).toBe(roads[i]!.properties.name);
        expect(f.properties).toMatchObject(expectedEnrichment(i));
      },
    );
    // The MultiLineString: one feature carrying both parts' matches, each with its part.
    expect(collection.features[3].geometry.type).toBe('MultiLineString');
    expect(collection.features[3].properties.matches).toEqual([
      { gers: gersId(5), confidence: 80, lr_from: 0, lr_to: 1, gers_from: 0, gers_to: 1, part: 0 },
      { gers: gersId(6), confidence: 95, lr_from: 0, lr_to: 0.5, gers_from: 0.25, gers_to: 0.75, part: 1 },
    ]);
    expect(collection.features[2].properties.matches[0]).toMatchObject({ gers_from: null, gers_to: null });
    expect(counts).toMatchObject({
      inputFeatures: 12,
      gemRows: 14,
      resultRows: HAND.length,
      unjoinedResultRows: 1,
      roads: { full: 3, partial: 2, unmatched: 7 },
    });
    const histogram = counts.confidenceHistogram.map((b) => b.roads);
    expect(histogram).toEqual([0, 0, 0, 0, 0, 0, 2, 1, 0, 2]);
    expect(counts.confidenceHistogram[9]).toEqual({ from: 90, to: 100, roads: 2 });
    const { kilometres: km } = counts;
    expect(km.total).toBeGreaterThan(0);
    expect(km.full + km.partial + km.unmatched).toBeCloseTo(km.total, 2);
    expect(km.covered).toBeGreaterThan(km.full);
    expect(km.covered).toBeLessThan(km.full + km.partial);
  });

  it('GeoJSON → GeoParquet: hyparquet reads the enrichment columns and the nested matches', async () => {
    const { outputPath } = await enrich(
      geojsonSamples.valid(roads),
      'roads.geojson',
      'geojson',
      'geoparquet',
    );
    const { parquetReadObjects, parquetMetadataAsync } = await loadHyparquet();
    const bytes = await readFile(outputPath);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const rows = await parquetReadObjects({ file, metadata: await parquetMetadataAsync(file) });
    expect(rows).toHaveLength(roads.length);
    rows.forEach((row, i) => {
      const { gers, confidence, lr_from, lr_to, match, match_count } = row;
      expect({ gers, confidence, lr_from, lr_to, match, match_count: Number(match_count) }).toEqual(
        expectedEnrichment(i),
      );
      expect(row.name).toBe(roads[i]!.properties.name);
    });
    expect(rows[1]!.matches.map((m: { gers: string }) => m.gers)).toEqual([gersId(2), gersId(3)]);
    const back = await readBack('geoparquet', outputPath);
    for (const [i, f] of back.entries()) expect(f.geometry).toEqual(roads[i]!.geometry);
  });

  it('GeoJSON → CSV: csv-parse reads the WKT, the enrichment and the matches JSON', async () => {
    const { outputPath } = await enrich(geojsonSamples.valid(roads), 'roads.geojson', 'geojson', 'csv');
    const rows = parse(await readFile(outputPath, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(roads.length);
    expect(rows[3]!.match).toBe('partial');
    expect(rows[3]!.gers).toBe(gersId(6));
    expect(JSON.parse(rows[3]!.matches!)).toHaveLength(2);
    expect(rows[7]!.match).toBe('unmatched');
    expect(rows[7]!.gers).toBe('');
    const back = await readBack('csv', outputPath);
    back.forEach((f, i) => {
      expect(f.geometry).toEqual(roads[i]!.geometry);
      expect(f.properties.name).toBe(roads[i]!.properties.name);
    });
  });

  it('GeoJSON → FlatGeobuf: read back with every feature, geometry and enrichment', async () => {
    const { outputPath } = await enrich(
      geojsonSamples.valid(roads),
      'roads.geojson',
      'geojson',
      'flatgeobuf',
    );
    const { deserialize } = await import('flatgeobuf/lib/mjs/geojson.js');
    const independent: { properties: Record<string, unknown> }[] = [];
    for await (const f of deserialize(new Uint8Array(await readFile(outputPath))))
      independent.push(f as never);
    expect(independent).toHaveLength(roads.length);
    independent.forEach((f, i) => {
      // FlatGeobuf leaves a null property out of the feature, so absent reads as null here.
      const {
        gers = null,
        confidence = null,
        lr_from = null,
        lr_to = null,
        match,
        match_count,
      } = f.properties;
      expect({ gers, confidence, lr_from, lr_to, match, match_count }).toEqual(expectedEnrichment(i));
    });
    const back = await readBack('flatgeobuf', outputPath);
    for (const [i, f] of back.entries()) expect(f.geometry).toEqual(roads[i]!.geometry);
  });

  it('Shapefile in RD New → GeoPackage: projected geometry back unchanged, matches in the side table (node:sqlite)', async () => {
    const zip = await shapefileSamples.rdNew(roads);
    const open = await readerFor('shapefile');
    const source = await open(bytesSourceFile(zip, 'roads.zip'), readOptions(dir));
    const original = await drain(source);
    // A Shapefile has no feature ids of its own: GEM ids come from the idColumn option.
    const { counts, outputPath } = await enrich(zip, 'roads.zip', 'shapefile', 'geopackage', {
      crs: source.crs,
      layer: source.layer,
      options: { outputFormat: 'geopackage', idColumn: 'road_id' },
    });
    const db = new DatabaseSync(outputPath, { readOnly: true });
    try {
      const layer = source.layer!;
      const rows = db.prepare(`SELECT fid, gers, match, match_count FROM "${layer}" ORDER BY fid`).all();
      expect(rows).toHaveLength(roads.length);
      for (const [i, r] of rows.entries()) expect(r.match).toBe(expectedEnrichment(i).match);
      const side = db.prepare(`SELECT COUNT(*) AS n FROM "${layer}_matches"`).get() as { n: number };
      expect(side.n).toBe(HAND.length - 1);
    } finally {
      db.close();
    }
    const back = await readBack('geopackage', outputPath);
    for (const [i, f] of back.entries()) expect(f.geometry).toEqual(original[i]!.geometry);
    // Kilometres come from the lon/lat lines GEM saw, so the projected file measures as the lon/lat one does.
    const lonLat = await enrich(geojsonSamples.valid(roads), 'roads.geojson', 'geojson', 'geojson');
    expect(counts.kilometres.total).toBeCloseTo(lonLat.counts.kilometres.total, 3);
  });

  it("GEM's own Parquet → GeoParquet with the geometry from the WKT", async () => {
    const records = roadMatchingRecords('valid', { rows: 6, idType: 'string' });
    const input = encodeRoadMatchingRecords(records);
    const results: HandResult[] = [
      {
        id: String(records.ids![0]),
        gers: gersId(1),
        confidence: 88,
        lr_id: '[0.000, 1.000]',
        lr_gers: '[0.000, 1.000]',
      },
    ];
    const { outputPath, counts } = await enrich(
      input,
      'roads.parquet',
      'gem-parquet',
      'geoparquet',
      {},
      results,
    );
    const back = await readBack('geoparquet', outputPath);
    expect(back).toHaveLength(6);
    expect(back[0]!.geometry?.type).toBe('LineString');
    expect(back[0]!.properties).toMatchObject({ id: records.ids![0], gers: gersId(1), match: 'full' });
    expect(back[1]!.properties).toMatchObject({ match: 'unmatched', match_count: 0 });
    expect(counts.roads).toEqual({ full: 1, partial: 0, unmatched: 5 });
  });

  it('a GeoPackage keeps its fids; GEM ids from idColumn', async () => {
    const gpkg = await gpkgSamples.valid(roads);
    const original = await readBack('geopackage', await writeScratch('in.gpkg', gpkg));
    const { outputPath } = await enrich(gpkg, 'roads.gpkg', 'geopackage', 'geopackage', {
      options: { outputFormat: 'geopackage', idColumn: 'road_id' },
    });
    const back = await readBack('geopackage', outputPath);
    expect(back.map((f) => f.id)).toEqual(original.map((f) => f.id));
    expect(back.map((f) => f.properties.match)).toEqual(roads.map((_, i) => expectedEnrichment(i).match));
  });

  it('malformed GEM text is a GemResultsError naming the row and column, and no output is left', async () => {
    const bad = [...HAND.slice(0, 2), { ...HAND[2]!, lr_id: '[0.4; 1.0]' }];
    const attempt = enrich(geojsonSamples.valid(roads), 'bad.geojson', 'geojson', 'geojson', {}, bad);
    await expect(attempt).rejects.toBeInstanceOf(GemResultsError);
    await expect(attempt).rejects.toThrow(/row 2: lr_id is "\[0\.4; 1\.0\]"/);
    await expect(readFile(join(dir, 'bad.geojson.geojson.out'))).rejects.toThrow(/ENOENT/);
  });
});
