/**
 * Unit tests of `shared/formats/flatgeobuf.ts`: FlatGeobuf round trip; FlatGeobuf reader; FlatGeobuf samples.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { Builder } from 'flatbuffers';
import type { HeaderMeta } from 'flatgeobuf/lib/mjs/header-meta.js';
import { describe, expect, it } from 'vitest';
import * as samples from '../../../local/standins/format-samples/flatgeobuf.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { FormatError } from '../../../shared/formats/errors.js';
import { createFlatGeobufSink, openFlatGeobuf } from '../../../shared/formats/flatgeobuf.js';
import { loadFlatGeobufTables } from '../../../shared/formats/flatgeobufLib.js';
import type { CrsDeclaration, FeatureSource } from '../../../shared/formats/types.js';
import {
  bareSinkOptions,
  mutatedCopies,
  readAll,
  readOrRefuse,
  TEST_GEOMETRIES,
  TEST_LIMITS,
  testOutputFeatures,
  withTempDir,
  writeTestFeatures,
} from '../../support/formatFixtures.js';
import { memorySourceFile } from '../../support/localSourceFile.js';

interface GeoJsonFeature {
  geometry: unknown;
  properties: Record<string, unknown>;
}

const RD_NEW: CrsDeclaration = { kind: 'epsg', code: 28992, source: 'test' };

async function writeTestFile(dir: string, crs: CrsDeclaration | null = RD_NEW): Promise<Uint8Array> {
  return writeTestFeatures(createFlatGeobufSink, join(dir, 'out.fgb'), crs);
}

async function open(bytes: Uint8Array, limits = TEST_LIMITS): Promise<FeatureSource> {
  return openFlatGeobuf(memorySourceFile(bytes, 'roads.fgb', 1000), { limits, tempDir: '/nonexistent' });
}

describe('FlatGeobuf round trip', () => {
  it('gives back every attribute, geometry (Z, M, parts, nulls), the CRS and the count', async () => {
    await withTempDir(async (dir) => {
      const bytes = await writeTestFile(dir);
      const source = await open(bytes);
      expect(source.layer).toBe('roads');
      expect(source.crs).toEqual({ kind: 'epsg', code: 28992, source: 'FlatGeobuf header crs' });
      expect(source.declaredFeatureCount).toBe(TEST_GEOMETRIES.length);
      // The features are not all LineStrings, so the completed header says Unknown.
      expect(source.declaredGeometryType).toBeNull();
      expect(source.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
        'name:string',
        'lanes:bigint',
        'osm_id:bigint',
        'speed:number',
        'oneway:boolean',
        'opened:datetime',
        'updated:datetime',
        'blob:binary',
        'tags:json',
        'gers:string',
        'confidence:number',
        'lr_from:number',
        'lr_to:number',
        'match:string',
        'match_count:bigint',
        'matches:json',
      ]);
      const features = await readAll(source);
      const expected = testOutputFeatures();
      expect(features.map((f) => f.index)).toEqual(expected.map((_, i) => i));
      features.forEach((feature, i) => {
        expect(feature.problem).toBeUndefined();
        expect(feature.id).toBeNull();
        expect(feature.geometry).toEqual(expected[i]!.geometry);
        const { matches, ...rest } = feature.properties;
        expect(rest).toEqual({
          ...expected[i]!.properties,
          ...expected[i]!.enrichment,
        });
        expect(matches).toEqual(
          expected[i]!.matches.map((m) => ({
            gers: m.gers,
            confidence: m.confidence,
            lr_from: m.lrFrom,
            lr_to: m.lrTo,
            gers_from: m.gersFrom,
            gers_to: m.gersTo,
            part: m.part,
          })),
        );
      });
      expect(typeof features[1]!.properties.osm_id).toBe('bigint');
      expect(typeof features[0]!.properties.osm_id).toBe('number');
      await source.close();
    });
  });

  it('is read by the flatgeobuf package’s own deserializer', async () => {
    await withTempDir(async (dir) => {
      const bytes = await writeTestFile(dir);
      const { deserialize } = await import('flatgeobuf/lib/mjs/geojson.js');
      const metas: HeaderMeta[] = [];
      const features: GeoJsonFeature[] = [];
      // The package's GeoJSON adapter cannot take a feature without geometry (it reads null.type), so the
      // check stops before the null one (index 4).
      const iterator = deserialize(bytes, { headerMetaFn: (meta: HeaderMeta) => metas.push(meta) });
      for await (const f of iterator) {
        features.push(f as unknown as GeoJsonFeature);
        if (features.length === 4) break;
      }
      expect(metas[0]?.featuresCount).toBe(TEST_GEOMETRIES.length);
      expect(metas[0]?.crs?.code).toBe(28992);
      expect(metas[0]?.columns?.map((c) => c.name)).toContain('match_count');
      expect(features[0]!.properties.name).toBe('Straat 0 – ü');
      expect(features[0]!.properties.gers).toBe('08f1969c-0000-4000-8000-000000000001');
      expect(features[0]!.properties.lanes).toBe(0);
      expect(features[3]!.properties.osm_id).toBe(123456789015);
      expect(features[1]!.geometry).toEqual(TEST_GEOMETRIES[1]);
      expect(features[0]!.geometry).toEqual(TEST_GEOMETRIES[0]);
    });
  });

  it('declares a WKT CRS, and no CRS, as given', async () => {
    await withTempDir(async (dir) => {
      const wkt = 'PROJCS["Amersfoort / RD New",GEOGCS["Amersfoort"]]';
      const withWkt = await open(await writeTestFile(dir, { kind: 'wkt', wkt, source: 'test' }));
      expect(withWkt.crs).toEqual({ kind: 'wkt', wkt, source: 'FlatGeobuf header crs' });
      const none = await open(await writeTestFile(dir, null));
      expect(none.crs).toBeNull();
      const crs84 = await open(await writeTestFile(dir, { kind: 'crs84', source: 'test' }));
      expect(crs84.crs).toMatchObject({ kind: 'epsg', code: 4326 });
    });
  });

  it('keeps the declared geometry type when every feature has it', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'lines.fgb');
      const sink = await createFlatGeobufSink({
        path,
        layer: 'l',
        fields: [],
        crs: null,
        geometryType: 'LineString',
        tempDir: dir,
      });
      const [first] = testOutputFeatures();
      await sink.write({ ...first!, properties: {} });
      await sink.write({ ...first!, properties: {}, geometry: null });
      await sink.finish();
      const source = await open(new Uint8Array(await readFile(path)));
      expect(source.declaredGeometryType).toBe('LineString');
      expect((await readAll(source)).map((f) => f.geometry?.type ?? null)).toEqual(['LineString', null]);
    });
  });

  it('refuses a user field named like an enrichment column', async () => {
    await withTempDir(async (dir) => {
      const error = await createFlatGeobufSink({
        path: join(dir, 'x.fgb'),
        layer: 'l',
        fields: [{ name: 'GERS', type: 'string' }],
        crs: null,
        geometryType: null,
        tempDir: dir,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FormatError);
      expect((error as FormatError).rule).toBe('output-field-collision');
      expect((error as FormatError).message).toContain("'GERS'");
    });
  });

  it('abort deletes the partial file', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'partial.fgb');
      const sink = await createFlatGeobufSink(bareSinkOptions(path));
      await sink.write({ ...testOutputFeatures()[0]!, properties: {} });
      await sink.abort();
      await expect(readFile(path)).rejects.toThrow(/ENOENT/);
    });
  });
});

/** A header whose spatial index (of `count` features, node size 16) the reader must skip without reading. */
async function fileWithIndex(): Promise<{ bytes: Uint8Array; indexStart: number; indexEnd: number }> {
  const tables = await loadFlatGeobufTables();
  const plain = await withTempDir((dir) => writeTestFile(dir));
  const oldHeaderLength = new DataView(plain.buffer, plain.byteOffset).getUint32(8, true);
  const featureBytes = plain.subarray(12 + oldHeaderLength);
  const builder = new Builder(256);
  const name = builder.createString('indexed');
  tables.Header.startHeader(builder);
  tables.Header.addName(builder, name);
  tables.Header.addFeaturesCount(builder, BigInt(TEST_GEOMETRIES.length));
  tables.Header.addIndexNodeSize(builder, 16);
  builder.finishSizePrefixed(tables.Header.endHeader(builder));
  const header = builder.asUint8Array();
  const treeSize = tables.calcTreeSize(TEST_GEOMETRIES.length, 16);
  const bytes = new Uint8Array(8 + header.byteLength + treeSize + featureBytes.byteLength);
  bytes.set(plain.subarray(0, 8), 0);
  bytes.set(header, 8);
  bytes.fill(0xee, 8 + header.byteLength, 8 + header.byteLength + treeSize);
  bytes.set(featureBytes, 8 + header.byteLength + treeSize);
  return { bytes, indexStart: 8 + header.byteLength, indexEnd: 8 + header.byteLength + treeSize };
}

