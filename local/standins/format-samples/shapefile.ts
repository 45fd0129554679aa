/**
 * Shapefile samples: the sample roads as `.shp` + `.shx` + `.dbf` (+ `.prj`, `.cpg`), zipped with `yazl`.
 * The Shapefile files are encoded here after the ESRI technical description (PolyLine, PolyLineZ or
 * PolyLineM by what the features carry; dBase III fields C, N, L, D), independently of gem-flow's reader,
 * which the tests check against it and against the `shapefile` package. `rdNew()` is the sample the
 * acceptance needs: the roads projected to EPSG:28992 (RD New) with proj4, and the EPSG registry's WKT of
 * 28992 as `.prj`. Broken cases each differ from the valid archive in one defect.
 */
import yazl from 'yazl';
import { registryEntry } from '../../../shared/formats/crs.js';
import type { Geometry, Position, PropertyValue } from '../../../shared/formats/types.js';
import { projectRoads, type SampleFeature, sampleRoads } from './roads.js';

export interface ShapefileSampleOptions {
  /** Base name of the files in the archive. Default `roads`. */
  layer?: string;
  /** The `.prj` text; null leaves it out. Default: none. */
  prj?: string | null;
  /** The `.cpg` text; null leaves it out. Default `UTF-8`. */
  cpg?: string | null;
  /** How DBF text is encoded: UTF-8, or Latin-1 (what `.cpg` 1252 / ISO-8859-1 readers expect). */
  textEncoding?: 'utf-8' | 'latin1';
  /** DBF byte 29. Default 0 (none: the `.cpg` decides). */
  languageDriver?: number;
}

// ---- .shp / .shx ----

interface ShapeKind {
  code: number;
  z: boolean;
  m: boolean;
}

function shapeKind(features: SampleFeature[]): ShapeKind {
  const positions = features.flatMap((f) => linesOf(f.geometry).flat());
  const z = positions.some((p) => p.length >= 3 && !Number.isNaN(p[2]));
  const m = positions.some((p) => p.length >= 4);
  return { code: z ? 13 : m ? 23 : 3, z, m };
}

function linesOf(geometry: Geometry | null): Position[][] {
  if (geometry === null) return [];
  if (geometry.type === 'LineString') return [geometry.coordinates];
  if (geometry.type === 'MultiLineString') return geometry.coordinates;
  throw new Error(`the Shapefile sample writes lines only, not ${geometry.type}`);
}

