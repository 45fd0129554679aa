/**
 * FlatGeobuf feature properties: a byte string of (column index u16, value) pairs, values little-endian,
 * strings/JSON/binary as u32 length + bytes (the layout of the format's spec, "Properties"). Decoding checks
 * every index and length against the bytes really there, so a broken feature yields the properties read so
 * far and a problem rather than reading past its buffer; 64-bit integers stay exact (bigint beyond 2^53,
 * where the package's `parseProperties` rounds them). Encoding writes each value as its column's type,
 * converting where nothing is lost (a numeric string into a number column); a value its column cannot hold
 * is written as absent (null), which FlatGeobuf's optional properties allow.
 */
import { FeatureDecodeError } from './featureProblem.js';
import { toJsonText } from './outputFields.js';
import type { FieldType, PropertyValue } from './types.js';

/** FlatGeobuf's `ColumnType` enum (header.fbs). */
export const FGB_COLUMN = {
  Byte: 0,
  UByte: 1,
  Bool: 2,
  Short: 3,
  UShort: 4,
  Int: 5,
  UInt: 6,
  Long: 7,
  ULong: 8,
  Float: 9,
  Double: 10,
  String: 11,
  Json: 12,
  DateTime: 13,
  Binary: 14,
} as const;

export interface FgbColumn {
  name: string;
  /** A `FGB_COLUMN` value. */
  type: number;
}

const FIELD_TYPE_BY_COLUMN: FieldType[] = [
  'integer',
  'integer',
  'boolean',
  'integer',
  'integer',
  'integer',
  'integer',
  'bigint',
  'bigint',
  'number',
  'number',
  'string',
  'json',
  'datetime',
  'binary',
];

export function fieldTypeForColumn(type: number): FieldType | undefined {
  return FIELD_TYPE_BY_COLUMN[type];
}

/** The column type each field type is written as; integers as 64-bit, since `integer` may exceed 2^31. */
export const COLUMN_FOR_FIELD: Record<FieldType, number> = {
  string: FGB_COLUMN.String,
  integer: FGB_COLUMN.Long,
  bigint: FGB_COLUMN.Long,
  number: FGB_COLUMN.Double,
  boolean: FGB_COLUMN.Bool,
  date: FGB_COLUMN.DateTime,
  datetime: FGB_COLUMN.DateTime,
  binary: FGB_COLUMN.Binary,
  json: FGB_COLUMN.Json,
};

const FIXED_SIZE: Partial<Record<number, number>> = {
  0: 1,
  1: 1,
  2: 1,
  3: 2,
  4: 2,
  5: 4,
  6: 4,
  7: 8,
  8: 8,
  9: 4,
  10: 8,
};

const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

/**
 * Decodes `bytes` into `properties` (pre-filled with null for every column). Throws `FeatureDecodeError`
 * at the first broken pair; what was decoded before it stays in `properties`.
 */
export function decodeProperties(
  bytes: Uint8Array,
  columns: readonly FgbColumn[],
  properties: Record<string, PropertyValue>,
  maxDepth: number,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (offset + 2 > bytes.byteLength)
      throw new FeatureDecodeError('property-unreadable', 'a column index is cut short');
    const index = view.getUint16(offset, true);
    offset += 2;
    const column = columns[index];
    if (column === undefined) {
      throw new FeatureDecodeError(
        'property-unreadable',
        `column index ${index} is beyond the ${columns.length} columns`,
      );
    }
    const fixed = FIXED_SIZE[column.type];
    let size: number;
    let start = offset;
    if (fixed !== undefined) size = fixed;
    else {
      if (offset + 4 > bytes.byteLength)
        throw new FeatureDecodeError('property-unreadable', `the length of '${column.name}' is cut short`);
      size = view.getUint32(offset, true);
      start = offset + 4;
    }
    if (start + size > bytes.byteLength) {
      throw new FeatureDecodeError(
        'property-unreadable',
        `'${column.name}' claims ${size} bytes past the end of the feature`,
      );
    }
    properties[column.name] = readValue(view, bytes, start, size, column, maxDepth);
    offset = start + size;
  }
}

function readValue(
  view: DataView,
  bytes: Uint8Array,
  at: number,
  size: number,
  column: FgbColumn,
  maxDepth: number,
): PropertyValue {
  switch (column.type) {
    case FGB_COLUMN.Bool:
      return view.getUint8(at) !== 0;
    case FGB_COLUMN.Byte:
      return view.getInt8(at);
    case FGB_COLUMN.UByte:
      return view.getUint8(at);
    case FGB_COLUMN.Short:
      return view.getInt16(at, true);
    case FGB_COLUMN.UShort:
      return view.getUint16(at, true);
    case FGB_COLUMN.Int:
      return view.getInt32(at, true);
    case FGB_COLUMN.UInt:
      return view.getUint32(at, true);
    case FGB_COLUMN.Long:
      return exactInteger(view.getBigInt64(at, true));
    case FGB_COLUMN.ULong:
      return exactInteger(view.getBigUint64(at, true));
    case FGB_COLUMN.Float:
      return view.getFloat32(at, true);
    case FGB_COLUMN.Double:
      return view.getFloat64(at, true);
    case FGB_COLUMN.String:
      return utf8.decode(bytes.subarray(at, at + size));
    case FGB_COLUMN.DateTime:
      return dateOrText(utf8.decode(bytes.subarray(at, at + size)));
    case FGB_COLUMN.Json:
      return parseJson(utf8.decode(bytes.subarray(at, at + size)), column.name, maxDepth);
    default:
      // Binary: a copy, so the value does not keep the whole feature buffer alive.
      return bytes.slice(at, at + size);
  }
}

