/**
 * dBase (DBF) attribute tables as Shapefiles carry them, read record by record from a stream. The header
 * (record count, header and record lengths, language driver byte 29, then 32-byte field descriptors ended by
 * 0x0D) is checked before any record is read; records are fixed-length, so memory is one record at a time and
 * every length is a 16-bit header value, never a claim that could ask for gigabytes. Field types follow the
 * dBase III+ layout that the ESRI Shapefile specification references (C, N, F, L, D) plus the FoxPro/dBase 7
 * binary ones GDAL also reads (I, O, @/T, +). The text encoding is chosen by `dbfEncoding`.
 */
import type { ChunkReader } from './chunkReader.js';
import { FormatError } from './errors.js';
import { FeatureDecodeError } from './featureProblem.js';
import { exactInteger } from './flatgeobufProperties.js';
import type { FieldInfo, FieldType, FormatLimits, PropertyValue } from './types.js';

export interface DbfField {
  name: string;
  /** The dBase type letter. */
  code: string;
  length: number;
  decimals: number;
  type: FieldType;
}

export interface DbfHeader {
  /** Records the header claims: used only as `declaredFeatureCount`. */
  recordCount: number;
  recordLength: number;
  /** Byte 29, the dBase language driver id (0 when unset). */
  languageDriver: number;
  fields: DbfField[];
  /** Decodes the table's text (field names and C values). */
  decode: (bytes: Uint8Array) => string;
}

/** The bytes of the header, its descriptors and the record length are fixed before any record is read. */
export async function readDbfHeader(
  reader: ChunkReader,
  decoderFor: (languageDriver: number) => (bytes: Uint8Array) => string,
  limits: FormatLimits,
  name: string,
): Promise<DbfHeader> {
  const head = await reader.read(32);
  if (head.byteLength < 32) throw invalid(name, 'it is shorter than a DBF header');
  const view = new DataView(head.buffer, head.byteOffset, 32);
  const headerLength = view.getUint16(8, true);
  const recordLength = view.getUint16(10, true);
  if (headerLength < 33) throw invalid(name, `its header length ${headerLength} is too short`);
  const rest = await reader.read(headerLength - 32);
  if (rest.byteLength < headerLength - 32) throw invalid(name, 'it ends inside its header');
  const decode = decoderFor(head[29]!);
  const fields = parseFields(rest, decode, limits, name);
  const width = fields.reduce((sum, f) => sum + f.length, 1);
  if (width > recordLength) {
    throw invalid(name, `its fields take ${width} bytes but each record has ${recordLength}`);
  }
  return { recordCount: view.getUint32(4, true), recordLength, languageDriver: head[29]!, fields, decode };
}

function parseFields(
  bytes: Uint8Array,
  decoder: (bytes: Uint8Array) => string,
  limits: FormatLimits,
  name: string,
): DbfField[] {
  const fields: DbfField[] = [];
  for (let at = 0; at + 32 <= bytes.byteLength && bytes[at] !== 0x0d; at += 32) {
    if (fields.length === limits.maxFields) {
      throw new FormatError('too-many-fields', `${name} has more than ${limits.maxFields} fields.`, {
        remedy: 'Drop the fields you do not need before zipping the Shapefile.',
      });
    }
    const rawName = bytes.subarray(at, at + 11);
    const end = rawName.indexOf(0);
    const code = String.fromCharCode(bytes[at + 11]!).toUpperCase();
    const length = bytes[at + 16]!;
    const decimals = bytes[at + 17]!;
    fields.push({
      name: decoder(rawName.subarray(0, end < 0 ? 11 : end)).trim() || `field_${fields.length + 1}`,
      code,
      length,
      decimals,
      type: fieldType(code, length, decimals),
    });
  }
  return fields;
}

function fieldType(code: string, length: number, decimals: number): FieldType {
  switch (code) {
    case 'N':
      if (decimals > 0) return 'number';
      // 15 digits always fit a double exactly; wider integer fields may not.
      return length <= 15 ? 'integer' : 'bigint';
    case 'F':
    case 'O':
      return 'number';
    case 'I':
    case '+':
      return 'integer';
    case 'L':
      return 'boolean';
    case 'D':
      return 'date';
    case '@':
    case 'T':
      return 'datetime';
    default:
      return 'string';
  }
}

export function dbfFieldInfos(header: DbfHeader): FieldInfo[] {
  return header.fields.map(({ name, type }) => ({ name, type }));
}