/** Min and max without spreading (a spread of a million values overflows the stack). */
function range(values: number[]): [number, number] {
  if (values.length === 0) return [0, 0];
  let lo = values[0]!;
  let hi = lo;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** The bounding box Xmin, Ymin, Xmax, Ymax as four little-endian doubles at `at`. */
function writeBox(buffer: Buffer, at: number, points: Position[]): void {
  const [xmin, xmax] = range(points.map((p) => p[0]!));
  const [ymin, ymax] = range(points.map((p) => p[1]!));
  for (const [i, v] of [xmin, ymin, xmax, ymax].entries()) buffer.writeDoubleLE(v, at + 8 * i);
}

/** One PolyLine(Z/M) record's content, or a Null shape for no geometry. */
function polylineContent(geometry: Geometry | null, kind: ShapeKind): Buffer {
  const parts = linesOf(geometry);
  if (parts.length === 0) return Buffer.from([0, 0, 0, 0]);
  const points = parts.flat();
  const n = points.length;
  const size = 44 + 4 * parts.length + 16 * n + (kind.z ? 16 + 8 * n : 0) + (kind.m ? 16 + 8 * n : 0);
  const b = Buffer.alloc(size);
  b.writeInt32LE(kind.code, 0);
  writeBox(b, 4, points);
  b.writeInt32LE(parts.length, 36);
  b.writeInt32LE(n, 40);
  let at = 44;
  let start = 0;
  for (const part of parts) {
    b.writeInt32LE(start, at);
    at += 4;
    start += part.length;
  }
  for (const p of points) {
    b.writeDoubleLE(p[0]!, at);
    b.writeDoubleLE(p[1]!, at + 8);
    at += 16;
  }
  for (const [use, index] of [
    [kind.z, 2],
    [kind.m, 3],
  ] as const) {
    if (!use) continue;
    const values = points.map((p) => p[index] ?? 0);
    const [lo, hi] = range(values);
    b.writeDoubleLE(lo, at);
    b.writeDoubleLE(hi, at + 8);
    at += 16;
    for (const v of values) {
      b.writeDoubleLE(v, at);
      at += 8;
    }
  }
  return b;
}

function mainHeader(kind: ShapeKind, fileBytes: number, features: SampleFeature[]): Buffer {
  const h = Buffer.alloc(100);
  h.writeInt32BE(9994, 0);
  h.writeInt32BE(fileBytes / 2, 24);
  h.writeInt32LE(1000, 28);
  h.writeInt32LE(kind.code, 32);
  writeBox(
    h,
    36,
    features.flatMap((f) => linesOf(f.geometry).flat()),
  );
  return h;
}

/** The `.shp` and its index `.shx`. */
export function encodeShp(features: SampleFeature[]): { shp: Buffer; shx: Buffer } {
  const kind = shapeKind(features);
  const records: Buffer[] = [];
  const index = Buffer.alloc(8 * features.length);
  let offset = 100;
  features.forEach((f, i) => {
    const content = polylineContent(f.geometry, kind);
    const head = Buffer.alloc(8);
    head.writeInt32BE(i + 1, 0);
    head.writeInt32BE(content.length / 2, 4);
    index.writeInt32BE(offset / 2, 8 * i);
    index.writeInt32BE(content.length / 2, 8 * i + 4);
    records.push(head, content);
    offset += 8 + content.length;
  });
  return {
    shp: Buffer.concat([mainHeader(kind, offset, features), ...records]),
    shx: Buffer.concat([mainHeader(kind, 100 + index.length, features), index]),
  };
}

// ---- .dbf ----

interface DbfColumn {
  name: string;
  code: 'C' | 'N' | 'L' | 'D';
  length: number;
  decimals: number;
}

function dbfColumn(name: string, values: PropertyValue[], encode: (s: string) => Buffer): DbfColumn {
  const sample = values.find((v) => v !== null && v !== undefined);
  if (typeof sample === 'boolean') return { name, code: 'L', length: 1, decimals: 0 };
  if (sample instanceof Date) return { name, code: 'D', length: 8, decimals: 0 };
  if (typeof sample === 'bigint') return { name, code: 'N', length: 19, decimals: 0 };
  if (typeof sample === 'number') {
    const integral = values.every((v) => v === null || Number.isInteger(v));
    return integral
      ? { name, code: 'N', length: 10, decimals: 0 }
      : { name, code: 'N', length: 19, decimals: 11 };
  }
  const width = values.reduce<number>((w, v) => Math.max(w, v === null ? 0 : encode(String(v)).length), 1);
  return { name, code: 'C', length: Math.min(254, width), decimals: 0 };
}

function dbfValue(column: DbfColumn, value: PropertyValue, encode: (s: string) => Buffer): Buffer {
  const cell = Buffer.alloc(column.length, 0x20);
  if (value === null || value === undefined) {
    if (column.code === 'L') cell.write('?');
    return cell;
  }
  if (column.code === 'L') cell.write(value ? 'T' : 'F');
  else if (column.code === 'D') cell.write((value as Date).toISOString().slice(0, 10).replaceAll('-', ''));
  else if (column.code === 'N') {
    const text = column.decimals > 0 ? (value as number).toFixed(column.decimals) : String(value);
    cell.write(text.padStart(column.length).slice(-column.length));
  } else encode(String(value)).copy(cell, 0, 0, column.length);
  return cell;
}

/** The `.dbf`: dBase III, one column per property of the first feature, in property order. */
export function encodeDbf(features: SampleFeature[], options: ShapefileSampleOptions = {}): Buffer {
  const encode = (s: string): Buffer => Buffer.from(s, options.textEncoding === 'latin1' ? 'latin1' : 'utf8');
  const names = Object.keys(features[0]?.properties ?? {});
  const columns = names.map((n) =>
    dbfColumn(
      n,
      features.map((f) => f.properties[n] ?? null),
      encode,
    ),
  );
  const recordLength = 1 + columns.reduce((s, c) => s + c.length, 0);
  const headerLength = 32 + 32 * columns.length + 1;
  const header = Buffer.alloc(headerLength);
  header[0] = 0x03;
  header.set([126, 1, 1], 1);
  header.writeUInt32LE(features.length, 4);
  header.writeUInt16LE(headerLength, 8);
  header.writeUInt16LE(recordLength, 10);
  header[29] = options.languageDriver ?? 0;
  columns.forEach((c, i) => {
    const at = 32 + 32 * i;
    header.write(c.name.slice(0, 10), at, 'latin1');
    header.write(c.code, at + 11, 'latin1');
    header[at + 16] = c.length;
    header[at + 17] = c.decimals;
  });
  header[headerLength - 1] = 0x0d;
  const records = features.map((f) =>
    Buffer.concat([
      Buffer.from(' '),
      ...columns.map((c) => dbfValue(c, f.properties[c.name] ?? null, encode)),
    ]),
  );
  return Buffer.concat([header, ...records, Buffer.from([0x1a])]);
}

// ---- The archive ----

/** A zip of the given files, in order. */
export function zip(files: [name: string, bytes: Uint8Array][]): Promise<Uint8Array> {
  const archive = new yazl.ZipFile();
  for (const [name, bytes] of files) archive.addBuffer(Buffer.from(bytes), name);
  archive.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    archive.outputStream.on('data', (c: Buffer) => chunks.push(c));
    archive.outputStream.on('error', reject);
    archive.outputStream.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
  });
}

