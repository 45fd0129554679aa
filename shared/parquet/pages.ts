/**
 * Vetting a column chunk's pages before hyparquet decodes them. Inside a chunk, every page header states sizes
 * and counts that hyparquet allocates from as it decodes (node_modules/hyparquet/src/column.js, datapage.js,
 * encoding.js): `uncompressed_page_size` sizes the decompression buffer, `num_values` sizes the level and value
 * arrays, and an RLE run writes as many values as its header says, past the end of the array it fills. So, with
 * the chunk's bytes in hand, this walks the same pages hyparquet will walk, in the same order, and checks each
 * header against the bytes and the limits, decompresses the page (within its stated size) and walks its level and
 * dictionary-index runs, mirroring hyparquet's arithmetic. A page that passes cannot make hyparquet allocate more
 * than its limits allow.
 *
 * The decompressors are bounded too: each refuses an output larger than the page limit, and zlib's are told the
 * exact size so a decompression bomb stops at it.
 */
import * as zlib from 'node:zlib';
import type { CompressionCodec, Compressors } from 'hyparquet';
import { errorMessage } from '../errors.js';
import {
  formatBytes,
  formatCount,
  LIMIT_SETTINGS,
  maxPageBytes,
  maxPageValues,
  type ValidationLimits,
} from './limits.js';
import type { ValidationProblem } from './report.js';
import { intField, readThriftStruct, structField } from './thrift.js';

/** A decompressed page would be larger than allowed. */
export class PageLimitError extends Error {}

/**
 * Decompressors for hyparquet's `compressors` option: Snappy (hyparquet's own, passed in because hyparquet loads
 * through `import()`; into a buffer of the stated size),
 * and GZIP, Brotli and ZSTD from Node's zlib (pyarrow and Spark files often use them), each refusing more than
 * `maxBytes` and never producing more than the page says it holds. LZ4/LZO have no Node built-in; such files get
 * a parquet-readable problem that names the codec.
 */
export function boundedCompressors(
  maxBytes: number,
  snappyUncompress: (input: Uint8Array, output: Uint8Array) => void,
): Compressors {
  const check = (outputLength: number) => {
    if (!(outputLength >= 0 && outputLength <= maxBytes))
      throw new PageLimitError(`a page of ${outputLength} bytes exceeds the ${maxBytes}-byte page limit`);
    return { maxOutputLength: Math.max(1, outputLength) };
  };
  return {
    SNAPPY: (input, outputLength) => {
      check(outputLength);
      assertSnappyFits(input, outputLength);
      const output = new Uint8Array(outputLength);
      snappyUncompress(input, output);
      return output;
    },
    GZIP: (input, outputLength) => zlib.gunzipSync(input, check(outputLength)),
    BROTLI: (input, outputLength) => zlib.brotliDecompressSync(input, check(outputLength)),
    ...(typeof zlib.zstdDecompressSync === 'function'
      ? {
          ZSTD: (input: Uint8Array, outputLength: number) =>
            zlib.zstdDecompressSync(input, check(outputLength)),
        }
      : {}),
  };
}

/**
 * Refuses a Snappy stream whose elements would write more than `outputLength` bytes, before it is inflated.
 * hyparquet's decoder checks the total only at the end and meanwhile keeps writing past the end of its output
 * array; V8 handles each such out-of-bounds store on a slow path, so one damaged byte in a 20 KB page once took
 * 15 s to decode. This scan walks the element tags of the Snappy format
 * (https://github.com/google/snappy/blob/main/format_description.txt, section 2) and sums their lengths without
 * copying anything: linear in the input, no allocation.
 */
export function assertSnappyFits(input: Uint8Array, outputLength: number): void {
  let pos = 0;
  while (pos < input.length && input[pos]! >= 0x80) pos++;
  pos++; // the preamble's last varint byte
  let written = 0;
  while (pos < input.length) {
    const tag = input[pos++]!;
    const kind = tag & 0x3;
    if (kind === 0) {
      let length = (tag >>> 2) + 1;
      if (length > 60) {
        const lengthBytes = length - 60;
        length = 1;
        for (let i = 0; i < lengthBytes; i++) length += (input[pos + i] ?? 0) * 2 ** (8 * i);
        pos += lengthBytes;
      }
      written += length;
      pos += length;
    } else {
      written += kind === 1 ? ((tag >>> 2) & 0x7) + 4 : (tag >>> 2) + 1;
      pos += kind === 1 ? 1 : kind === 2 ? 2 : 4;
    }
    if (written > outputLength) {
      throw new Error(`its Snappy data would inflate past the page's stated ${outputLength} bytes`);
    }
  }
}

