/**
 * CSV with a WKT geometry column, in and out. Parsing is `csv-parse`'s streaming parser (quotes, escaped
 * quotes, embedded newlines, BOM), with every record bounded by `maxFeatureBytes`. The delimiter is the
 * option's, else the one of `, ; tab |` that splits the header most. The WKT column is the option's, else the
 * first header named like a geometry (`wkt`, `geometry`, `geom`, …). WKT of every type, with Z/M, MULTI and
 * EWKT prefixes, is read through `geometry.ts`.
 *
 * Values are typed conservatively, from a first pass over the whole file: a column is `integer` (or `bigint`
 * beyond 2^53) only when every non-empty value is an integer without leading zeros, `number` only when every
 * one is a decimal number, `boolean` only when every one is true/false; otherwise text. Empty cells are null.
 * So a postcode column with "01234" stays text, and the user gets back exactly what they wrote.
 */
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { CsvError, type Info, parse } from 'csv-parse';
import { errorMessage } from '../errors.js';
import { CSV_DELIMITERS, WKT_COLUMN_NAMES } from './detect.js';
import { FormatError } from './errors.js';
import { enrichmentNames, jsonSafe, matchesAsJson } from './fields.js';
import { geometryToWkt, wktToGeometry } from './geometry.js';
import type {
  CreateFeatureSink,
  FeatureSource,
  FieldInfo,
  FieldType,
  OpenFeatureSource,
  PropertyValue,
  ReadOptions,
  SourceFeature,
  SourceFile,
} from './types.js';

const INTEGER = /^[+-]?(?:0|[1-9]\d*)$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN = /^(?:true|false)$/i;

/** What every non-empty value of a column could be. */
interface ColumnStats {
  integer: boolean;
  beyondSafe: boolean;
  decimal: boolean;
  boolean: boolean;
  seen: boolean;
}

function observe(stats: ColumnStats, value: string): void {
  if (value === '') return;
  stats.seen = true;
  if (stats.integer) {
    if (!INTEGER.test(value)) stats.integer = false;
    else if (!Number.isSafeInteger(Number(value))) stats.beyondSafe = true;
  }
  if (stats.decimal && (!DECIMAL.test(value) || /^[+-]?0\d/.test(value))) stats.decimal = false;
  if (stats.boolean && !BOOLEAN.test(value)) stats.boolean = false;
}

function typeOf(stats: ColumnStats): FieldType {
  if (!stats.seen) return 'string';
  if (stats.integer) return stats.beyondSafe ? 'bigint' : 'integer';
  if (stats.decimal) return 'number';
  if (stats.boolean) return 'boolean';
  return 'string';
}

function convert(value: string | undefined, type: FieldType): PropertyValue {
  if (value === undefined || value === '') return null;
  switch (type) {
    case 'integer':
    case 'number':
      return Number(value);
    case 'bigint':
      return BigInt(value);
    case 'boolean':
      return value.toLowerCase() === 'true';
    default:
      return value;
  }
}