export function shapefileFiles(
  features: SampleFeature[],
  options: ShapefileSampleOptions = {},
): [string, Uint8Array][] {
  const base = options.layer ?? 'roads';
  const { shp, shx } = encodeShp(features);
  const files: [string, Uint8Array][] = [
    [`${base}.shp`, shp],
    [`${base}.shx`, shx],
    [`${base}.dbf`, encodeDbf(features, options)],
  ];
  if (options.prj) files.push([`${base}.prj`, Buffer.from(options.prj, 'utf8')]);
  const cpg = options.cpg === undefined ? 'UTF-8' : options.cpg;
  if (cpg !== null) files.push([`${base}.cpg`, Buffer.from(cpg, 'latin1')]);
  return files;
}

/** A valid zipped Shapefile of the features (lon/lat unless they were projected; no `.prj` unless given). */
export function valid(
  features: SampleFeature[] = sampleRoads(),
  options: ShapefileSampleOptions = {},
): Promise<Uint8Array> {
  return zip(shapefileFiles(features, options));
}

/** The EPSG registry's WKT for RD New, as GDAL writes into a `.prj` for EPSG:28992. */
export async function rdNewPrj(): Promise<string> {
  const entry = await registryEntry(28992);
  if (!entry) throw new Error('epsg-index has no EPSG:28992');
  return entry.wkt;
}

/** The acceptance sample: the roads in EPSG:28992 (RD New), with the registry's `.prj`. */
export async function rdNew(features: SampleFeature[] = sampleRoads()): Promise<Uint8Array> {
  return valid(await projectRoads(features, 28992), { prj: await rdNewPrj() });
}

export const SHAPEFILE_BROKEN = ['no-dbf', 'unknown-prj', 'two-layers', 'truncated-shp', 'no-prj'] as const;
export type ShapefileBroken = (typeof SHAPEFILE_BROKEN)[number];

/** A local engineering CRS that no registry can place on the Earth. */
export const UNKNOWN_PRJ =
  'LOCAL_CS["Site grid",LOCAL_DATUM["Site datum",32767],UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]';

/**
 * Broken archives: `no-dbf` lacks the attribute table; `unknown-prj` declares a CRS no registry knows;
 * `two-layers` holds two Shapefiles; `truncated-shp` cuts the `.shp` inside its last record; `no-prj` is
 * projected (RD New) but says nothing about its CRS.
 */
export async function broken(
  kind: ShapefileBroken,
  features: SampleFeature[] = sampleRoads(),
): Promise<Uint8Array> {
  const projected = await projectRoads(features, 28992);
  const files = shapefileFiles(projected, { prj: await rdNewPrj() });
  switch (kind) {
    case 'no-dbf':
      return zip(files.filter(([name]) => !name.endsWith('.dbf')));
    case 'unknown-prj':
      return zip(shapefileFiles(projected, { prj: UNKNOWN_PRJ }));
    case 'two-layers':
      return zip([...files, ...shapefileFiles(features.slice(0, 3), { layer: 'paths' })]);
    case 'truncated-shp':
      return zip(
        files.map(([name, bytes]): [string, Uint8Array] => [
          name,
          name.endsWith('.shp') ? bytes.subarray(0, bytes.byteLength - 12) : bytes,
        ]),
      );
    case 'no-prj':
      return zip(files.filter(([name]) => !name.endsWith('.prj')));
  }
}