/** What the page walk needs to know about the chunk's column. */
export interface ChunkColumn {
  column: string;
  /** Parquet physical type (BOOLEAN, INT64, BYTE_ARRAY, …). */
  type: string;
  codec: CompressionCodec;
  maxDefinitionLevel: number;
  maxRepetitionLevel: number;
  /** Row group index and its first row, for messages. */
  group: number;
  groupRowStart: number;
}

const PAGE_TYPES = ['DATA_PAGE', 'INDEX_PAGE', 'DICTIONARY_PAGE', 'DATA_PAGE_V2'] as const;
const ENCODINGS = [
  'PLAIN',
  'GROUP_VAR_INT',
  'PLAIN_DICTIONARY',
  'RLE',
  'BIT_PACKED',
  'DELTA_BINARY_PACKED',
  'DELTA_LENGTH_BYTE_ARRAY',
  'DELTA_BYTE_ARRAY',
  'RLE_DICTIONARY',
  'BYTE_STREAM_SPLIT',
  'ALP',
] as const;

/** A finding about one page; `row`s are absolute (0-based) file rows. */
type PageFinding = Omit<ValidationProblem, 'column'>;

class PageProblem extends Error {
  constructor(readonly finding: PageFinding) {
    super(finding.message);
  }
}

/**
 * Walks every page of a chunk (its bytes exactly as hyparquet will get them). Returns the data values counted
 * (for a flat column, its rows) or a finding naming the page's rows, the rule and the fix.
 */
export function vetChunkPages(
  bytes: Uint8Array,
  chunk: ChunkColumn,
  limits: ValidationLimits,
  compressors: Compressors,
): { values: number } | { problem: PageFinding } {
  let values = 0;
  let at = 0;
  try {
    // hyparquet stops when fewer than two bytes are left (column.js, readColumn).
    while (at < bytes.byteLength - 1) {
      const page = vetPage(bytes, at, chunk, limits, compressors, chunk.groupRowStart + values);
      values += page.values;
      at = page.end;
    }
  } catch (err) {
    if (err instanceof PageProblem) return { problem: err.finding };
    // The bounded Thrift reader, a bound hit by a decompressor (PageLimitError, zlib's RangeError) or its own
    // complaint: whichever, the page is not what it says.
    const detail = errorMessage(err);
    return { problem: corrupt(chunk, chunk.groupRowStart + values, detail) };
  }
  return { values };
}

function corrupt(chunk: ChunkColumn, row: number, detail: string): PageFinding {
  return {
    rule: 'parquet-readable',
    row,
    message:
      `Row group ${chunk.group}, column "${chunk.column}": the page starting at row ${formatCount(row)} is corrupt ` +
      `(${detail}). Re-export the file; rows from here on were not checked.`,
  };
}

const PAGE_HEADER_BOUNDS = { maxDepth: 8, maxObjects: 64 };

/** One page: its header checked, its body walked. Throws PageProblem or a decoding error. */
function vetPage(
  bytes: Uint8Array,
  at: number,
  chunk: ChunkColumn,
  limits: ValidationLimits,
  compressors: Compressors,
  firstRow: number,
): { end: number; values: number } {
  const { value: header, end: bodyStart } = readThriftStruct(bytes, at, bytes.byteLength, PAGE_HEADER_BOUNDS);
  const type = PAGE_TYPES[intField(header, 1) ?? -1];
  const uncompressed = intField(header, 2);
  const compressed = intField(header, 3);
  const fail = (detail: string) => {
    throw new PageProblem(corrupt(chunk, firstRow, detail));
  };
  if (compressed === undefined || compressed < 0 || compressed > bytes.byteLength - bodyStart)
    fail(
      `it claims ${compressed} stored bytes, ${bytes.byteLength - bodyStart} are left in the column chunk`,
    );
  if (uncompressed === undefined || uncompressed < 0) fail(`it claims ${uncompressed} decompressed bytes`);
  const end = bodyStart + compressed!;
  const body = bytes.subarray(bodyStart, end);
  const info = { chunk, limits, compressors, firstRow, uncompressed: uncompressed!, fail };
  if (type === 'DICTIONARY_PAGE') {
    vetDictionaryPage(structField(header, 7), body, info);
    return { end, values: 0 };
  }
  if (type === 'DATA_PAGE') return { end, values: vetDataPageV1(structField(header, 5), body, info) };
  if (type === 'DATA_PAGE_V2') return { end, values: vetDataPageV2(structField(header, 8), body, info) };
  return fail(`page type ${type ?? intField(header, 1)} is not a data or dictionary page`);
}

