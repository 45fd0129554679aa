/**
 * One case of the conversion and enrichment benchmark, in a process of its own so its peak RSS is its own.
 *
 *   generate  writes the input file (GeoJSON or GeoParquet) of N sample roads and GEM results for it, made by
 *             the simulator's own matching, a chunk at a time (not measured)
 *   read      the baseline: the format's reader alone, draining every feature
 *   convert   reader → normaliseFeature → GEM-ready Parquet (the library functions prepareInput is built on)
 *   enrich    the enrichment join: results indexed, the source read again, the enriched file written
 *
 * Usage: node dist/bench/enrichmentChild.js <mode> <geojson|geoparquet> <dir> [rows]
 * Prints one JSON line: the mode, features, wall seconds, features per second and peak RSS.
 */

import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type SampleFeature, sampleRoads } from '../local/standins/format-samples/roads.js';
import { matchRoads } from '../local/standins/simulator/matching.js';
import type { Road } from '../local/standins/simulator/validation.js';
import { projectionFor } from '../shared/formats/crs.js';
import { jsonSafe } from '../shared/formats/fields.js';
import { createGemParquetWriter } from '../shared/formats/gemParquet.js';
import { loadHyparquetWriter } from '../shared/formats/hyparquetWriter.js';
import { normaliseFeature } from '../shared/formats/normalise.js';
import { readerFor } from '../shared/formats/registry.js';
import { localSourceFile } from '../shared/formats/sourceFile.js';
import type { FormatLimits, SourceFeature } from '../shared/formats/types.js';
import { enrichSource } from '../shared/results/enrich.js';

export type EnrichChildMode = 'generate' | 'read' | 'convert' | 'enrich';
export type BenchFormat = 'geojson' | 'geoparquet';

export interface EnrichChildResult {
  mode: EnrichChildMode;
  format: BenchFormat;
  features: number;
  wallSeconds: number;
  featuresPerSecond: number;
  maxRssMB: number;
  /** The longest the event loop went without a turn (ms): how long an HTTP request of the same process waits. */
  maxEventLoopStallMs: number;
}

const LIMITS: FormatLimits = { maxFeatureBytes: 1 << 20, maxVertices: 100_000, maxFields: 200, maxDepth: 32 };
const CHUNK = 10_000;
const EXTENSION: Record<BenchFormat, string> = { geojson: 'geojson', geoparquet: 'parquet' };

export const inputPath = (dir: string, format: BenchFormat) => join(dir, `roads.${EXTENSION[format]}`);
export const resultsPath = (dir: string) => join(dir, 'results.parquet');

/** Peak RSS in MB: Linux's VmHWM, which starts afresh at exec (as bench/validationChild.ts explains). */
function peakRssMB(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Math.round(Number(hwm[1]) / 1024) : Math.round(process.resourceUsage().maxRSS / 1024);
}

/** The sample roads, chunk by chunk, with ids unique over the whole file. */
function* roadChunks(rows: number): Generator<SampleFeature[]> {
  for (let start = 0, c = 0; start < rows; start += CHUNK, c++) {
    const roads = sampleRoads({ rows: Math.min(CHUNK, rows - start), seed: c + 1 });
    yield roads.map((r, i) => {
      const id = `r${start + i}`;
      return { ...r, id, properties: { ...r.properties, road_id: id } };
    });
  }
}