/** A 64-bit integer as a number where that is exact, else as a bigint. */
export function exactInteger(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/** ISO 8601 text as a Date; text that is not a date stays text rather than becoming an Invalid Date. */
function dateOrText(text: string): Date | string {
  const time = Date.parse(text);
  return Number.isNaN(time) ? text : new Date(time);
}

function parseJson(text: string, name: string, maxDepth: number): PropertyValue {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FeatureDecodeError(
      'property-unreadable',
      `'${name}' is not valid JSON (${(error as Error).message})`,
    );
  }
  if (jsonDepth(value, maxDepth) > maxDepth) {
    throw new FeatureDecodeError('property-unreadable', `'${name}' nests deeper than ${maxDepth} levels`);
  }
  return value as PropertyValue;
}

/** Depth of a parsed JSON value, counted without recursion and giving up once past `limit`. */
function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > limit) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

// ---- Encoding ----

/** A growable little-endian byte buffer for one feature's properties. */
class PropertyWriter {
  bytes = new Uint8Array(256);
  view = new DataView(this.bytes.buffer);
  length = 0;

  reserve(size: number): number {
    if (this.length + size > this.bytes.byteLength) {
      const grown = new Uint8Array(Math.max(this.bytes.byteLength * 2, this.length + size));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += size;
    return at;
  }

  /** Reserves `size` bytes and writes `value` there with DataView's `method` (little-endian where it applies). */
  scalar(
    method: 'setUint8' | 'setUint16' | 'setFloat64' | 'setBigInt64',
    size: number,
    value: number | bigint,
  ): void {
    const at = this.reserve(size);
    if (method === 'setBigInt64') this.view.setBigInt64(at, value as bigint, true);
    else if (method === 'setUint8') this.view.setUint8(at, value as number);
    else this.view[method](at, value as number, true);
  }

  blob(value: Uint8Array): void {
    const at = this.reserve(4 + value.byteLength);
    this.view.setUint32(at, value.byteLength, true);
    this.bytes.set(value, at + 4);
  }
}

/** The properties byte string for one feature's values, in column order. */
export function encodeProperties(
  columns: readonly FgbColumn[],
  values: Record<string, PropertyValue | undefined>,
): Uint8Array {
  const writer = new PropertyWriter();
  columns.forEach((column, index) => {
    const value = values[column.name];
    if (value === null || value === undefined) return;
    const mark = writer.length;
    writer.scalar('setUint16', 2, index);
    if (!writeValue(writer, column.type, value)) writer.length = mark;
  });
  return writer.bytes.slice(0, writer.length);
}

/** Writes `value` as `type`; false when the column cannot hold it (the pair is then dropped). */
function writeValue(writer: PropertyWriter, type: number, value: PropertyValue): boolean {
  switch (type) {
    case FGB_COLUMN.Long: {
      const integer = asBigInt(value);
      if (integer === undefined) return false;
      writer.scalar('setBigInt64', 8, integer);
      return true;
    }
    case FGB_COLUMN.Double: {
      const number = asNumber(value);
      if (number === undefined) return false;
      writer.scalar('setFloat64', 8, number);
      return true;
    }
    case FGB_COLUMN.Bool:
      if (typeof value !== 'boolean') return false;
      writer.scalar('setUint8', 1, value ? 1 : 0);
      return true;
    case FGB_COLUMN.DateTime:
      if (value instanceof Date && Number.isNaN(value.getTime())) return false;
      writer.blob(utf8Encoder.encode(value instanceof Date ? value.toISOString() : String(value)));
      return true;
    case FGB_COLUMN.Binary:
      writer.blob(value instanceof Uint8Array ? value : utf8Encoder.encode(String(value)));
      return true;
    case FGB_COLUMN.Json:
      writer.blob(utf8Encoder.encode(toJsonText(value)));
      return true;
    default:
      writer.blob(utf8Encoder.encode(asText(value)));
      return true;
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function asBigInt(value: PropertyValue): bigint | undefined {
  let integer: bigint | undefined;
  if (typeof value === 'bigint') integer = value;
  else if (typeof value === 'number' && Number.isInteger(value)) integer = BigInt(value);
  else if (typeof value === 'boolean') integer = value ? 1n : 0n;
  else if (typeof value === 'string' && /^[+-]?\d{1,19}$/.test(value.trim())) integer = BigInt(value.trim());
  return integer !== undefined && integer >= INT64_MIN && integer <= INT64_MAX ? integer : undefined;
}

function asNumber(value: PropertyValue): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

function asText(value: PropertyValue): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString();
  if (typeof value === 'object') return toJsonText(value);
  return String(value);
}