interface PageContext {
  chunk: ChunkColumn;
  limits: ValidationLimits;
  compressors: Compressors;
  firstRow: number;
  uncompressed: number;
  fail: (detail: string) => never;
}

function checkValueCount(count: number | undefined, what: string, page: PageContext): number {
  if (count === undefined || count < 0) page.fail(`it claims ${count} ${what}`);
  const cap = maxPageValues(page.limits);
  if (count! > cap) {
    throw new PageProblem({
      rule: 'page-size',
      row: page.firstRow,
      message:
        `Row group ${page.chunk.group}, column "${page.chunk.column}": the page starting at row ` +
        `${formatCount(page.firstRow)} claims ${formatCount(count!)} ${what}, more than the ${formatCount(cap)} a page ` +
        `may hold (1 per 16 bytes of ${LIMIT_SETTINGS.maxRowGroupBytes}). Write smaller pages.`,
    });
  }
  return count!;
}

/** Checked after the value checks, so a page holding one oversized value is reported as that value. */
function checkPageSize(page: PageContext): void {
  const cap = maxPageBytes(page.limits);
  if (page.uncompressed <= cap) return;
  throw new PageProblem({
    rule: 'page-size',
    row: page.firstRow,
    message:
      `Row group ${page.chunk.group}, column "${page.chunk.column}": the page starting at row ` +
      `${formatCount(page.firstRow)} is ${formatBytes(page.uncompressed)} decompressed, more than the ` +
      `${formatBytes(cap)} a page may take (a quarter of ${LIMIT_SETTINGS.maxRowGroupBytes}). ` +
      'Write smaller pages (pyarrow data_page_size, default 1 MiB).',
  });
}

/** A page of `values` values averaging more than the value limit must hold a value over it. */
function checkAverageValueSize(values: number, bytes: number, page: PageContext, rows: number): void {
  if (page.chunk.type !== 'BYTE_ARRAY' || values === 0) return;
  const limit = page.limits.maxValueBytes;
  // Each PLAIN value carries a 4-byte length; levels take at most a few bytes per value.
  if (bytes / values <= limit + 8) return;
  const last = page.firstRow + Math.max(rows, 1) - 1;
  throw new PageProblem({
    rule: 'value-size',
    row: page.firstRow,
    message:
      `Row group ${page.chunk.group}, column "${page.chunk.column}": ${rows <= 1 ? `the value in row ${formatCount(page.firstRow)} is` : `a value in rows ${formatCount(page.firstRow)}–${formatCount(last)} is`} ` +
      `larger than the ${formatBytes(limit)} allowed (${LIMIT_SETTINGS.maxValueBytes}); that page holds ` +
      `${formatBytes(bytes)} for ${formatCount(values)} value${values === 1 ? '' : 's'}. ` +
      'A road that size is almost certainly a merged or runaway geometry: split it into road segments. ' +
      'Rows from here on were not checked.',
  });
}

function decompress(body: Uint8Array, size: number, page: PageContext): Uint8Array {
  const codec = page.chunk.codec;
  if (codec === 'UNCOMPRESSED') {
    if (body.byteLength !== size) page.fail(`it holds ${body.byteLength} bytes but claims ${size}`);
    return body;
  }
  const decompressor = page.compressors[codec];
  if (!decompressor) page.fail(`compression ${codec} is not supported; re-export with SNAPPY, GZIP or ZSTD`);
  const output = decompressor!(body, size);
  if (output.byteLength !== size) page.fail(`it decompresses to ${output.byteLength} bytes, not ${size}`);
  return output;
}

