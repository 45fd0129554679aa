/**
 * Unit tests of `shared/formats/shapefile.ts`: Shapefile reader.
 */
import fc from 'fast-check';
import * as independent from 'shapefile';
import { describe, expect, it } from 'vitest';
import {
  projectRoads,
  type SampleFeature,
  sampleRoads,
} from '../../../local/standins/format-samples/roads.js';
import {
  broken,
  rdNew,
  rdNewPrj,
  shapefileFiles,
  UNKNOWN_PRJ,
  valid,
  zip,
} from '../../../local/standins/format-samples/shapefile.js';
import { encodingLabel, resolveDbfEncoding } from '../../../shared/formats/dbfEncoding.js';
import { FormatError } from '../../../shared/formats/errors.js';
import { openShapefile } from '../../../shared/formats/shapefile.js';
import type { FormatLimits, SourceFeature } from '../../../shared/formats/types.js';
import {
  mutatedCopies,
  readAll,
  readOrRefuse,
  TEST_LIMITS,
  worstLonLatError,
} from '../../support/formatFixtures.js';
import { memorySourceFile } from '../../support/localSourceFile.js';

const ROADS = sampleRoads({ rows: 12 });

function open(bytes: Uint8Array, extra: { layer?: string; encoding?: string; limits?: FormatLimits } = {}) {
  return openShapefile(memorySourceFile(bytes, 'roads.zip', 777), {
    limits: extra.limits ?? TEST_LIMITS,
    tempDir: '/nonexistent',
    ...(extra.layer === undefined ? {} : { layer: extra.layer }),
    ...(extra.encoding === undefined ? {} : { encoding: extra.encoding }),
  });
}

async function failure(promise: Promise<unknown>): Promise<FormatError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FormatError);
  return error as FormatError;
}

function expectSameFeatures(read: SourceFeature[], written: SampleFeature[]): void {
  expect(read).toHaveLength(written.length);
  read.forEach((feature, i) => {
    expect(feature.problem).toBeUndefined();
    expect(feature.index).toBe(i);
    expect(feature.id).toBeNull();
    expect(feature.geometry).toEqual(written[i]!.geometry);
    expect(feature.properties).toEqual(written[i]!.properties);
  });
}