/** One record, or null at the end; `deleted` records are flagged '*' in their first byte. */
export async function readDbfRecord(
  reader: ChunkReader,
  header: DbfHeader,
): Promise<{ bytes: Uint8Array; deleted: boolean } | null> {
  const bytes = await reader.read(header.recordLength);
  if (bytes.byteLength === 0 || bytes[0] === 0x1a) return null;
  if (bytes.byteLength < header.recordLength) return { bytes, deleted: false };
  return { bytes, deleted: bytes[0] === 0x2a };
}

/**
 * The record's values by field, in field order. A value that cannot be read becomes null and the first
 * such failure is thrown after all fields are decoded, so the caller gets both the values and the reason.
 */
export function decodeDbfRecord(
  record: Uint8Array,
  header: DbfHeader,
  properties: Record<string, PropertyValue>,
): void {
  let at = 1;
  let failure: FeatureDecodeError | undefined;
  for (const field of header.fields) {
    const raw = record.subarray(at, at + field.length);
    at += field.length;
    if (raw.byteLength < field.length) {
      properties[field.name] = null;
      failure ??= new FeatureDecodeError('property-unreadable', 'the DBF record is cut short');
      continue;
    }
    try {
      properties[field.name] = decodeValue(raw, field, header.decode);
    } catch (error) {
      properties[field.name] = null;
      failure ??= error as FeatureDecodeError;
    }
  }
  if (failure) throw failure;
}

const ascii = new TextDecoder('latin1');

function decodeValue(
  raw: Uint8Array,
  field: DbfField,
  decoder: (bytes: Uint8Array) => string,
): PropertyValue {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (field.code) {
    case 'N':
    case 'F':
      return decodeNumber(ascii.decode(raw).trim(), field);
    case 'L':
      return decodeLogical(ascii.decode(raw).trim());
    case 'D':
      return decodeDate(ascii.decode(raw).trim(), field);
    case 'I':
    case '+':
      return field.length === 4 ? view.getInt32(0, true) : decodeText(raw, decoder);
    case 'O':
      return field.length === 8 ? view.getFloat64(0, true) : decodeText(raw, decoder);
    case '@':
    case 'T':
      return field.length === 8 ? decodeTimestamp(view) : decodeText(raw, decoder);
    default:
      return decodeText(raw, decoder);
  }
}

/** Text without its padding; all blanks is null, as shapelib and GDAL read it. */
function decodeText(raw: Uint8Array, decoder: (bytes: Uint8Array) => string): string | null {
  let end = raw.byteLength;
  while (end > 0 && (raw[end - 1] === 0x20 || raw[end - 1] === 0)) end--;
  return end === 0 ? null : decoder(raw.subarray(0, end));
}

function decodeNumber(text: string, field: DbfField): number | bigint | null {
  // Blank, or the asterisks dBase writes when a value overflowed its width.
  if (text === '' || /^\*+$/.test(text) || text === '?') return null;
  if (field.decimals === 0 && /^[+-]?\d+$/.test(text)) return exactInteger(BigInt(text));
  const value = Number(text.replace(',', '.'));
  if (Number.isNaN(value)) {
    throw new FeatureDecodeError(
      'property-unreadable',
      `'${field.name}' holds '${text}', which is not a number`,
    );
  }
  return value;
}

function decodeLogical(text: string): boolean | null {
  if (/^[TtYy]$/.test(text)) return true;
  if (/^[FfNn]$/.test(text)) return false;
  return null;
}

function decodeDate(text: string, field: DbfField): Date | null {
  if (text === '' || /^0+$/.test(text)) return null;
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : null;
  if (date === null || date.getUTCDate() !== Number(match![3])) {
    throw new FeatureDecodeError(
      'property-unreadable',
      `'${field.name}' holds '${text}', which is not a YYYYMMDD date`,
    );
  }
  return date;
}

/** dBase 7 timestamps: a Julian day number, then milliseconds since midnight. */
function decodeTimestamp(view: DataView): Date | null {
  const day = view.getInt32(0, true);
  if (day === 0) return null;
  return new Date((day - 2_440_588) * 86_400_000 + view.getInt32(4, true));
}

function invalid(name: string, reason: string): FormatError {
  return new FormatError('dbf-invalid', `${name} is not a readable DBF table: ${reason}.`, {
    remedy: 'Export the Shapefile again from your GIS and zip all of its files.',
  });
}