function vetDictionaryPage(
  header: ReturnType<typeof structField>,
  body: Uint8Array,
  page: PageContext,
): void {
  if (!header) page.fail('a dictionary page has no dictionary header');
  const count = checkValueCount(intField(header, 1), 'dictionary entries', page);
  // PLAIN byte arrays take 4 bytes of length each: a count the page cannot hold is a lie.
  if (page.chunk.type === 'BYTE_ARRAY' && count * 4 > page.uncompressed)
    page.fail(`${count} dictionary entries claimed in ${page.uncompressed} bytes`);
  checkAverageValueSize(count, page.uncompressed, page, 0);
  checkPageSize(page);
  decompress(body, page.uncompressed, page);
}

function vetDataPageV1(header: ReturnType<typeof structField>, body: Uint8Array, page: PageContext): number {
  if (!header) page.fail('a data page has no data page header');
  const numValues = checkValueCount(intField(header, 1), 'values', page);
  checkAverageValueSize(numValues, page.uncompressed, page, numValues);
  checkPageSize(page);
  const data = decompress(body, page.uncompressed, page);
  const reader = { bytes: data, at: 0 };
  const { maxRepetitionLevel, maxDefinitionLevel } = page.chunk;
  // datapage.js readDataPage: repetition levels only for nested paths, each block prefixed by its length.
  if (maxRepetitionLevel > 0) walkLengthPrefixed(reader, bitWidth(maxRepetitionLevel), numValues, -1, page);
  let present = numValues;
  if (maxDefinitionLevel > 0)
    present = walkLengthPrefixed(reader, bitWidth(maxDefinitionLevel), numValues, maxDefinitionLevel, page);
  walkValues(reader, ENCODINGS[intField(header, 2) ?? -1], present, page, true);
  return numValues;
}

function vetDataPageV2(header: ReturnType<typeof structField>, body: Uint8Array, page: PageContext): number {
  if (!header) page.fail('a data page (v2) has no data page header');
  const numValues = checkValueCount(intField(header, 1), 'values', page);
  const nulls = intField(header, 2);
  const rows = intField(header, 3);
  const definitionBytes = intField(header, 5) ?? -1;
  const repetitionBytes = intField(header, 6) ?? -1;
  if (nulls === undefined || nulls < 0 || nulls > numValues)
    page.fail(`it claims ${nulls} nulls in ${numValues} values`);
  if (rows === undefined || rows < 0 || rows > numValues)
    page.fail(`it claims ${rows} rows in ${numValues} values`);
  if (definitionBytes < 0 || repetitionBytes < 0 || definitionBytes + repetitionBytes > body.byteLength)
    page.fail(`its level blocks claim ${repetitionBytes} + ${definitionBytes} of ${body.byteLength} bytes`);
  const valueBytes = page.uncompressed - definitionBytes - repetitionBytes;
  if (valueBytes < 0) page.fail(`its levels are larger than the whole page`);
  checkAverageValueSize(numValues, valueBytes, page, rows!);
  checkPageSize(page);
  const { maxRepetitionLevel, maxDefinitionLevel } = page.chunk;
  if (maxRepetitionLevel > 0)
    walkHybrid({ bytes: body, at: 0 }, repetitionBytes, bitWidth(maxRepetitionLevel), numValues, -1, page);
  // hyparquet moves past the definition block only when it reads one.
  let valuesStart = repetitionBytes;
  if (maxDefinitionLevel > 0) {
    valuesStart += definitionBytes;
    walkHybrid(
      { bytes: body, at: repetitionBytes },
      valuesStart,
      bitWidth(maxDefinitionLevel),
      numValues,
      -1,
      page,
    );
  }
  let values = body.subarray(valuesStart);
  // datapage.js readDataPageV2: compressed unless is_compressed is false, and only when there is something.
  if (header![7] !== false && valueBytes) values = decompress(values, valueBytes, page);
  walkValues({ bytes: values, at: 0 }, ENCODINGS[intField(header, 4) ?? -1], numValues - nulls!, page, false);
  // For a flat column, hyparquet counts v2 pages by num_rows.
  return maxRepetitionLevel > 0 ? numValues : rows!;
}

interface Reader {
  bytes: Uint8Array;
  at: number;
}

function bitWidth(value: number): number {
  return 32 - Math.clz32(value);
}