/** The delimiter that splits the first line into the most columns (quotes respected roughly: a header). */
export function detectDelimiter(firstLine: string): string {
  let best = ',';
  let bestCount = 0;
  for (const d of CSV_DELIMITERS) {
    const count = firstLine.replace(/"[^"]*"/g, '').split(d).length - 1;
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

async function firstLine(file: SourceFile): Promise<string> {
  const head = new Uint8Array(await file.slice(0, Math.min(file.byteLength, 64 * 1024)));
  const text = new TextDecoder().decode(head).replace(/^\uFEFF/, '');
  return text.split(/\r?\n/, 1)[0] ?? '';
}

type CsvRecord = { record: string[]; info: Info };

async function* records(file: SourceFile, delimiter: string, maxBytes: number): AsyncIterable<CsvRecord> {
  const parser = parse({
    delimiter,
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: maxBytes,
  });
  const input = Readable.from(file.stream());
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  try {
    for await (const item of parser as AsyncIterable<CsvRecord>) yield item;
  } catch (err) {
    const e = err as { code?: string; lines?: number; message?: string };
    if (e.code === 'CSV_MAX_RECORD_SIZE') {
      throw new FormatError(
        'feature-too-large',
        `${file.name}: the record at line ${e.lines ?? '?'} is larger than ${maxBytes} bytes.`,
        {
          cause: err,
          remedy: 'Split very long roads into shorter rows, or check for an unclosed quote before that line.',
        },
      );
    }
    if (err instanceof CsvError) {
      throw new FormatError('csv-unreadable', `${file.name}: ${e.message ?? 'the CSV cannot be parsed'}.`, {
        cause: err,
        remedy: 'Check the quoting at that line (a quote inside a value is written as two quotes "").',
      });
    }
    throw err;
  } finally {
    // A consumer that stops early must not leave the source stream open.
    input.destroy();
  }
}

interface CsvLayout {
  delimiter: string;
  header: string[];
  wktIndex: number;
  fields: FieldInfo[];
  /** Source column of each field. */
  columns: number[];
  rows: number;
}

function wktColumnIndex(header: string[], options: ReadOptions, file: SourceFile): number {
  const lower = header.map((h) => h.trim().toLowerCase());
  const wanted = options.wktColumn?.trim().toLowerCase();
  const index =
    wanted !== undefined ? lower.indexOf(wanted) : lower.findIndex((h) => WKT_COLUMN_NAMES.includes(h));
  if (index >= 0) return index;
  throw new FormatError(
    'csv-no-wkt-column',
    wanted !== undefined
      ? `${file.name}: the header has no column "${options.wktColumn}" (the wktColumn option); it has ${header.slice(0, 12).join(', ')}.`
      : `${file.name}: no column of the header (${header.slice(0, 12).join(', ')}) is named like a WKT geometry.`,
    {
      remedy: `Set the wktColumn option, or name the geometry column one of ${WKT_COLUMN_NAMES.join(', ')}.`,
    },
  );
}

/** The first pass: header, WKT column, and the type of every other column over all rows. */
async function layoutOf(file: SourceFile, options: ReadOptions): Promise<CsvLayout> {
  const delimiter = options.csvDelimiter ?? detectDelimiter(await firstLine(file));
  let header: string[] | undefined;
  let wktIndex = -1;
  let stats: ColumnStats[] = [];
  let rows = 0;
  for await (const { record } of records(file, delimiter, options.limits.maxFeatureBytes)) {
    if (!header) {
      header = record;
      if (header.length - 1 > options.limits.maxFields) {
        throw new FormatError(
          'too-many-fields',
          `${file.name} has ${header.length} columns; at most ${options.limits.maxFields} are read.`,
          {
            remedy: 'Drop the columns you do not need before uploading.',
          },
        );
      }
      wktIndex = wktColumnIndex(header, options, file);
      stats = header.map(() => ({
        integer: true,
        beyondSafe: false,
        decimal: true,
        boolean: true,
        seen: false,
      }));
      continue;
    }
    rows++;
    for (let c = 0; c < stats.length; c++) if (c !== wktIndex) observe(stats[c]!, record[c] ?? '');
  }
  if (!header)
    throw new FormatError('csv-empty', `${file.name} has no header line.`, {
      remedy: 'Upload a CSV with a header and one road per row.',
    });
  const columns = header.map((_, c) => c).filter((c) => c !== wktIndex);
  const fields = columns.map((c) => ({ name: header![c]!, type: typeOf(stats[c]!) }));
  return { delimiter, header, wktIndex, fields, columns, rows };
}

function rowFeature(index: number, record: string[], info: Info, layout: CsvLayout): SourceFeature {
  const properties: Record<string, PropertyValue> = {};
  for (let k = 0; k < layout.fields.length; k++) {
    const { name, type } = layout.fields[k]!;
    properties[name] = convert(record[layout.columns[k]!], type);
  }
  const feature: SourceFeature = { index, id: null, geometry: null, properties };
  if (record.length !== layout.header.length) {
    feature.problem = {
      rule: 'row-columns',
      message: `line ${info.lines} has ${record.length} values; the header has ${layout.header.length}.`,
    };
  }
  const wkt = record[layout.wktIndex]?.trim() ?? '';
  if (wkt === '') return feature;
  try {
    feature.geometry = wktToGeometry(wkt);
  } catch (err) {
    feature.problem = {
      rule: 'geometry-unreadable',
      message: `line ${info.lines}: "${layout.header[layout.wktIndex]}" is not readable WKT (${errorMessage(err)}): "${wkt.slice(0, 60)}".`,
    };
  }
  return feature;
}

export const openCsv: OpenFeatureSource = async (file, options) => {
  const layout = await layoutOf(file, options);
  let used = false;
  async function* features(): AsyncIterable<SourceFeature> {
    if (used) throw new Error('features() can be called once');
    used = true;
    let index = -1;
    for await (const { record, info } of records(file, layout.delimiter, options.limits.maxFeatureBytes)) {
      if (index >= 0) yield rowFeature(index, record, info, layout);
      index++;
    }
  }
  return {
    format: 'csv',
    layer: null,
    crs: null,
    fields: layout.fields,
    declaredGeometryType: null,
    declaredFeatureCount: layout.rows,
    geometryColumn: layout.header[layout.wktIndex] ?? null,
    features,
    close: async () => {},
  } satisfies FeatureSource;
};

// ---- Writer ----

/** One CSV cell (RFC 4180): quoted when it holds the delimiter, a quote, or a line break. */
export function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function cellText(value: PropertyValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  const safe = jsonSafe(value);
  return typeof safe === 'string' ? safe : JSON.stringify(safe);
}

function uniqueName(wanted: string, taken: Set<string>): string {
  let name = wanted;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${wanted}_${n}`;
  taken.add(name.toLowerCase());
  return name;
}

export const createCsvSink: CreateFeatureSink = async (options) => {
  const out = createWriteStream(options.path, { flags: 'w' });
  let failed: Error | undefined;
  out.on('error', (err) => {
    failed = err;
  });
  const taken = new Set(options.fields.map((f) => f.name.toLowerCase()));
  const geometryName = uniqueName(options.geometryColumn ?? 'wkt', taken);
  const names = enrichmentNames([...options.fields, { name: geometryName, type: 'string' }]);
  const header = [...options.fields.map((f) => f.name), geometryName, ...Object.values(names)];
  const put = async (line: string) => {
    if (failed) throw failed;
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  await put(`${header.map(csvCell).join(',')}\r\n`);
  let count = 0;
  return {
    async write(feature) {
      const e = feature.enrichment;
      const cells = options.fields.map((f) => cellText(feature.properties[f.name]));
      cells.push(feature.geometry ? geometryToWkt(feature.geometry) : '');
      cells.push(
        e.gers ?? '',
        cellText(e.confidence),
        cellText(e.lr_from),
        cellText(e.lr_to),
        e.match,
        String(e.match_count),
        JSON.stringify(matchesAsJson(feature.matches)),
      );
      await put(`${cells.map(csvCell).join(',')}\r\n`);
      count++;
    },
    async finish() {
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      if (failed) throw failed;
      return { features: count, bytes: (await stat(options.path)).size };
    },
    async abort() {
      out.destroy();
      await rm(options.path, { force: true });
    },
  };
};
