/**
 * Which format a file really is: by content first (magic bytes, the Parquet footer, the zip directory, the
 * SQLite header, the first JSON value, the CSV header), by extension second (only to choose between
 * readings the content allows). A file that fits no format, or fits one in a form gem-flow does not read (a
 * zip without a `.shp`, plain SQLite, a bare GeoJSON Feature), is a `FormatError` that says what it looks
 * like and what to do. Reads at most `HEAD_BYTES` from the start and the Parquet footer or zip directory
 * from the end, each bounded and checked against the file's real size.
 */
import Tokenizer from '@streamparser/json/tokenizer.js';
import { errorMessage } from '../errors.js';
import { FormatError } from './errors.js';
import { openParquet } from './parquetRows.js';
import type { InputFormat, SourceFile } from './types.js';

export interface Detection {
  format: InputFormat;
  /** What identified it, for logs and the validation report. */
  reason: string;
}

export interface DetectOptions {
  /** The CSV WKT column the user named (the `wktColumn` option), if any. */
  wktColumn?: string;
}

/** Bytes read from the start of a text file to recognise it. */
export const HEAD_BYTES = 256 * 1024;
/** Largest zip central directory read to list the archive's files. */
const MAX_ZIP_DIRECTORY = 8 * 1024 * 1024;

const ACCEPTED =
  'gem-flow reads GEM Parquet, GeoParquet, GeoJSON (FeatureCollection or one feature per line), CSV with a ' +
  'WKT column, FlatGeobuf, a zipped Shapefile (.shp, .shx, .dbf, .prj) and GeoPackage.';

function unknown(file: SourceFile, lookedLike: string): FormatError {
  return new FormatError(
    'format-unknown',
    `${file.name} is not a road format gem-flow reads: it looks like ${lookedLike}.`,
    {
      remedy: ACCEPTED,
    },
  );
}

const startsWith = (bytes: Uint8Array, magic: readonly number[], at = 0): boolean =>
  bytes.length >= at + magic.length && magic.every((b, k) => bytes[at + k] === b);

const PAR1 = [0x50, 0x41, 0x52, 0x31];
const FGB = [0x66, 0x67, 0x62, 0x03, 0x66, 0x67, 0x62];
const ZIP = [0x50, 0x4b, 0x03, 0x04];
const ZIP_EMPTY = [0x50, 0x4b, 0x05, 0x06];
const SQLITE = [...'SQLite format 3'].map((c) => c.charCodeAt(0)).concat(0);
const GPKG_IDS = new Set([0x47504b47 /* GPKG */, 0x47503130 /* GP10 */, 0x47503131 /* GP11 */]);

const extensionOf = (name: string): string => /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase() ?? '';

/** Detects the format of `file`; throws `FormatError` when it is none gem-flow reads. */
export async function detectFormat(file: SourceFile, options: DetectOptions = {}): Promise<Detection> {
  if (file.byteLength === 0)
    throw new FormatError('file-empty', `${file.name} is empty (0 bytes).`, {
      remedy: 'Upload the file again.',
    });
  const head = new Uint8Array(await file.slice(0, Math.min(file.byteLength, HEAD_BYTES)));
  if (startsWith(head, PAR1)) return detectParquet(file);
  if (startsWith(head, FGB)) return { format: 'flatgeobuf', reason: 'FlatGeobuf magic bytes' };
  if (startsWith(head, ZIP) || startsWith(head, ZIP_EMPTY)) return detectZip(file);
  if (startsWith(head, SQLITE)) return detectSqlite(file, head);
  const known = knownOther(head);
  if (known) throw unknown(file, known);
  const text = asText(head, head.byteLength === file.byteLength);
  if (text === null) throw unknown(file, 'binary data of no known format');
  const trimmed = text.replace(/^\uFEFF/, '').trimStart();
  if (trimmed.startsWith('\u001e')) return { format: 'geojsonseq', reason: 'RFC 8142 record separators' };
  if (trimmed.startsWith('{') || trimmed.startsWith('['))
    return detectJson(file, head, head.byteLength === file.byteLength);
  return detectCsv(file, text, options);
}

/** Formats users upload by mistake, by their magic bytes (a PDF's start is also valid text). */
function knownOther(head: Uint8Array): string | undefined {
  if (startsWith(head, [0x00, 0x00, 0x27, 0x0a]))
    return 'a bare Shapefile .shp (not zipped with its .shx, .dbf and .prj)';
  if (startsWith(head, [0x1f, 0x8b])) return 'a gzip-compressed file (decompress it first)';
  if (startsWith(head, [0x25, 0x50, 0x44, 0x46])) return 'a PDF document';
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0])) return 'an old Excel/Office document';
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47])) return 'a PNG image';
  return undefined;
}