/** A level block with a 4-byte length in front (v1). Returns how many levels equal `countLevel`. */
function walkLengthPrefixed(
  reader: Reader,
  width: number,
  count: number,
  countLevel: number,
  page: PageContext,
): number {
  if (reader.at + 4 > reader.bytes.byteLength) page.fail('a level block runs past the page');
  const length = new DataView(reader.bytes.buffer, reader.bytes.byteOffset + reader.at, 4).getUint32(0, true);
  reader.at += 4;
  const end = reader.at + length;
  if (end > reader.bytes.byteLength) page.fail(`a level block claims ${length} bytes, the page has fewer`);
  const found = walkHybrid(reader, end, width, count, countLevel, page);
  reader.at = end;
  return countLevel < 0 ? count : found;
}

/**
 * The values part: only the RLE and dictionary-index forms allocate from run headers. Mirrors datapage.js:
 * v1 booleans are a length-prefixed width-1 block; other v1 dictionary pages start with a width byte (0 means all
 * zeroes, no runs); v2 RLE is a length-prefixed width-1 block and v2 dictionary pages always have runs.
 */
function walkValues(
  reader: Reader,
  encoding: string | undefined,
  count: number,
  page: PageContext,
  v1: boolean,
): void {
  const dictionary = encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY';
  if (!dictionary && encoding !== 'RLE') return;
  const end = reader.bytes.byteLength;
  if ((v1 && page.chunk.type === 'BOOLEAN') || (!v1 && encoding === 'RLE')) {
    walkLengthPrefixed(reader, 1, count, -1, page);
    return;
  }
  if (reader.at >= end) page.fail('the dictionary indexes are missing');
  const width = reader.bytes[reader.at++]!;
  if (v1 && width === 0) return;
  walkHybrid(reader, end, width, count, -1, page);
}

/**
 * The RLE / bit-packed hybrid (encoding.js readRleBitPackedHybrid), walked without decoding more than needed.
 * hyparquet reads runs until it has `count` values; a bit-packed run stops emitting at `count`, but an RLE run
 * writes its whole length, so a run longer than the values left would grow the array past `count` — and a 5-byte
 * header can say two billion. Refused here, as is any run that could not hold the values it claims. Returns how
 * many values equal `countLevel` (for the definition levels, the non-null values).
 */
function walkHybrid(
  reader: Reader,
  end: number,
  width: number,
  count: number,
  countLevel: number,
  page: PageContext,
): number {
  const { bytes } = reader;
  let seen = 0;
  let matches = 0;
  const valueBytes = (width + 7) >> 3;
  while (seen < count) {
    const header = readVarint(reader, end, page);
    if (header & 1) {
      const groups = header >>> 1;
      const runValues = groups * 8;
      // Padding fills at most the last group of eight; a longer run is a lie (and costs hyparquet CPU per value).
      if (runValues > count - seen + 7)
        page.fail(`a bit-packed run of ${runValues} values where ${count - seen} are left`);
      const runBytes = groups * width;
      if (reader.at + runBytes > end) page.fail('a bit-packed run is cut short');
      if (countLevel >= 0)
        matches += countBitPacked(bytes, reader.at, width, Math.min(runValues, count - seen), countLevel);
      reader.at += runBytes;
      seen += Math.min(runValues, count - seen);
    } else {
      const run = header >>> 1;
      if (run > count - seen)
        page.fail(`a run of ${formatCount(run)} values where ${formatCount(count - seen)} are left`);
      if (reader.at + valueBytes > end) page.fail('a run is cut short');
      let value = 0;
      for (let i = 0; i < valueBytes; i++) value |= bytes[reader.at + i]! << (i << 3);
      reader.at += valueBytes;
      if (value === countLevel) matches += run;
      seen += run;
    }
  }
  return matches;
}

function readVarint(reader: Reader, end: number, page: PageContext): number {
  let result = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (reader.at >= end) page.fail('a run header is cut short');
    const b = reader.bytes[reader.at++]!;
    result |= (b & 0x7f) << shift;
    if (!(b & 0x80)) return result;
  }
  return page.fail('a run header longer than 5 bytes');
}

/** How many of the first `values` bit-packed values (LSB first) equal `level`. */
function countBitPacked(bytes: Uint8Array, at: number, width: number, values: number, level: number): number {
  let matches = 0;
  const mask = (1 << width) - 1;
  for (let i = 0; i < values; i++) {
    const bit = i * width;
    let value = 0;
    for (let b = 0; b < width; b++) {
      const position = bit + b;
      if ((bytes[at + (position >> 3)]! >> (position & 7)) & 1) value |= 1 << b;
    }
    if ((value & mask) === level) matches++;
  }
  return matches;
}
