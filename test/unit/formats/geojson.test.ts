/**
 * Unit tests of `shared/formats/geojson.ts`: GeoJSON FeatureCollection reader; GeoJSONSeq reader; GeoJSON
 * writer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as samples from '../../../local/standins/format-samples/geojson.js';
import { projectRoads, sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { projectionFor } from '../../../shared/formats/crs.js';
import {
  boundedLines,
  createGeoJsonSink,
  openGeoJson,
  openGeoJsonSeq,
} from '../../../shared/formats/geojson.js';
import { normaliseFeature } from '../../../shared/formats/normalise.js';
import { bytesSourceFile } from '../../../shared/formats/sourceFile.js';
import type { OutputFeature } from '../../../shared/formats/types.js';
import { assertOnlyFormatErrors, drain, formatRule, LIMITS, readOptions, scratch } from './support.js';

const dir = scratch();
const roads = sampleRoads({ rows: 12 });
const file = (bytes: Uint8Array, name = 'roads.geojson') => bytesSourceFile(bytes, name);

/** What JSON makes of a sample road's properties (bigint beyond 2^53 as text, dates as ISO text). */
const asJson = (p: object) =>
  JSON.parse(JSON.stringify(p, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));

describe('GeoJSON FeatureCollection reader', () => {
  it('reads every feature with its id, geometry and properties, and infers the fields', async () => {
    const source = await openGeoJson(file(samples.valid(roads)), readOptions(dir));
    expect(source.format).toBe('geojson');
    expect(source.layer).toBe('roads');
    expect(source.crs).toMatchObject({ kind: 'crs84' });
    expect(source.declaredFeatureCount).toBe(12);
    expect(source.fields).toEqual([
      { name: 'road_id', type: 'string' },
      { name: 'name', type: 'string' },
      { name: 'lanes', type: 'integer' },
      { name: 'speed_kmh', type: 'number' },
      { name: 'oneway', type: 'boolean' },
      { name: 'navigable', type: 'boolean' },
      { name: 'length_mm', type: 'string' },
      { name: 'surveyed', type: 'string' },
      { name: 'note', type: 'string' },
    ]);
    const features = await drain(source);
    expect(features.map((f) => f.id)).toEqual(roads.map((r) => r.id));
    features.forEach((f, i) => {
      expect(f.index).toBe(i);
      expect(f.geometry).toEqual(roads[i]!.geometry);
      expect(f.properties).toEqual(asJson(roads[i]!.properties));
    });
    expect(features.some((f) => f.geometry?.type === 'MultiLineString')).toBe(true);
  });

  it('honours a GeoJSON 2008 crs member naming an EPSG code', async () => {
    const projected = await projectRoads(roads, 28992);
    const source = await openGeoJson(file(samples.valid(projected, { crsCode: 28992 })), readOptions(dir));
    expect(source.crs).toMatchObject({ kind: 'epsg', code: 28992 });
    const projection = await projectionFor(source.crs);
    const features = await drain(source);
    const { rows, findings } = normaliseFeature(features[0]!, { projection, limits: LIMITS });
    expect(findings).toEqual([]);
    const back = (roads[0]!.geometry as { coordinates: number[][] }).coordinates[0]!;
    const [lon, lat] = rows[0]!.wkt.slice(12).split(',')[0]!.trim().split(' ').map(Number);
    expect(Math.abs(lon! - back[0]!)).toBeLessThan(1e-7);
    expect(Math.abs(lat! - back[1]!)).toBeLessThan(1e-7);
  });

  it('a crs member naming EPSG:4326 (GeoJSON 2008, lat/lon by authority) is read x = longitude', async () => {
    const text = new TextDecoder().decode(samples.valid(roads, { crsCode: 4326 }));
    const source = await openGeoJson(file(new TextEncoder().encode(text)), readOptions(dir));
    const projection = await projectionFor(source.crs);
    expect(projection.isLonLat).toBe(true);
    expect(projection.toLonLat(4.9, 52.37)).toEqual([4.9, 52.37]);
  });

  it('keeps Z', async () => {
    const z = sampleRoads({ rows: 3, withZ: true });
    const features = await drain(await openGeoJson(file(samples.valid(z)), readOptions(dir)));
    expect(features[0]!.geometry).toEqual(z[0]!.geometry);
    expect((features[0]!.geometry as { coordinates: number[][] }).coordinates[0]).toHaveLength(3);
  });

  it.each([
    ['polygon', 'geometry-type'],
    ['single-point', 'geometry-min-points'],
  ] as const)('broken "%s": the defect feature gets the %s finding, the others none', async (kind, rule) => {
    const features = await drain(await openGeoJson(file(samples.broken(kind, roads)), readOptions(dir)));
    const projection = await projectionFor({ kind: 'crs84', source: 't' });
    const findings = features.flatMap((f) => normaliseFeature(f, { projection, limits: LIMITS }).findings);
    expect(findings.map((f) => [f.rule, f.index, f.id])).toEqual([
      [rule, samples.DEFECT_FEATURE, roads[samples.DEFECT_FEATURE]!.id],
    ]);
  });

  it.each([
    ['truncated', 'json-truncated'],
    ['crs-unknown', 'crs-unknown'],
  ] as const)('broken "%s" is the FormatError %s', async (kind, rule) => {
    expect(await formatRule(openGeoJson(file(samples.broken(kind, roads)), readOptions(dir)))).toMatch(
      new RegExp(`^${rule}|json-invalid`),
    );
  });

  it('a single huge feature stops at maxFeatureBytes, not at memory', async () => {
    const huge = `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"blob":"${'x'.repeat(300_000)}"},"geometry":null}]}`;
    const limits = { ...LIMITS, maxFeatureBytes: 100_000 };
    expect(
      await formatRule(openGeoJson(file(new TextEncoder().encode(huge)), { limits, tempDir: dir })),
    ).toBe('feature-too-large');
  });

  it('nesting deeper than maxDepth is refused', async () => {
    const deep = `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":${'['.repeat(50)}${']'.repeat(50)}},"geometry":null}]}`;
    expect(await formatRule(openGeoJson(file(new TextEncoder().encode(deep)), readOptions(dir)))).toBe(
      'json-too-deep',
    );
  });

  it('malformed features are problems on the feature; reading goes on', async () => {
    const text =
      '{"type":"FeatureCollection","features":[1,{"type":"Feature","geometry":{"type":"LineString","coordinates":[[1,"a"]]},"properties":null},{"type":"Road"},{"type":"Feature","geometry":null,"properties":{"__proto__":{"x":1}}}]}';
    const features = await drain(await openGeoJson(file(new TextEncoder().encode(text)), readOptions(dir)));
    expect(features.map((f) => f.problem?.rule ?? null)).toEqual([
      'feature-unreadable',
      'geometry-unreadable',
      'feature-unreadable',
      null,
    ]);
    expect(Object.getPrototypeOf(features[3]!.properties)).toBe(Object.prototype);
  });

  it('property test: mutated or truncated files never throw anything but FormatError, read at most twice', async () => {
    await assertOnlyFormatErrors(samples.valid(sampleRoads({ rows: 4 })), async (f) =>
      drain(await openGeoJson(f, readOptions(dir))),
    );
  });
});

