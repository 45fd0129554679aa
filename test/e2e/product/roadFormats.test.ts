// The user's own road formats end to end, through the unmodified app on the local host: each format uploaded
// to the inbox reaches GEM (the simulator's job reads the staged file, read back here from PDG storage) as
// GEM-ready Parquet with one row per line; projected files arrive as WGS 84 lon/lat at reference points; a
// MultiLineString becomes one row per part; a broken file of each format ends as a validation report naming the
// source feature, with no GEM job. One app for the whole file, small files, all uploads in flight at once.
//
// Reference points, each computed independently of the app's CRS code:
// - RD New (EPSG:28992): the origin of the Rijksdriehoeksmeting, (x, y) = (155000, 463000) at the Onze Lieve
//   Vrouwetoren in Amersfoort. Held to 1e-7° of proj4 called here with the EPSG definition written out below
//   (the oblique stereographic projection of EPSG:28992 and a published 7-parameter Amersfoort → WGS 84
//   transformation, agreeing within 3 mm with the one proj4 carries and the product promises), not the
//   registry's string nor the app's projectionFor. Also held to 1e-5° (1 m) of
//   the published WGS 84 position, 52.15517440° N, 5.38720621° E (Schreutelkamp & Strang van Hees,
//   "Benaderingsformules voor de transformatie tussen RD- en WGS84-kaartcoördinaten", 2001: φ0, λ0), which is
//   RDNAPTRANS, ~0.3 m from the 7-parameter result: a datum shift that is missing or wrong is 100 m off either.
// - Web Mercator (EPSG:3857): IOGP Guidance Note 7-2, method 1024 (Popular Visualisation Pseudo Mercator),
//   E = R·λ, N = R·ln(tan(π/4 + φ/2)) with R = 6378137 m. Exact, so held to 1e-7°.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import proj4 from 'proj4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as csv from '../../../local/standins/format-samples/csv.js';
import * as fgb from '../../../local/standins/format-samples/flatgeobuf.js';
import * as geojson from '../../../local/standins/format-samples/geojson.js';
import * as gpkg from '../../../local/standins/format-samples/geopackage.js';
import * as geoparquet from '../../../local/standins/format-samples/geoparquet.js';
import {
  projectRoads,
  type SampleFeature,
  sampleRoads,
} from '../../../local/standins/format-samples/roads.js';
import * as shp from '../../../local/standins/format-samples/shapefile.js';
import { detectFormat } from '../../../shared/formats/detect.js';
import { readerFor } from '../../../shared/formats/registry.js';
import type { Geometry, InputFormat, PropertyValue, SourceFeature } from '../../../shared/formats/types.js';
import { memorySourceFile } from '../../support/localSourceFile.js';
import {
  api,
  readOutbox,
  readOutboxJson,
  readParquet,
  readPdgFile,
  runDocuments,
  simulatorAdmin,
  startApp,
  type TestApp,
  type Uploaded,
  uploadInbox,
  waitForMatch,
} from '../harness.js';

let app: TestApp;

beforeAll(async () => {
  app = await startApp({ name: 'road-formats', timeScale: 600 });
});

afterAll(async () => {
  await app?.close();
});

const ROADS = sampleRoads({ rows: 8 });
/** GEM rows the sample roads become: one per LineString, one per part of a MultiLineString (road 3). */
const GEM_ROWS = ROADS.reduce(
  (n, f) => n + (f.geometry?.type === 'MultiLineString' ? f.geometry.coordinates.length : 1),
  0,
);

const RD_ORIGIN = { x: 155000, y: 463000, lon: 5.38720621, lat: 52.1551744 };
const RD_NEW_7_PARAMETER =
  '+proj=sterea +lat_0=52.15616055555555 +lon_0=5.38763888888889 +k=0.9999079 +x_0=155000 +y_0=463000 ' +
  '+ellps=bessel +towgs84=565.417,50.3319,465.552,-0.398957,0.343988,-1.8774,4.0725 +units=m +no_defs';
const [RD_LON, RD_LAT] = proj4(RD_NEW_7_PARAMETER, 'EPSG:4326', [RD_ORIGIN.x, RD_ORIGIN.y]) as [
  number,
  number,
];
const MERCATOR_POINT = { lon: 4.9, lat: 52.37 };
const R = 6378137;
const mercator = (lon: number, lat: number) => [
  (R * lon * Math.PI) / 180,
  R * Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360)),
];