/** The head as UTF-8 text, or null when it is binary (NUL bytes, or invalid UTF-8 before the last 3 bytes). */
function asText(head: Uint8Array, whole: boolean): string | null {
  if (head.includes(0)) return null;
  // A cut in the middle of a multi-byte character at the end of the head is not an error.
  const body = whole ? head : head.subarray(0, Math.max(0, head.byteLength - 3));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    // Latin-1 CSV exports are common; text without control characters other than tab/CR/LF is text.
    return body.every((b) => b >= 0x20 || b === 0x09 || b === 0x0a || b === 0x0d)
      ? new TextDecoder('latin1').decode(body)
      : null;
  }
}

// ---- Parquet ----

const GEOMETRY_NAMES = new Set(['geometry', 'geom', 'wkb_geometry', 'the_geom', 'shape', 'wkb']);

async function detectParquet(file: SourceFile): Promise<Detection> {
  const parquet = await openParquet(file, { geoparquet: false, label: file.name });
  if (parquet.keyValues.has('geo'))
    return { format: 'geoparquet', reason: 'Parquet with GeoParquet "geo" metadata' };
  for (const c of parquet.columns) {
    const logical = c.element.logical_type?.type;
    if (logical === 'GEOMETRY' || logical === 'GEOGRAPHY') {
      return { format: 'geoparquet', reason: `Parquet with a ${logical} column "${c.element.name}"` };
    }
  }
  for (const c of parquet.columns) {
    const e = c.element;
    const isString = e.converted_type === 'UTF8' || e.logical_type?.type === 'STRING';
    if (
      c.children.length === 0 &&
      e.type === 'BYTE_ARRAY' &&
      !isString &&
      GEOMETRY_NAMES.has(e.name.toLowerCase())
    ) {
      return { format: 'geoparquet', reason: `Parquet with a binary (WKB) column "${e.name}"` };
    }
  }
  return {
    format: 'gem-parquet',
    reason: 'Parquet without GeoParquet metadata (GEM layout: id + WKT geometry)',
  };
}

// ---- Zip ----

/** File names in a zip, from its central directory (found through the end-of-central-directory record). */
export async function zipEntryNames(file: SourceFile): Promise<string[]> {
  const tailLength = Math.min(file.byteLength, 22 + 65_535);
  const tail = new Uint8Array(await file.slice(file.byteLength - tailLength));
  let eocd = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 0x05 && tail[i + 3] === 0x06) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    throw new FormatError('zip-unreadable', `${file.name} is a truncated zip: its directory is missing.`, {
      remedy: 'Zip the files again and upload the archive.',
    });
  const view = new DataView(tail.buffer, tail.byteOffset + eocd);
  const entries = view.getUint16(10, true);
  const size = view.getUint32(12, true);
  const offset = view.getUint32(16, true);
  if (entries === 0) return [];
  if (offset === 0xffffffff || size === 0xffffffff) {
    // ZIP64: the directory's place is in the ZIP64 record; the names are still in the directory itself.
    throw new FormatError(
      'zip-unsupported',
      `${file.name} is a ZIP64 archive, which gem-flow does not read.`,
      { remedy: 'Zip the Shapefile without ZIP64 (it is needed only above 4 GiB).' },
    );
  }
  if (offset + size > file.byteLength || size > MAX_ZIP_DIRECTORY) {
    throw new FormatError(
      'zip-unreadable',
      `${file.name}: the zip directory claims ${size} bytes at ${offset}, outside the ${file.byteLength}-byte file.`,
      { remedy: 'Zip the files again and upload the archive.' },
    );
  }
  const dir = new Uint8Array(await file.slice(offset, offset + size));
  const names: string[] = [];
  const decoder = new TextDecoder();
  for (let at = 0; at + 46 <= dir.byteLength && names.length < entries; ) {
    const entry = new DataView(dir.buffer, dir.byteOffset + at);
    if (entry.getUint32(0, true) !== 0x02014b50) break;
    const nameLength = entry.getUint16(28, true);
    const extra = entry.getUint16(30, true);
    const comment = entry.getUint16(32, true);
    names.push(decoder.decode(dir.subarray(at + 46, Math.min(dir.byteLength, at + 46 + nameLength))));
    at += 46 + nameLength + extra + comment;
  }
  return names;
}