describe('FlatGeobuf reader', () => {
  it('skips the spatial index without reading it', async () => {
    const { bytes, indexStart, indexEnd } = await fileWithIndex();
    const file = memorySourceFile(bytes, 'indexed.fgb');
    const source = await openFlatGeobuf(file, { limits: TEST_LIMITS, tempDir: '/nonexistent' });
    const features = await readAll(source);
    expect(features).toHaveLength(TEST_GEOMETRIES.length);
    // This header declares no columns, so each feature's properties are refused; its geometry still comes.
    expect(features.map((f) => f.geometry)).toEqual(TEST_GEOMETRIES);
    expect(features.every((f) => f.problem?.rule === 'property-unreadable')).toBe(true);
    expect(file.bytesRead).toBe(bytes.byteLength - (indexEnd - indexStart));
  });

  it('names a file that is not FlatGeobuf', async () => {
    const error = await open(new TextEncoder().encode('{"type":"FeatureCollection"}')).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ rule: 'format-mismatch' });
    expect(error).toBeInstanceOf(FormatError);
  });

  it('refuses a header larger than the file before reading it', async () => {
    const bytes = new Uint8Array(64);
    bytes.set([0x66, 0x67, 0x62, 0x03, 0x66, 0x67, 0x62, 0x00]);
    new DataView(bytes.buffer).setUint32(8, 0xfffffff0, true);
    const file = memorySourceFile(bytes, 'x.fgb');
    const error = await openFlatGeobuf(file, { limits: TEST_LIMITS, tempDir: '/x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ rule: 'file-truncated' });
    expect(file.bytesRead).toBe(12);
  });

  it('reports a truncated last feature and keeps the ones before it', async () => {
    const bytes = await withTempDir((dir) => writeTestFile(dir));
    const features = await readAll(await open(bytes.subarray(0, bytes.byteLength - 10)));
    expect(features).toHaveLength(TEST_GEOMETRIES.length);
    expect(features.slice(0, -1).every((f) => f.problem === undefined)).toBe(true);
    expect(features.at(-1)!.problem?.rule).toBe('feature-truncated');
  });

  it('skips a feature over maxFeatureBytes with a problem and reads on', async () => {
    const bytes = await withTempDir((dir) => writeTestFile(dir));
    const sizes = await featureSizes(bytes);
    const limit = Math.max(...sizes) - 1;
    const features = await readAll(await open(bytes, { ...TEST_LIMITS, maxFeatureBytes: limit }));
    expect(features).toHaveLength(TEST_GEOMETRIES.length);
    const tooLarge = features.filter((f) => f.problem?.rule === 'feature-too-large').map((f) => f.index);
    expect(tooLarge).toEqual(sizes.flatMap((s, i) => (s > limit ? [i] : [])));
    expect(features.find((f) => f.problem === undefined)?.geometry).not.toBeNull();
  });

  it('reports a geometry over maxVertices', async () => {
    const bytes = await withTempDir((dir) => writeTestFile(dir));
    const features = await readAll(await open(bytes, { ...TEST_LIMITS, maxVertices: 4 }));
    expect(features[1]!.problem).toMatchObject({ rule: 'feature-too-large' });
    expect(features[1]!.geometry).toBeNull();
    expect(features[0]!.problem).toBeUndefined();
  });

  it('never throws anything but a FormatError on mutated or truncated files, nor reads past them', async () => {
    const valid = await withTempDir((dir) => writeTestFile(dir));
    await fc.assert(
      fc.asyncProperty(mutatedCopies(valid), async (bytes) => {
        const file = memorySourceFile(bytes, 'fuzz.fgb', 97);
        const features = await readOrRefuse(() =>
          openFlatGeobuf(file, { limits: TEST_LIMITS, tempDir: '/x' }),
        );
        expect(file.outOfRange).toBe(0);
        expect(file.bytesRead).toBeLessThanOrEqual(bytes.byteLength);
        expect(file.openStreams).toBe(0);
        expect(features.every((f, i) => f.index === i)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

async function featureSizes(bytes: Uint8Array): Promise<number[]> {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  let at = 12 + view.getUint32(8, true);
  const sizes: number[] = [];
  while (at < bytes.byteLength) {
    const size = view.getUint32(at, true);
    sizes.push(size);
    at += 4 + size;
  }
  return sizes;
}

describe('FlatGeobuf samples', () => {
  const roads = sampleRoads({ rows: 10 });

  it('reads the plain road layer with its typed columns', async () => {
    const source = await open(await samples.valid(roads));
    expect(source.crs).toMatchObject({ kind: 'epsg', code: 4326 });
    expect(source.fields.find((f) => f.name === 'length_mm')?.type).toBe('bigint');
    const features = await readAll(source);
    expect(features.map((f) => f.geometry)).toEqual(roads.map((f) => f.geometry));
    // 'date' fields come back as FlatGeobuf DateTime, the same instant.
    expect(features.map((f) => f.properties)).toEqual(roads.map((f) => f.properties));
  });

  it('reads what the flatgeobuf package itself serialized', async () => {
    const source = await open(await samples.byReference(roads));
    expect(source.crs).toMatchObject({ kind: 'epsg', code: 4326 });
    expect(source.declaredFeatureCount).toBe(roads.length);
    const features = await readAll(source);
    expect(features.map((f) => f.geometry)).toEqual(roads.map((f) => f.geometry));
    expect(features[1]!.properties.length_mm).toBe(String(roads[1]!.properties.length_mm));
    expect(features[1]!.properties.name).toBe(roads[1]!.properties.name);
    expect(features[1]!.properties.lanes).toBe(roads[1]!.properties.lanes);
  });

  it('gives each broken sample its own finding', async () => {
    const truncated = await readAll(await open(await samples.broken('truncated', roads)));
    expect(truncated.at(-1)!.problem?.rule).toBe('feature-truncated');
    const polygon = await readAll(await open(await samples.broken('polygon', roads)));
    expect(polygon.map((f) => f.geometry?.type === 'Polygon')).toEqual(
      roads.map((_, i) => i === samples.DEFECT_FEATURE),
    );
    const overrun = await open(await samples.broken('header-overrun', roads)).catch((e: unknown) => e);
    expect(overrun).toMatchObject({ rule: 'file-truncated' });
  });
});