/** A road starting at `start` (in the file's CRS), put first so it is GEM row 0. */
function withReferenceRoad(features: SampleFeature[], start: number[], step: number): SampleFeature[] {
  const [x, y] = start as [number, number];
  return [
    {
      id: 'reference',
      geometry: {
        type: 'LineString',
        coordinates: [
          [x, y],
          [x + step, y + step],
        ],
      },
      properties: { ...features[0]!.properties, road_id: 'reference' },
    },
    ...features.slice(1),
  ];
}

interface ValidCase {
  name: string;
  bytes: () => Promise<Uint8Array>;
  metadata?: Record<string, string>;
  /** Lon/lat the first vertex of GEM row 0 must have, and how close (each of them). */
  reference?: { lon: number; lat: number; tolerance: number }[];
}

const VALID: ValidCase[] = [
  {
    name: 'formats/roads.geojson',
    bytes: async () => geojson.valid(ROADS),
    metadata: { idcolumn: 'road_id' },
  },
  { name: 'formats/roads.geojsonl', bytes: async () => geojson.validSeq(ROADS) },
  { name: 'formats/roads.csv', bytes: async () => csv.valid(ROADS) },
  { name: 'formats/roads.fgb', bytes: () => fgb.valid(ROADS) },
  { name: 'formats/roads-geo.parquet', bytes: () => geoparquet.valid(ROADS) },
  {
    name: 'formats/roads-rd.zip',
    bytes: async () =>
      shp.valid(withReferenceRoad(await projectRoads(ROADS, 28992), [RD_ORIGIN.x, RD_ORIGIN.y], 10), {
        prj: await shp.rdNewPrj(),
      }),
    reference: [
      { lon: RD_LON, lat: RD_LAT, tolerance: 1e-7 },
      { lon: RD_ORIGIN.lon, lat: RD_ORIGIN.lat, tolerance: 1e-5 },
    ],
  },
  {
    name: 'formats/roads-3857.gpkg',
    bytes: async () =>
      gpkg.valid(
        withReferenceRoad(
          await projectRoads(ROADS, 3857),
          mercator(MERCATOR_POINT.lon, MERCATOR_POINT.lat),
          10,
        ),
        { crs: { kind: 'epsg', code: 3857, source: 'sample' } },
      ),
    reference: [{ ...MERCATOR_POINT, tolerance: 1e-7 }],
  },
];

interface BrokenCase {
  name: string;
  bytes: () => Promise<Uint8Array>;
  rule: string | RegExp;
  /** The source feature the report must name; absent for a file-level finding. */
  index?: number;
}

const BROKEN: BrokenCase[] = [
  {
    name: 'broken/polygon.geojson',
    bytes: async () => geojson.broken('polygon', ROADS),
    rule: 'geometry-type',
    index: geojson.DEFECT_FEATURE,
  },
  {
    name: 'broken/single-point.geojsonl',
    bytes: async () => geojson.brokenSeq('single-point', ROADS),
    rule: 'geometry-min-points',
    index: geojson.DEFECT_FEATURE,
  },
  {
    name: 'broken/bad-wkt.csv',
    bytes: async () => csv.broken('bad-wkt-row-3', ROADS),
    rule: 'geometry-unreadable',
    index: csv.DEFECT_ROW,
  },
  {
    name: 'broken/polygon.fgb',
    bytes: () => fgb.broken('polygon', ROADS),
    rule: 'geometry-type',
    index: fgb.DEFECT_FEATURE,
  },
  {
    name: 'broken/corrupt-wkb.parquet',
    bytes: () => geoparquet.broken('corrupt-wkb', ROADS),
    rule: 'geometry-unreadable',
    index: geoparquet.DEFECT_FEATURE,
  },
  { name: 'broken/no-prj.zip', bytes: () => shp.broken('no-prj', ROADS), rule: 'crs-missing' },
  {
    name: 'broken/polygon.gpkg',
    bytes: () => gpkg.broken('polygon-in-line-layer', ROADS),
    rule: 'geometry-type',
    index: gpkg.DEFECT_FEATURE,
  },
];