describe('GeoJSONSeq reader', () => {
  it.each([false, true])('reads one feature per line (RS separators: %s)', async (rs) => {
    const features = await drain(
      await openGeoJsonSeq(file(samples.validSeq(roads, { rs }), 'roads.geojsonl'), readOptions(dir)),
    );
    expect(features.map((f) => f.id)).toEqual(roads.map((r) => r.id));
    expect(features[3]!.geometry).toEqual(roads[3]!.geometry);
  });

  it('a line that is not JSON is a problem of that feature, at its index', async () => {
    const features = await drain(
      await openGeoJsonSeq(file(samples.brokenSeq('invalid-line', roads)), readOptions(dir)),
    );
    expect(features).toHaveLength(roads.length);
    expect(features.map((f, i) => (f.problem ? i : -1)).filter((i) => i >= 0)).toEqual([
      samples.DEFECT_FEATURE,
    ]);
    expect(features[samples.DEFECT_FEATURE]!.problem!.rule).toBe('feature-unreadable');
  });

  it('property test: mutated files throw nothing but FormatError, and every line is one feature', async () => {
    const limits = { ...LIMITS, maxFeatureBytes: 600 };
    await assertOnlyFormatErrors(samples.validSeq(sampleRoads({ rows: 5 })), async (f) => {
      const features = await drain(await openGeoJsonSeq(f, { limits, tempDir: dir }));
      expect(features.every((x, i) => x.index === i)).toBe(true);
    });
  });

  it('a line longer than maxFeatureBytes is skipped without being held, and counted', async () => {
    const lines: string[] = [];
    for await (const l of boundedLines(
      (async function* () {
        yield new TextEncoder().encode('{"a":1}\n' + 'x'.repeat(5000));
        yield new TextEncoder().encode('y'.repeat(5000) + '\n{"b":2}\r\n\n');
      })(),
      1000,
    ))
      lines.push(l.text ?? `skipped ${l.bytes}`);
    expect(lines).toEqual(['{"a":1}', 'skipped 10000', '{"b":2}']);
  });
});