describe('Shapefile reader', () => {
  it('reads every record with its attributes, types and lines (single and multi part)', async () => {
    const source = await open(await valid(ROADS));
    expect(source.layer).toBe('roads');
    expect(source.crs).toBeNull();
    expect(source.declaredGeometryType).toBeNull();
    expect(source.declaredFeatureCount).toBe(ROADS.length);
    expect(source.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
      'road_id:string',
      'name:string',
      'lanes:integer',
      'speed_kmh:number',
      'oneway:boolean',
      'navigable:boolean',
      'length_mm:bigint',
      'surveyed:date',
      'note:string',
    ]);
    expect(source.notes).toEqual([
      { rule: 'dbf-encoding', message: 'DBF text read as utf-8 (from the .cpg file).' },
    ]);
    const features = await readAll(source);
    expectSameFeatures(features, ROADS);
    expect(features.some((f) => f.geometry?.type === 'MultiLineString')).toBe(true);
    expect(typeof features[0]!.properties.length_mm).toBe('bigint');
  });

  it('reads the RD New acceptance sample with its projected coordinates and the .prj as WKT', async () => {
    const source = await open(await rdNew(ROADS));
    expect(source.crs).toEqual({ kind: 'wkt', wkt: await rdNewPrj(), source: 'roads.prj' });
    expect(source.crs?.kind === 'wkt' && source.crs.wkt).toContain('AUTHORITY["EPSG","28992"]');
    const features = await readAll(source);
    expectSameFeatures(features, await projectRoads(ROADS, 28992));
    const [x, y] = (features[0]!.geometry as { coordinates: number[][] }).coordinates[0]!;
    // Amsterdam in RD New: x ≈ 120 km, y ≈ 485 km.
    expect(x).toBeGreaterThan(110_000);
    expect(y).toBeGreaterThan(475_000);
  });

  it('takes the RD New sample back to the roads’ lon/lat within 1e-7° through its .prj', async () => {
    expect(await worstLonLatError(await open(await rdNew(ROADS)), ROADS)).toBeLessThan(1e-7);
  });

  it('keeps Z (PolyLineZ) and M (PolyLineM) as read', async () => {
    const withZ = sampleRoads({ rows: 6, withZ: true });
    expectSameFeatures(await readAll(await open(await valid(withZ))), withZ);
    const withM: SampleFeature[] = ROADS.slice(0, 4).map((f, i) => ({
      ...f,
      geometry: {
        type: 'LineString',
        coordinates: [
          [4.9 + i, 52.3, Number.NaN, 0],
          [4.91 + i, 52.31, Number.NaN, 125.5],
        ],
      },
    }));
    expectSameFeatures(await readAll(await open(await valid(withM))), withM);
  });

  it('agrees with the shapefile package on the same .shp and .dbf', async () => {
    const files = Object.fromEntries(shapefileFiles(ROADS));
    const collection = await independent.read(
      Buffer.from(files['roads.shp']!),
      Buffer.from(files['roads.dbf']!),
    );
    const mine = await readAll(await open(await valid(ROADS)));
    expect(collection.features).toHaveLength(mine.length);
    collection.features.forEach((feature, i) => {
      expect(feature.geometry).toEqual(mine[i]!.geometry);
      expect(feature.properties?.name).toBe(mine[i]!.properties.name);
      expect(feature.properties?.lanes).toBe(mine[i]!.properties.lanes);
      expect(feature.properties?.oneway).toBe(mine[i]!.properties.oneway);
      expect(feature.properties?.surveyed).toEqual(mine[i]!.properties.surveyed);
    });
  });

  it('decodes the DBF by .cpg, then the encoding option, then the language driver, then UTF-8', async () => {
    const named = ROADS.slice(0, 2).map((f) => ({
      ...f,
      properties: { ...f.properties, name: 'Straße Ærø' },
    }));
    const latin1 = (cpg: string | null, languageDriver = 0) =>
      valid(named, { cpg, textEncoding: 'latin1', languageDriver });
    const byCpg = await open(await latin1('1252'));
    expect((await readAll(byCpg))[0]!.properties.name).toBe('Straße Ærø');
    expect(byCpg.notes?.[0]?.message).toContain('windows-1252 (from the .cpg file)');
    const byDriver = await open(await latin1(null, 0x57));
    expect((await readAll(byDriver))[1]!.properties.name).toBe('Straße Ærø');
    expect(byDriver.notes?.[0]?.message).toContain('language driver 0x57');
    const byOption = await open(await latin1(null), { encoding: 'ISO-8859-1' });
    expect((await readAll(byOption))[0]!.properties.name).toBe('Straße Ærø');
    const dos = await open(await latin1(null, 0x01));
    expect(dos.notes?.map((n) => n.rule)).toEqual(['dbf-encoding-unsupported', 'dbf-encoding']);
    expect(dos.notes?.[1]?.message).toContain('utf-8');
  });

  it('maps .cpg spellings to encodings', () => {
    expect(encodingLabel('65001')).toBe('utf-8');
    expect(encodingLabel('ANSI 1252')).toBe('windows-1252');
    expect(encodingLabel('88591')).toBe('iso-8859-1');
    expect(encodingLabel('ISO 8859-15')).toBe('iso-8859-15');
    expect(encodingLabel('UTF8')).toBe('utf-8');
    expect(encodingLabel('CP1251')).toBe('windows-1251');
    expect(resolveDbfEncoding('nonsense', undefined, 0).label).toBe('utf-8');
  });

  it('refuses an archive without .dbf, naming the files', async () => {
    const error = await failure(open(await broken('no-dbf', ROADS)));
    expect(error.rule).toBe('shapefile-dbf-missing');
    expect(error.message).toContain('roads.shp has no roads.dbf');
  });

  it('names every layer of a two-layer archive and reads the one the layer option names', async () => {
    const bytes = await broken('two-layers', ROADS);
    const error = await failure(open(bytes));
    expect(error.rule).toBe('layer-ambiguous');
    expect(error.message).toContain("'roads'");
    expect(error.message).toContain("'paths'");
    const paths = await open(bytes, { layer: 'paths.shp' });
    expect(paths.layer).toBe('paths');
    expect(await readAll(paths)).toHaveLength(3);
    expect((await failure(open(bytes, { layer: 'canals' }))).rule).toBe('layer-missing');
  });

  it('passes an unknown .prj on as WKT and a missing one as no CRS', async () => {
    expect((await open(await broken('unknown-prj', ROADS))).crs).toEqual({
      kind: 'wkt',
      wkt: UNKNOWN_PRJ,
      source: 'roads.prj',
    });
    expect((await open(await broken('no-prj', ROADS))).crs).toBeNull();
  });

  it('reports the record the .shp ends inside and keeps the ones before it', async () => {
    const features = await readAll(await open(await broken('truncated-shp', ROADS)));
    expect(features).toHaveLength(ROADS.length);
    expect(features.slice(0, -1).every((f) => f.problem === undefined)).toBe(true);
    expect(features.at(-1)!.problem?.rule).toBe('feature-truncated');
    expect(features.at(-1)!.properties.name).toBe(ROADS.at(-1)!.properties.name);
  });

  it('refuses a zip bomb before inflating it', async () => {
    const bomb = await zip([
      ['roads.shp', new Uint8Array(40 * 1024 * 1024)],
      ['roads.dbf', new Uint8Array(100)],
    ]);
    const file = memorySourceFile(bomb, 'bomb.zip');
    const error = await failure(openShapefile(file, { limits: TEST_LIMITS, tempDir: '/x' }));
    expect(error.rule).toBe('zip-bomb-suspected');
    expect(file.bytesRead).toBeLessThan(bomb.byteLength * 3);
  });

  it('refuses what is not a zip', async () => {
    expect((await failure(open(new TextEncoder().encode('{"type":"FeatureCollection"}')))).rule).toBe(
      'zip-unreadable',
    );
    const noShapefile = await zip([['readme.txt', new TextEncoder().encode('hello')]]);
    expect((await failure(open(noShapefile))).rule).toBe('shapefile-shp-missing');
  });

  it('reports a record over maxFeatureBytes or maxVertices and reads on', async () => {
    const features = await readAll(
      await open(await valid(ROADS), { limits: { ...TEST_LIMITS, maxVertices: 3 } }),
    );
    expect(features).toHaveLength(ROADS.length);
    const tooLarge = features.filter((f) => f.problem?.rule === 'feature-too-large').map((f) => f.index);
    const expected = ROADS.flatMap((f, i) => {
      const g = f.geometry!;
      const n =
        g.type === 'LineString'
          ? g.coordinates.length
          : g.type === 'MultiLineString'
            ? g.coordinates.flat().length
            : 0;
      return n > 3 ? [i] : [];
    });
    expect(tooLarge).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);
    const small = await readAll(
      await open(await valid(ROADS), { limits: { ...TEST_LIMITS, maxFeatureBytes: 100 } }),
    );
    expect(small.filter((f) => f.problem?.rule === 'feature-too-large').length).toBeGreaterThan(0);
    expect(small.every((f) => f.properties.name === ROADS[f.index]!.properties.name)).toBe(true);
  });

  it('refuses an archive whose .dbf inflates to garbage while the .shp header is bad, without an uncaught error', async () => {
    // The .dbf's stream is opened before the .shp header is checked, and yauzl inflates ahead: its failure
    // arrives as a bare 'error' event on a stream nobody reads yet, which once ended the process.
    const dbf = Buffer.alloc(256 * 1024, 'road name and attribute text ');
    const bytes = await zip([
      ['roads.shp', Buffer.alloc(100, 0xee)],
      ['roads.shx', Buffer.alloc(100)],
      ['roads.dbf', dbf],
    ]);
    const dbfData = localEntryData(bytes, 'roads.dbf');
    for (let i = dbfData.start + 2; i < dbfData.end; i += 7) bytes[i] = 0xff;
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const error = await failure(open(bytes));
      expect(error.rule).toBe('shapefile-shp-invalid');
      // yauzl's forwarding happens on setImmediate; give it a few turns to arrive.
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });

  it('never throws anything but a FormatError on mutated or truncated archives, nor reads outside them', async () => {
    const validZip = await valid(ROADS.slice(0, 6));
    await fc.assert(
      fc.asyncProperty(mutatedCopies(validZip, 10), async (bytes) => {
        const file = memorySourceFile(bytes, 'fuzz.zip', 333);
        const features = await readOrRefuse(() =>
          openShapefile(file, { limits: TEST_LIMITS, tempDir: '/x' }),
        );
        expect(file.outOfRange).toBe(0);
        // Directory records and entry data are read once each; a cache window may read a little twice.
        expect(file.bytesRead).toBeLessThanOrEqual(3 * bytes.byteLength);
        expect(features.every((f, i) => f.index >= i)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

/** Where an entry's compressed bytes lie in a zip, read from its local file header (APPNOTE 4.3.7). */
function localEntryData(bytes: Uint8Array, name: string): { start: number; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (view.getUint32(at, true) === 0x04034b50) {
    const compressed = view.getUint32(at + 18, true);
    const nameLength = view.getUint16(at + 26, true);
    const extraLength = view.getUint16(at + 28, true);
    const start = at + 30 + nameLength + extraLength;
    if (Buffer.from(bytes.subarray(at + 30, at + 30 + nameLength)).toString() === name) {
      return { start, end: start + compressed };
    }
    at = start + compressed;
  }
  throw new Error(`no local header for ${name}`);
}
