/**
 * Unit tests of `shared/formats/detect.ts`: detectFormat by content; detectFormat findings.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as csv from '../../../local/standins/format-samples/csv.js';
import * as geojson from '../../../local/standins/format-samples/geojson.js';
import * as geoparquet from '../../../local/standins/format-samples/geoparquet.js';
import { sampleRoads } from '../../../local/standins/format-samples/roads.js';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { detectFormat, HEAD_BYTES, zipEntryNames } from '../../../shared/formats/detect.js';
import { bytesSourceFile } from '../../../shared/formats/sourceFile.js';
import { counting, formatRule } from './support.js';

const roads = sampleRoads({ rows: 5 });
const text = (t: string) => new TextEncoder().encode(t);
const as = (bytes: Uint8Array, name: string) => bytesSourceFile(bytes, name);

/** A zip with stored (uncompressed) entries: enough to test the directory reading. */
function zip(entries: Record<string, string>): Uint8Array {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(entries)) {
    const data = Buffer.from(content);
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt32LE(crc32(data), 16);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(nameBytes.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    central.push(dir, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, end]));
}

function sqlite(applicationId?: number): Uint8Array {
  const path = join(mkdtempSync(join(tmpdir(), 'gem-flow-detect-')), 'db.sqlite');
  const db = new DatabaseSync(path);
  if (applicationId !== undefined) db.exec(`PRAGMA application_id = ${applicationId}`);
  db.exec('CREATE TABLE t (a INTEGER)');
  db.close();
  return new Uint8Array(readFileSync(path));
}

describe('detectFormat by content', () => {
  it.each([
    ['GEM Parquet', () => roadMatchingSample('valid', { rows: 10 }), 'x.parquet', 'gem-parquet'],
    ['GeoParquet', () => geoparquet.valid(roads), 'x.parquet', 'geoparquet'],
    ['a FeatureCollection', () => geojson.valid(roads), 'x.json', 'geojson'],
    ['GeoJSONSeq', () => geojson.validSeq(roads), 'x.json', 'geojsonseq'],
    ['RS-separated GeoJSONSeq', () => geojson.validSeq(roads, { rs: true }), 'x', 'geojsonseq'],
    ['CSV with a WKT column', () => csv.valid(roads), 'x.txt', 'csv'],
    [
      'CSV with ; and a "geometry" header',
      () => csv.valid(roads, { delimiter: ';', wktColumn: 'geometry' }),
      'x.csv',
      'csv',
    ],
    [
      'FlatGeobuf',
      () => Uint8Array.from([0x66, 0x67, 0x62, 0x03, 0x66, 0x67, 0x62, 0x00, 1, 2, 3]),
      'x.bin',
      'flatgeobuf',
    ],
    [
      'a zipped Shapefile',
      () =>
        zip({
          'roads/roads.shp': 'x',
          'roads/roads.shx': 'x',
          'roads/roads.dbf': 'x',
          'roads/roads.prj': 'x',
        }),
      'x.zip',
      'shapefile',
    ],
    ['a GeoPackage', () => sqlite(0x47504b47), 'x.db', 'geopackage'],
  ])('%s, whatever its name', async (_, make, name, format) => {
    const bytes = await make();
    const watched = counting(as(bytes, name));
    expect((await detectFormat(watched.file)).format).toBe(format);
    expect(watched.bytes()).toBeLessThanOrEqual(HEAD_BYTES + 2 * 1024 * 1024);
  });

  it('a Feature per line in a file named .geojson is still GeoJSONSeq (content first)', async () => {
    expect((await detectFormat(as(geojson.validSeq(roads), 'roads.geojson'))).format).toBe('geojsonseq');
  });

  it('reads only the head of a large text file', async () => {
    const big = geojson.valid(sampleRoads({ rows: 3000 }));
    expect(big.byteLength).toBeGreaterThan(HEAD_BYTES * 2);
    const watched = counting(as(big, 'big.geojson'));
    expect((await detectFormat(watched.file)).format).toBe('geojson');
    expect(watched.bytes()).toBe(HEAD_BYTES);
  });
});

describe('detectFormat findings', () => {
  it.each([
    ['a single Feature', () => geojson.broken('single-feature', roads), 'geojson-single-feature'],
    ['a bare geometry', () => geojson.broken('bare-geometry', roads), 'geojson-bare-geometry'],
    ['a JSON array of features', () => text('[{"type":"Feature"}]'), 'geojson-bare-array'],
    ['JSON that is not GeoJSON', () => text('{"rows":[1,2]}'), 'format-unknown'],
    ['a zip without a .shp', () => zip({ 'readme.txt': 'hello', 'roads.csv': 'a,b' }), 'zip-no-shapefile'],
    ['plain SQLite', () => sqlite(), 'sqlite-not-geopackage'],
    ['CSV without a WKT column', () => text('a,b,c\n1,2,3\n'), 'csv-no-wkt-column'],
    ['an empty file', () => new Uint8Array(0), 'file-empty'],
    [
      'a PNG',
      () => Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0]),
      'format-unknown',
    ],
    ['a bare .shp', () => Uint8Array.from([0, 0, 0x27, 0x0a, 0, 0, 0, 0]), 'format-unknown'],
    [
      'a truncated Parquet file',
      () => roadMatchingSample('valid', { rows: 10 }).slice(0, 200),
      'parquet-readable',
    ],
  ])('%s → %s', async (_, make, rule) => {
    expect(await formatRule(detectFormat(as(await make(), 'upload.bin')))).toBe(rule);
  });

  it('the message names what the file looks like and what is accepted', async () => {
    const err = await detectFormat(as(Uint8Array.from([0x25, 0x50, 0x44, 0x46, 0x2d]), 'roads.pdf')).catch(
      (e) => e,
    );
    expect(err.message).toContain('a PDF document');
    expect(err.remedy).toContain('GeoPackage');
  });

  it('the wktColumn option names the CSV column, and a missing one is a finding', async () => {
    expect(
      (
        await detectFormat(as(text('a;shape_txt\n1;LINESTRING (1 2, 3 4)\n'), 'x.csv'), {
          wktColumn: 'shape_txt',
        })
      ).format,
    ).toBe('csv');
    expect(await formatRule(detectFormat(as(text('a;b\n1;2\n'), 'x.csv'), { wktColumn: 'shape_txt' }))).toBe(
      'csv-wkt-column-missing',
    );
  });

  it('lists zip entries from the central directory, and refuses a directory claimed outside the file', async () => {
    const bytes = zip({ 'a.shp': '1', 'b.dbf': '22' });
    expect(await zipEntryNames(as(bytes, 'x.zip'))).toEqual(['a.shp', 'b.dbf']);
    const lying = bytes.slice();
    new DataView(lying.buffer).setUint32(lying.byteLength - 6, 0x7fffffff, true);
    expect(await formatRule(detectFormat(as(lying, 'x.zip')))).toBe('zip-unreadable');
  });
});
