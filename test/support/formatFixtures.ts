/**
 * Features, fields and helpers shared by the format reader/writer tests: one field of every `FieldType`,
 * geometries with Z, M, ZM, several parts, polygons and nulls, and a way to drain a `FeatureSource`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { FormatError } from '../../shared/formats/errors.js';
import type {
  CreateFeatureSink,
  CrsDeclaration,
  Enrichment,
  FeatureSource,
  FieldInfo,
  FormatLimits,
  Geometry,
  OutputFeature,
  SinkOptions,
  SourceFeature,
} from '../../shared/formats/types.js';

export const TEST_LIMITS: FormatLimits = {
  maxFeatureBytes: 1024 * 1024,
  maxVertices: 100_000,
  maxFields: 500,
  maxDepth: 32,
};

export const ALL_TYPE_FIELDS: FieldInfo[] = [
  { name: 'name', type: 'string' },
  { name: 'lanes', type: 'integer' },
  { name: 'osm_id', type: 'bigint' },
  { name: 'speed', type: 'number' },
  { name: 'oneway', type: 'boolean' },
  { name: 'opened', type: 'date' },
  { name: 'updated', type: 'datetime' },
  { name: 'blob', type: 'binary' },
  { name: 'tags', type: 'json' },
];

export const TEST_GEOMETRIES: (Geometry | null)[] = [
  {
    type: 'LineString',
    coordinates: [
      [4.9, 52.37],
      [4.91, 52.371],
      [4.92, 52.3705],
    ],
  },
  {
    type: 'MultiLineString',
    coordinates: [
      [
        [121000.5, 487000.25, 1.5],
        [121010, 487020, 2],
      ],
      [
        [121020, 487030, 2.5],
        [121040.75, 487050, 3],
        [121060, 487055, 3.5],
      ],
    ],
  },
  {
    type: 'LineString',
    coordinates: [
      [1, 2, Number.NaN, 10],
      [3, 4, Number.NaN, 20],
    ],
  },
  {
    type: 'LineString',
    coordinates: [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ],
  },
  null,
  {
    type: 'Polygon',
    coordinates: [
      [
        [0, 0],
        [10, 0],
        [10, 10],
        [0, 0],
      ],
      [
        [1, 1],
        [2, 1],
        [2, 2],
        [1, 1],
      ],
    ],
  },
  { type: 'Point', coordinates: [5, 6] },
];

/** The enrichment of a feature GEM matched to nothing. */
export const UNMATCHED: Enrichment = {
  gers: null,
  confidence: null,
  lr_from: null,
  lr_to: null,
  match: 'unmatched',
  match_count: 0,
};

/** One output feature per `TEST_GEOMETRIES` entry, with values of every type (and some nulls). */
export function testOutputFeatures(): OutputFeature[] {
  return TEST_GEOMETRIES.map((geometry, i) => ({
    id: 100 + i,
    geometry,
    properties: {
      name: i === 2 ? null : `Straat ${i} – ü`,
      lanes: i,
      osm_id: i === 1 ? 2n ** 60n + 7n : 123456789012 + i,
      speed: i === 3 ? null : 30.5 + i,
      oneway: i % 2 === 0,
      opened: new Date(Date.UTC(2020, 0, 1 + i)),
      updated: new Date(Date.UTC(2024, 5, 1, 12, 30, i, 250)),
      blob: i === 4 ? null : Uint8Array.from([i, 255, 0, 7]),
      tags: { surface: 'asphalt', refs: [i, 'A10'], nested: { ok: true } },
    },
    enrichment:
      i === 0
        ? {
            gers: '08f1969c-0000-4000-8000-000000000001',
            confidence: 93.5,
            lr_from: 0,
            lr_to: 1,
            match: 'full',
            match_count: 1,
          }
        : UNMATCHED,
    matches:
      i === 0
        ? [
            {
              gers: '08f1969c-0000-4000-8000-000000000001',
              confidence: 93.5,
              lrFrom: 0,
              lrTo: 1,
              gersFrom: 0.25,
              gersTo: 0.75,
              part: 0,
            },
          ]
        : [],
  }));
}