async function detectZip(file: SourceFile): Promise<Detection> {
  const names = await zipEntryNames(file);
  const files = names.filter((n) => !n.endsWith('/') && !/(^|\/)(__MACOSX\/|\._)/.test(n));
  if (files.some((n) => extensionOf(n) === 'shp'))
    return { format: 'shapefile', reason: 'a zip holding a .shp' };
  const listed = files.slice(0, 8).join(', ') + (files.length > 8 ? `, … (${files.length} files)` : '');
  throw new FormatError(
    'zip-no-shapefile',
    `${file.name} is a zip without a Shapefile (.shp) in it${files.length ? `: it holds ${listed}` : ': it is empty'}.`,
    {
      remedy:
        "Zip the Shapefile's .shp, .shx, .dbf and .prj together, or upload another format directly (not zipped).",
    },
  );
}

// ---- SQLite ----

function detectSqlite(file: SourceFile, head: Uint8Array): Detection {
  if (head.byteLength < 100)
    throw new FormatError('sqlite-unreadable', `${file.name} is a truncated SQLite file.`, {
      remedy: 'Export the GeoPackage again.',
    });
  const applicationId = new DataView(head.buffer, head.byteOffset).getUint32(68, false);
  if (GPKG_IDS.has(applicationId))
    return { format: 'geopackage', reason: 'SQLite with GeoPackage application_id' };
  throw new FormatError(
    'sqlite-not-geopackage',
    `${file.name} is an SQLite database but not a GeoPackage (its application_id is not "GPKG").`,
    {
      remedy:
        'Export the road layer as a GeoPackage (e.g. QGIS "Save Features As…" GeoPackage, or ogr2ogr -f GPKG); SpatiaLite and plain SQLite databases are not read.',
    },
  );
}

// ---- JSON ----

interface JsonHead {
  /** The first top-level value's "type", when it is an object with a string "type". */
  type?: string;
  hasFeatures: boolean;
  isArray: boolean;
  /** True when the first value ended inside the head. */
  firstEnded: boolean;
  /** True when more non-space text follows the first value. */
  more: boolean;
  error?: string;
}

/** Tokenises the head (never the whole file) to learn the shape of the first top-level JSON value. */
function scanJsonHead(head: Uint8Array): JsonHead {
  const result: JsonHead = { hasFeatures: false, isArray: false, firstEnded: false, more: false };
  const tokenizer = new Tokenizer({ separator: '' });
  let depth = 0;
  let expectKey = false;
  let lastKey: string | undefined;
  let values = 0;
  tokenizer.onToken = ({ token, value }) => {
    // TokenType: LEFT_BRACE 0, RIGHT_BRACE 1, LEFT_BRACKET 2, RIGHT_BRACKET 3, COLON 4, COMMA 5, …, STRING 9
    if (depth === 0) {
      values++;
      if (values > 1) {
        result.more = true;
        throw new StopScan();
      }
      if (token === 2) result.isArray = true;
    }
    if (token === 0 || token === 2) {
      if (depth === 1 && lastKey === 'features' && token === 2) result.hasFeatures = true;
      depth++;
      expectKey = token === 0;
      lastKey = undefined;
      return;
    }
    if (token === 1 || token === 3) {
      depth--;
      if (depth === 0) result.firstEnded = true;
      return;
    }
    if (token === 5) {
      expectKey = depth > 0 && !result.isArray ? true : expectKey;
      return;
    }
    if (token === 4) {
      expectKey = false;
      return;
    }
    if (depth === 1 && !result.isArray) {
      if (expectKey && typeof value === 'string') lastKey = value;
      else if (lastKey === 'type' && typeof value === 'string') result.type = value;
    }
  };
  try {
    tokenizer.write(head);
  } catch (err) {
    if (!(err instanceof StopScan)) result.error = errorMessage(err);
  }
  return result;
}

class StopScan extends Error {}

const GEOMETRY_TYPES = new Set([
  'Point',
  'MultiPoint',
  'LineString',
  'MultiLineString',
  'Polygon',
  'MultiPolygon',
  'GeometryCollection',
]);
const SEQ_EXTENSIONS = new Set(['geojsonl', 'geojsons', 'geojsonseq', 'ndjson', 'jsonl', 'ldjson']);