interface GemRow {
  id: string;
  geometry: string;
  source_index: bigint;
  part: number;
}

const firstVertex = (wkt: string) => /^LINESTRING \(([-\d.]+) ([-\d.]+)/.exec(wkt)!.slice(1).map(Number);

describe('road formats end to end', () => {
  const valid: (ValidCase & { upload: Uploaded; content: Uint8Array })[] = [];
  const broken: (BrokenCase & { upload: Uploaded })[] = [];
  /** The GEM jobs of the valid files (files whose prepared Parquet has the same bytes share one job). */
  const validJobs = new Set<number>();

  beforeAll(async () => {
    for (const c of VALID) {
      const content = await c.bytes();
      valid.push({ ...c, content, upload: await uploadInbox(app, c.name, content, c.metadata) });
    }
    for (const c of BROKEN) broken.push({ ...c, upload: await uploadInbox(app, c.name, await c.bytes()) });
  }, 60_000);

  it('every format reaches GEM as GEM-ready Parquet, one row per line, projected files as lon/lat', async () => {
    const jobs = new Map<string, string>();
    for (const { name, upload, reference, metadata } of valid) {
      const status = await waitForMatch(app, upload.matchId, { timeoutMs: 120_000 });
      expect(status, name).toMatchObject({ runtimeStatus: 'Completed', outcome: 'succeeded' });
      const job = (await simulatorAdmin(app).jobs()).find((j) => j.job_id === status.jobId)!;
      validJobs.add(job.job_id);
      jobs.set(name, job.input_filename);
      const received = await readPdgFile(app, job.input_filename);
      expect(received, `${name} staged as ${job.input_filename}`).toBeDefined();
      const rows = (await readParquet(received!)) as unknown as GemRow[];
      expect(rows, name).toHaveLength(GEM_ROWS);
      // A MultiLineString (sample road 3) is two GEM rows, each mapped back to the feature and its part.
      expect(
        rows.filter((r) => r.source_index === 3n).map((r) => [r.part, r.id.endsWith(`#${r.part}`)]),
      ).toEqual([
        [0, true],
        [1, true],
      ]);
      if (metadata?.idcolumn) expect(rows[0]!.id).toBe(ROADS[0]!.properties.road_id);
      for (const point of reference ?? []) {
        const [lon, lat] = firstVertex(rows[0]!.geometry) as [number, number];
        expect(Math.abs(lon - point.lon), `${name} longitude ${lon} vs ${point.lon}`).toBeLessThan(
          point.tolerance,
        );
        expect(Math.abs(lat - point.lat), `${name} latitude ${lat} vs ${point.lat}`).toBeLessThan(
          point.tolerance,
        );
      }
    }
    // GEM got the prepared Parquet, never the user's own file.
    for (const filename of jobs.values()) expect(filename).toMatch(/\.parquet$/);
  }, 240_000);

  it('every format comes back as matched.<ext> in its own format: every feature, its attributes and geometry, its matches', async () => {
    for (const { name, upload, content } of valid) {
      const status = await waitForMatch(app, upload.matchId, { timeoutMs: 120_000 });
      const matchedName = status.outputs.matched?.blob;
      expect(matchedName, `${name}: ${JSON.stringify(status.outputs)}`).toBeDefined();
      expect(matchedName!.split('.').pop(), name).toBe(OUTPUT_EXTENSION[formatOf(name)]);
      const [input, output, staged, results] = await Promise.all([
        readFeatures(content, name),
        readOutbox(app, matchedName!).then((b: Buffer | undefined) => readFeatures(b!, matchedName!)),
        stagedRows(status.jobId!),
        readOutbox(app, runDocuments(name, upload.matchId).results!).then((b: Buffer | undefined) =>
          readParquet(b!),
        ),
      ]);
      expect(output, name).toHaveLength(input.length);
      const gemIdsOf = groupBy(
        staged,
        (r) => Number(r.source_index),
        (r) => r.id,
      );
      const resultsOf = groupBy(
        results,
        (r) => String(r.id),
        (r) => String(r.gers),
      );
      for (const [i, feature] of input.entries()) {
        const out = output[i]!;
        const label = `${name} feature ${i}`;
        for (const [key, value] of Object.entries(feature.properties))
          expect(sameValue(out.properties[key], value), `${label} attribute ${key}`).toBe(true);
        expect(sameGeometry(out.geometry, feature.geometry), `${label} geometry`).toBe(true);
        const gers = (gemIdsOf.get(i) ?? []).flatMap((id) => resultsOf.get(id) ?? []);
        expect(Number(out.properties.match_count), label).toBe(gers.length);
        if (gers.length === 0) {
          expect(out.properties.match, label).toBe('unmatched');
          expect(out.properties.gers ?? null, label).toBeNull();
        } else {
          expect(['full', 'partial'], label).toContain(out.properties.match);
          expect(gers, label).toContain(out.properties.gers);
        }
      }
    }
  }, 240_000);

  it("every format draws on the results page's map, from the prepared lon/lat roads, each coloured by its matches", async () => {
    for (const { name, upload } of valid) {
      await waitForMatch(app, upload.matchId, { timeoutMs: 120_000 });
      const map = await api(app).get(`/api/matches/${encodeURIComponent(upload.matchId)}/map`);
      expect(map.status, `${name}: ${map.text.slice(0, 300)}`).toBe(200);
      // One feature per GEM road: a MultiLineString's parts are drawn, and matched, one by one.
      expect(map.body.features, name).toHaveLength(GEM_ROWS);
      expect(map.body.total, name).toBe(GEM_ROWS);
      for (const feature of map.body.features as { geometry: { coordinates: number[][] } }[]) {
        for (const [lon, lat] of feature.geometry.coordinates) {
          expect(Math.abs(lon!), `${name} longitude`).toBeLessThanOrEqual(180);
          expect(Math.abs(lat!), `${name} latitude`).toBeLessThanOrEqual(90);
        }
      }
      const kinds = (map.body.features as { properties: { match: string } }[]).map((f) => f.properties.match);
      expect(
        kinds.every((k) => ['full', 'partial', 'unmatched'].includes(k)),
        name,
      ).toBe(true);
    }
  }, 240_000);

  it('a second run of the same upload and options reuses its prepared file; other options prepare another', async () => {
    const outbox = BlobServiceClient.fromConnectionString(
      app.stack.info.storageConnectionString,
    ).getContainerClient(app.stack.info.outboxContainer);
    const prepared = async () => {
      const found = new Map<string, string>();
      for await (const blob of outbox.listBlobsFlat({ prefix: '.prepared/' })) {
        if (blob.name.endsWith('/roads.parquet')) found.set(blob.name, blob.properties.etag);
      }
      return found;
    };
    const before = await prepared();
    expect(before.size).toBeGreaterThan(0);
    const rerun = async (idempotencyKey: string, format: Record<string, string>) => {
      const started = await api(app).post('/api/matches', {
        inboxBlob: 'formats/roads.geojson',
        idempotencyKey,
        format,
      });
      expect(started.status, started.text).toBe(202);
      return waitForMatch(app, started.body.id, { timeoutMs: 120_000 });
    };
    // The same options as the upload's metadata: the same prepared file, not rewritten (same etag).
    expect(await rerun('same-options', { idColumn: 'road_id' })).toMatchObject({ outcome: 'succeeded' });
    expect(await prepared()).toEqual(before);
    // Another option that changes the bytes: its own prepared file, the first one untouched.
    expect(await rerun('other-options', { navigableColumn: 'navigable' })).toMatchObject({
      outcome: 'succeeded',
    });
    const after = await prepared();
    expect(after.size).toBe(before.size + 1);
    for (const [name, etag] of before) expect(after.get(name)).toBe(etag);
  }, 240_000);

  it('a broken file of each format gives a report naming the source feature, and no GEM job', async () => {
    for (const { name, upload, rule, index } of broken) {
      const status = await waitForMatch(app, upload.matchId, { timeoutMs: 120_000 });
      expect(status, name).toMatchObject({ runtimeStatus: 'Completed', outcome: 'invalid-input' });
      expect(status.jobId, name).toBeNull();
      const report = await readOutboxJson<{
        valid: boolean;
        format: string | null;
        problems: { rule: string; index?: number; remedy: string }[];
      }>(app, runDocuments(name, upload.matchId).validationReport);
      expect(report?.valid, name).toBe(false);
      expect(report!.problems, name).toContainEqual(
        expect.objectContaining({ rule: expect.stringMatching(rule), remedy: expect.any(String) }),
      );
      if (index !== undefined)
        expect(
          report!.problems.map((p) => p.index),
          name,
        ).toContain(index);
    }
    const jobs = await simulatorAdmin(app).jobs();
    expect(validJobs.size).toBeGreaterThan(0);
    // Staged names are `<stem>.<content hash>.parquet`: no GEM job was made of a broken file.
    for (const { name } of broken) {
      const stem = name
        .split('/')
        .pop()!
        .replace(/\.[^.]+$/, '');
      expect(
        jobs.map((j) => j.input_filename).filter((f) => f.startsWith(`${stem}.`)),
        name,
      ).toEqual([]);
    }
  }, 240_000);
});

/** The output extension each input format's enriched file has by default (DEFAULT_OUTPUT_FORMAT). */
const OUTPUT_EXTENSION: Record<InputFormat, string> = {
  'gem-parquet': 'parquet',
  geoparquet: 'parquet',
  geojson: 'geojson',
  geojsonseq: 'geojson',
  csv: 'csv',
  flatgeobuf: 'fgb',
  shapefile: 'gpkg',
  geopackage: 'gpkg',
};

function formatOf(name: string): InputFormat {
  const extension = name.split('.').pop();
  const byExtension: Record<string, InputFormat> = {
    geojson: 'geojson',
    geojsonl: 'geojsonseq',
    csv: 'csv',
    fgb: 'flatgeobuf',
    parquet: 'geoparquet',
    zip: 'shapefile',
    gpkg: 'geopackage',
  };
  return byExtension[extension!]!;
}

async function readFeatures(bytes: Uint8Array, name: string): Promise<SourceFeature[]> {
  const file = memorySourceFile(new Uint8Array(bytes), name.split('/').pop()!);
  const detected = await detectFormat(file);
  expect(detected.format, `${name} detected`).not.toBeNull();
  const tempDir = mkdtempSync(join(tmpdir(), 'gemflow-formats-e2e-'));
  const limits = { maxFeatureBytes: 1 << 20, maxVertices: 100_000, maxFields: 200, maxDepth: 32 };
  const source = await (await readerFor(detected.format!))(file, { limits, tempDir });
  try {
    const features: SourceFeature[] = [];
    for await (const feature of source.features()) features.push(feature);
    return features;
  } finally {
    await source.close();
    rmSync(tempDir, { recursive: true, force: true });
  }
}

async function stagedRows(jobId: number): Promise<GemRow[]> {
  const job = (await simulatorAdmin(app).jobs()).find((j) => j.job_id === jobId)!;
  return (await readParquet((await readPdgFile(app, job.input_filename))!)) as unknown as GemRow[];
}

function groupBy<T, K, V>(items: readonly T[], key: (t: T) => K, value: (t: T) => V): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), value(item)]);
  return groups;
}

/** Equal, allowing what a format cannot keep apart: an integer as number or bigint, a date as text. */
function sameValue(a: PropertyValue | undefined, b: PropertyValue | undefined): boolean {
  if (typeof a === 'bigint' || typeof b === 'bigint') return String(a) === String(b);
  if (a instanceof Date || b instanceof Date)
    return new Date(a as never).getTime() === new Date(b as never).getTime();
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The same geometry: same type and coordinates, to 1e-9 of a unit (text formats print shortest decimals). */
function sameGeometry(a: Geometry | null, b: Geometry | null): boolean {
  if (a === null || b === null) return a === b;
  const flat = (g: Geometry) =>
    JSON.stringify('coordinates' in g ? g.coordinates : g.geometries).match(/-?[\d.e+-]+/g) ?? [];
  const [x, y] = [flat(a), flat(b)];
  return (
    a.type === b.type &&
    x.length === y.length &&
    x.every((v, i) => Math.abs(Number(v) - Number(y[i])) <= 1e-9 * Math.max(1, Math.abs(Number(v))))
  );
}