export async function readAll(source: FeatureSource): Promise<SourceFeature[]> {
  const out: SourceFeature[] = [];
  for await (const feature of source.features()) out.push(feature);
  return out;
}

export async function withTempDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gem-flow-formats-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes `testOutputFeatures()` as layer `roads` with `ALL_TYPE_FIELDS`; checks and returns the file's bytes. */
export async function writeTestFeatures(
  create: CreateFeatureSink,
  path: string,
  crs: CrsDeclaration | null,
): Promise<Uint8Array> {
  const sink = await create({
    path,
    layer: 'roads',
    fields: ALL_TYPE_FIELDS,
    crs,
    geometryType: 'LineString',
    tempDir: dirname(path),
  });
  for (const feature of testOutputFeatures()) await sink.write(feature);
  const result = await sink.finish();
  const bytes = new Uint8Array(await readFile(path));
  if (result.features !== TEST_GEOMETRIES.length || result.bytes !== bytes.byteLength) {
    throw new Error(`finish() said ${JSON.stringify(result)} for ${bytes.byteLength} bytes`);
  }
  return bytes;
}

/** Sink options with no user fields, no CRS and no declared geometry type. */
export function bareSinkOptions(path: string): SinkOptions {
  return { path, layer: 'l', fields: [], crs: null, geometryType: null, tempDir: dirname(path) };
}

/** Copies of `valid` cut short at a random length, with up to `maxEdits` random bytes overwritten. */
export function mutatedCopies(valid: Uint8Array, maxEdits = 8): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(
      fc.array(fc.tuple(fc.nat(valid.byteLength - 1), fc.integer({ min: 0, max: 255 })), {
        maxLength: maxEdits,
      }),
      fc.nat(valid.byteLength),
    )
    .map(([edits, cut]) => {
      const bytes = valid.slice(0, Math.max(cut, 1));
      for (const [at, value] of edits) if (at < bytes.byteLength) bytes[at] = value;
      return bytes;
    });
}

/**
 * Opens and drains a source the way a fuzz test wants: a `FormatError` counts as a clean refusal (no
 * features), anything else is rethrown so the property fails; the source is closed either way.
 */
export async function readOrRefuse(open: () => Promise<FeatureSource>): Promise<SourceFeature[]> {
  let source: FeatureSource | undefined;
  try {
    source = await open();
    return await readAll(source);
  } catch (error) {
    if (error instanceof FormatError) return [];
    throw error;
  } finally {
    await source?.close();
  }
}

/** Every position of a line or multi-line geometry, in order. */
export function linePositions(geometry: Geometry | null): number[][] {
  if (geometry?.type === 'LineString') return geometry.coordinates;
  if (geometry?.type === 'MultiLineString') return geometry.coordinates.flat();
  return [];
}

/**
 * The largest difference, in degrees, between the source's positions taken back to lon/lat through the CRS
 * it declares (`crs.ts`, proj4 + the EPSG registry) and the lon/lat the sample was projected from.
 */
export async function worstLonLatError(
  source: FeatureSource,
  lonLat: { geometry: Geometry | null }[],
): Promise<number> {
  const { projectionFor } = await import('../../shared/formats/crs.js');
  const projection = await projectionFor(source.crs!);
  let worst = 0;
  let index = 0;
  for await (const feature of source.features()) {
    const original = linePositions(lonLat[index++]!.geometry);
    linePositions(feature.geometry).forEach(([x, y], k) => {
      const [lon, lat] = projection.toLonLat(x!, y!);
      worst = Math.max(worst, Math.abs(lon - original[k]![0]!), Math.abs(lat - original[k]![1]!));
    });
  }
  return worst;
}