describe('GeoJSON writer', () => {
  const out = (f: (typeof roads)[number], i: number): OutputFeature => ({
    id: f.id,
    geometry: f.geometry,
    properties: f.properties,
    enrichment:
      i % 3 === 2
        ? { gers: null, confidence: null, lr_from: null, lr_to: null, match: 'unmatched', match_count: 0 }
        : { gers: `0888${i}`, confidence: 90, lr_from: 0, lr_to: 1, match: 'full', match_count: 1 },
    matches:
      i % 3 === 2
        ? []
        : [{ gers: `0888${i}`, confidence: 90, lrFrom: 0, lrTo: 1, gersFrom: 0.25, gersTo: 0.75, part: 0 }],
  });

  it("writes a FeatureCollection JSON.parse reads, the enrichment after the user's properties", async () => {
    const path = join(dir, 'out.geojson');
    const fields = [
      { name: 'name', type: 'string' as const },
      { name: 'match', type: 'string' as const },
    ];
    const sink = await createGeoJsonSink({
      path,
      layer: 'roads',
      fields,
      crs: null,
      geometryType: null,
      tempDir: dir,
    });
    const withClash = roads.map((r, i) => ({
      ...out(r, i),
      properties: { ...r.properties, match: 'user value' },
    }));
    for (const f of withClash) await sink.write(f);
    const { features, bytes } = await sink.finish();
    expect(features).toBe(roads.length);
    const text = await readFile(path, 'utf8');
    expect(bytes).toBe(Buffer.byteLength(text));
    const doc = JSON.parse(text);
    expect(doc.features).toHaveLength(roads.length);
    const first = doc.features[0];
    expect(first.id).toBe(roads[0]!.id);
    expect(first.geometry).toEqual(roads[0]!.geometry);
    expect(Object.keys(first.properties).slice(-7)).toEqual([
      'gers',
      'confidence',
      'lr_from',
      'lr_to',
      'gem_match',
      'match_count',
      'matches',
    ]);
    expect(first.properties.match).toBe('user value');
    expect(first.properties.length_mm).toBe('9007199254740993');
    expect(first.properties.matches).toEqual([
      { gers: '08880', confidence: 90, lr_from: 0, lr_to: 1, gers_from: 0.25, gers_to: 0.75, part: 0 },
    ]);
    expect(doc.features[2].properties.gem_match).toBe('unmatched');

    const again = await drain(
      await openGeoJson(
        await (await import('../../../shared/formats/sourceFile.js')).localSourceFile(path),
        readOptions(dir),
      ),
    );
    expect(again.map((f) => f.geometry)).toEqual(roads.map((r) => r.geometry));
  });
});
