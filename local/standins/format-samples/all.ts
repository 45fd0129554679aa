/**
 * Every format sample in one folder, for `npm run sample -- formats [dir] [rows]` and the README
 * walk-through: for each road format a valid file of the sample roads (the Shapefile in RD New, EPSG:28992,
 * and the GeoPackage in Web Mercator, EPSG:3857, so both are reprojected on the way to GEM), and every broken
 * case its sample module offers, under `broken/`. Files are built by the per-format modules beside this one.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as csv from './csv.js';
import * as fgb from './flatgeobuf.js';
import * as geojson from './geojson.js';
import * as gpkg from './geopackage.js';
import * as geoparquet from './geoparquet.js';
import { type SampleFeature, sampleRoads } from './roads.js';
import * as shp from './shapefile.js';

export interface FormatSampleFile {
  /** Path relative to the folder: `roads.geojson`, `broken/geojson-polygon.geojson`. */
  name: string;
  /** True for the broken cases. */
  broken: boolean;
  bytes: () => Promise<Uint8Array>;
}

/** A broken case per kind the module lists, named `broken/<format>-<kind>.<ext>`. */
function brokenFiles<K extends string>(
  format: string,
  extension: string,
  kinds: readonly K[],
  make: (kind: K) => Uint8Array | Promise<Uint8Array>,
): FormatSampleFile[] {
  return kinds.map((kind) => ({
    name: `broken/${format}-${kind}.${extension}`,
    broken: true,
    bytes: async () => make(kind),
  }));
}

/** The sample files, valid first, built on demand. */
export function formatSampleFiles(roads: SampleFeature[] = sampleRoads()): FormatSampleFile[] {
  const valid = (name: string, bytes: () => Uint8Array | Promise<Uint8Array>): FormatSampleFile => ({
    name,
    broken: false,
    bytes: async () => bytes(),
  });
  return [
    valid('roads.geojson', () => geojson.valid(roads)),
    valid('roads.geojsonl', () => geojson.validSeq(roads)),
    valid('roads.csv', () => csv.valid(roads)),
    valid('roads.fgb', () => fgb.valid(roads)),
    valid('roads-geoparquet.parquet', () => geoparquet.valid(roads)),
    valid('roads-rd-new.zip', () => shp.rdNew(roads)),
    valid('roads-web-mercator.gpkg', () => gpkg.webMercator(roads)),
    ...brokenFiles('geojson', 'geojson', geojson.GEOJSON_BROKEN, (k) => geojson.broken(k, roads)),
    ...brokenFiles('geojsonseq', 'geojsonl', geojson.SEQ_BROKEN, (k) => geojson.brokenSeq(k, roads)),
    ...brokenFiles('csv', 'csv', csv.CSV_BROKEN, (k) => csv.broken(k, roads)),
    ...brokenFiles('flatgeobuf', 'fgb', fgb.FLATGEOBUF_BROKEN, (k) => fgb.broken(k, roads)),
    ...brokenFiles('geoparquet', 'parquet', geoparquet.GEOPARQUET_BROKEN, (k) => geoparquet.broken(k, roads)),
    ...brokenFiles('shapefile', 'zip', shp.SHAPEFILE_BROKEN, (k) => shp.broken(k, roads)),
    ...brokenFiles('geopackage', 'gpkg', gpkg.GEOPACKAGE_BROKEN, (k) => gpkg.broken(k, roads)),
  ];
}

/** Writes every sample into `dir` (created); returns what was written. */
export async function writeFormatSamples(
  dir: string,
  options: { rows?: number } = {},
): Promise<{ name: string; bytes: number; broken: boolean }[]> {
  await mkdir(join(dir, 'broken'), { recursive: true });
  const written = [];
  for (const file of formatSampleFiles(sampleRoads({ rows: options.rows ?? 50 }))) {
    const bytes = await file.bytes();
    await writeFile(join(dir, file.name), bytes);
    written.push({ name: file.name, bytes: bytes.byteLength, broken: file.broken });
  }
  return written;
}