async function generate(format: BenchFormat, dir: string, rows: number): Promise<number> {
  const { ParquetWriter, fileWriter, schemaFromColumnData, geojsonToWkb } = await loadHyparquetWriter();
  const projection = await projectionFor({ kind: 'crs84', source: 'bench' });
  const results = new ParquetWriter({
    writer: fileWriter(resultsPath(dir)),
    schema: schemaFromColumnData({ columnData: resultColumns([]) }),
  });
  const json = format === 'geojson' ? createWriteStream(inputPath(dir, format)) : null;
  let parquet: InstanceType<typeof ParquetWriter> | null = null;
  const write = async (text: string) => {
    if (json && !json.write(text)) await once(json, 'drain');
  };
  await write('{"type":"FeatureCollection","name":"roads","features":[\n');
  let count = 0;
  for (const chunk of roadChunks(rows)) {
    const gemRoads: Road[] = [];
    for (const [i, f] of chunk.entries()) {
      const feature: SourceFeature = {
        index: count + i,
        id: f.id,
        geometry: f.geometry,
        properties: f.properties,
      };
      for (const row of normaliseFeature(feature, { projection, limits: LIMITS }).rows) {
        const coordinates = row.wkt
          .slice(12, -1)
          .split(', ')
          .map((p) => p.split(' ').map(Number) as [number, number]);
        gemRoads.push({ id: row.id, coordinates, navigable: f.properties.navigable !== false });
      }
    }
    await results.write({
      columnData: resultColumns(
        matchRoads(gemRoads, { jobType: 'ROAD_MATCHING', version: '2026-11-19.0' }).rows,
      ),
    });
    if (json) {
      const body = chunk.map((f) =>
        JSON.stringify({
          type: 'Feature',
          id: f.id,
          geometry: f.geometry,
          properties: jsonSafe(f.properties),
        }),
      );
      await write(`${count === 0 ? '' : ',\n'}${body.join(',\n')}`);
    } else {
      const columnData = [
        ...['road_id', 'name', 'note'].map((name) => ({
          name,
          data: chunk.map((f) => f.properties[name] ?? null),
          type: 'STRING',
        })),
        { name: 'lanes', data: chunk.map((f) => f.properties.lanes), type: 'INT32' },
        { name: 'speed_kmh', data: chunk.map((f) => f.properties.speed_kmh), type: 'DOUBLE' },
        { name: 'oneway', data: chunk.map((f) => f.properties.oneway), type: 'BOOLEAN' },
        { name: 'geometry', data: chunk.map((f) => geojsonToWkb(f.geometry as never)), type: 'BYTE_ARRAY' },
      ] as never;
      parquet ??= new ParquetWriter({
        writer: fileWriter(inputPath(dir, format)),
        schema: schemaFromColumnData({ columnData }),
      });
      await parquet.write({ columnData, rowGroupSize: chunk.length });
    }
    count += chunk.length;
  }
  await results.finish();
  if (json) {
    await write('\n]}\n');
    json.end();
    await once(json, 'finish');
  }
  if (parquet) {
    const geo = {
      version: '1.1.0',
      primary_column: 'geometry',
      columns: { geometry: { encoding: 'WKB', geometry_types: ['LineString', 'MultiLineString'] } },
    };
    (parquet as unknown as { kvMetadata: { key: string; value: string }[] }).kvMetadata = [
      { key: 'geo', value: JSON.stringify(geo) },
    ];
    await parquet.finish();
  }
  return count;
}

function resultColumns(rows: ReturnType<typeof matchRoads>['rows']) {
  return [
    { name: 'id', data: rows.map((r) => r.id), type: 'STRING' as const, nullable: false },
    { name: 'gers', data: rows.map((r) => r.gers), type: 'STRING' as const, nullable: false },
    { name: 'confidence', data: rows.map((r) => r.confidence), type: 'INT32' as const, nullable: false },
    { name: 'lr_id', data: rows.map((r) => r.lr_id), type: 'STRING' as const, nullable: false },
    { name: 'lr_gers', data: rows.map((r) => r.lr_gers), type: 'STRING' as const, nullable: false },
  ];
}

async function run(mode: EnrichChildMode, format: BenchFormat, dir: string, rows: number): Promise<number> {
  if (mode === 'generate') return generate(format, dir, rows);
  const source = await localSourceFile(inputPath(dir, format));
  if (mode === 'enrich') {
    const results = await localSourceFile(resultsPath(dir));
    const prepared = { format, options: { outputFormat: format }, layer: null, crs: null } as const;
    const outputPath = join(dir, `matched.${EXTENSION[format]}`);
    const { written } = await enrichSource({
      source,
      prepared,
      results,
      outputPath,
      tempDir: dir,
      limits: LIMITS,
    });
    return written.features;
  }
  const open = await readerFor(format);
  const features = await open(source, { limits: LIMITS, tempDir: dir });
  const projection = await projectionFor(features.crs);
  const writer =
    mode === 'convert'
      ? await createGemParquetWriter({ path: join(dir, 'gem.parquet'), withNavigable: false })
      : null;
  let count = 0;
  for await (const feature of features.features()) {
    count++;
    if (!writer) continue;
    for (const row of normaliseFeature(feature, { projection, limits: LIMITS }).rows) await writer.write(row);
  }
  await writer?.finish();
  await features.close();
  return count;
}

async function main(): Promise<void> {
  const [mode, format, dir, rows] = process.argv.slice(2) as [EnrichChildMode, BenchFormat, string, string?];
  const started = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const features = await run(mode, format, dir, Number(rows ?? 0));
  loop.disable();
  const seconds = (performance.now() - started) / 1000;
  const line: EnrichChildResult = {
    mode,
    format,
    features,
    wallSeconds: Math.round(seconds * 10) / 10,
    featuresPerSecond: Math.round(features / seconds),
    maxRssMB: peakRssMB(),
    maxEventLoopStallMs: Math.round(loop.max / 1e6),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  });
}