function detectJson(file: SourceFile, head: Uint8Array, whole: boolean): Detection {
  const scan = scanJsonHead(head);
  if (scan.error && !scan.firstEnded)
    throw unknown(file, `JSON that does not parse (${scan.error.slice(0, 80)})`);
  if (scan.isArray) {
    throw new FormatError(
      'geojson-bare-array',
      `${file.name} is a JSON array, not a GeoJSON FeatureCollection.`,
      {
        remedy:
          'Wrap the features as {"type": "FeatureCollection", "features": [ … ]}, or write one feature per line (GeoJSONSeq).',
      },
    );
  }
  if (scan.type === 'FeatureCollection' || scan.hasFeatures)
    return { format: 'geojson', reason: 'a GeoJSON FeatureCollection' };
  if (scan.type === 'Feature') {
    if (scan.more) return { format: 'geojsonseq', reason: 'one GeoJSON Feature per line' };
    if (!scan.firstEnded && !whole && SEQ_EXTENSIONS.has(extensionOf(file.name))) {
      return { format: 'geojsonseq', reason: 'a GeoJSON Feature first, and a GeoJSONSeq file name' };
    }
    throw new FormatError(
      'geojson-single-feature',
      `${file.name} holds a single GeoJSON Feature, not a FeatureCollection.`,
      {
        remedy: 'Wrap it as {"type": "FeatureCollection", "features": [ <the feature> ]}.',
      },
    );
  }
  if (scan.type && GEOMETRY_TYPES.has(scan.type)) {
    throw new FormatError(
      'geojson-bare-geometry',
      `${file.name} holds a bare GeoJSON ${scan.type} geometry, not features.`,
      {
        remedy:
          'Wrap it as {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": <the geometry>}]}.',
      },
    );
  }
  throw unknown(
    file,
    scan.type ? `JSON of type "${scan.type.slice(0, 40)}"` : 'JSON that is not GeoJSON (no "type" member)',
  );
}

// ---- CSV ----

export const WKT_COLUMN_NAMES = ['wkt', 'geometry', 'geom', 'the_geom', 'shape', 'wkt_geom', 'geometry_wkt'];
const WKT_VALUE =
  /^\s*"?\s*(?:SRID=\d+;)?\s*(?:MULTI)?(?:POINT|LINESTRING|POLYGON|GEOMETRYCOLLECTION)\s*(?:Z|M|ZM)?\s*(?:\(|EMPTY)/i;
export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const;

function detectCsv(file: SourceFile, text: string, options: DetectOptions): Detection {
  const lines = text.split(/\r?\n/, 3);
  const header = lines[0] ?? '';
  const delimiter = CSV_DELIMITERS.find((d) => header.includes(d));
  const columns = delimiter
    ? header.split(delimiter).map((c) => c.trim().replace(/^"|"$/g, '').toLowerCase())
    : [header.trim().toLowerCase()];
  const wanted = options.wktColumn?.toLowerCase();
  if (wanted !== undefined) {
    if (columns.includes(wanted))
      return { format: 'csv', reason: `a CSV header with the WKT column "${options.wktColumn}"` };
    throw new FormatError(
      'csv-wkt-column-missing',
      `${file.name}: the header has no column "${options.wktColumn}" (the wktColumn option); it has ${columns.slice(0, 12).join(', ')}.`,
      {
        remedy: 'Set wktColumn to the name of the column holding the WKT geometry.',
      },
    );
  }
  const named = columns.find((c) => WKT_COLUMN_NAMES.includes(c));
  if (named) return { format: 'csv', reason: `a CSV header with a "${named}" column` };
  if (
    lines[1] !== undefined &&
    (lines[1].split(/[,;\t|]/).some((v) => WKT_VALUE.test(v)) || WKT_VALUE.test(lines[1]))
  ) {
    return { format: 'csv', reason: 'CSV whose rows hold WKT' };
  }
  if (delimiter || ['csv', 'tsv', 'txt'].includes(extensionOf(file.name))) {
    throw new FormatError(
      'csv-no-wkt-column',
      `${file.name} looks like CSV but no column holds WKT geometry (columns: ${columns.slice(0, 12).join(', ')}).`,
      {
        remedy: `Name the geometry column one of ${WKT_COLUMN_NAMES.join(', ')}, or set the wktColumn option; values must be WKT such as LINESTRING (4.89 52.37, 4.90 52.38).`,
      },
    );
  }
  throw unknown(file, 'text that is neither JSON nor CSV');
}
