/**
 * Hand-built Parquet bytes, for hostile samples and fuzzing: a small encoder of Thrift's compact protocol (the
 * encoding of a Parquet footer and of its page headers, see parquet-format's parquet.thrift) and builders of the
 * structures the validator reads. hyparquet-writer writes only files its own schema code can describe, and a
 * 20,000-deep schema or a footer whose counts lie are exactly what it cannot; these builders write whatever they
 * are given, so a test can say precisely which field lies and by how much.
 */

/** Compact-protocol type codes (thrift's TCompactProtocol). */
export const T = {
  TRUE: 1,
  FALSE: 2,
  BYTE: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  STRUCT: 12,
} as const;

export type ThriftValue =
  | { t: 'i32'; v: number }
  | { t: 'i64'; v: bigint }
  | { t: 'bool'; v: boolean }
  | { t: 'bin'; v: Uint8Array }
  | { t: 'list'; elem: number; v: ThriftValue[]; claimedSize?: number }
  | { t: 'struct'; v: ThriftFields };

/** A struct's fields by field id; undefined fields are left out. */
export type ThriftFields = Record<number, ThriftValue | undefined>;

export const i32 = (v: number): ThriftValue => ({ t: 'i32', v });
export const i64 = (v: bigint | number): ThriftValue => ({ t: 'i64', v: BigInt(v) });
export const bool = (v: boolean): ThriftValue => ({ t: 'bool', v });
export const bin = (v: string | Uint8Array): ThriftValue => ({
  t: 'bin',
  v: typeof v === 'string' ? new TextEncoder().encode(v) : v,
});
export const struct = (v: ThriftFields): ThriftValue => ({ t: 'struct', v });
/** A list; `claimedSize` writes a different size in the list header than the elements that follow. */
export const list = (elem: number, v: ThriftValue[], claimedSize?: number): ThriftValue => ({
  t: 'list',
  elem,
  v,
  ...(claimedSize === undefined ? {} : { claimedSize }),
});
export const structs = (items: ThriftFields[]): ThriftValue => list(T.STRUCT, items.map(struct));

class Bytes {
  private buffer = new Uint8Array(256);
  length = 0;
  push(byte: number): void {
    if (this.length === this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.length++] = byte & 0xff;
  }
  append(bytes: Uint8Array): void {
    for (const b of bytes) this.push(b);
  }
  varint(value: bigint): void {
    let v = value;
    while (v >= 0x80n) {
      this.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.push(Number(v));
  }
  zigzag(value: bigint): void {
    this.varint(value >= 0n ? value << 1n : (-value << 1n) - 1n);
  }
  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

function typeCode(value: ThriftValue): number {
  switch (value.t) {
    case 'i32':
      return T.I32;
    case 'i64':
      return T.I64;
    case 'bool':
      return value.v ? T.TRUE : T.FALSE;
    case 'bin':
      return T.BINARY;
    case 'list':
      return T.LIST;
    case 'struct':
      return T.STRUCT;
  }
}

function writeValue(out: Bytes, value: ThriftValue, inList: boolean): void {
  switch (value.t) {
    case 'i32':
      out.zigzag(BigInt(value.v));
      return;
    case 'i64':
      out.zigzag(value.v);
      return;
    case 'bool':
      // In a struct the value lives in the field header; in a list it is one byte.
      if (inList) out.push(value.v ? 1 : 0);
      return;
    case 'bin':
      out.varint(BigInt(value.v.byteLength));
      out.append(value.v);
      return;
    case 'list': {
      const size = value.claimedSize ?? value.v.length;
      if (size < 15) out.push((size << 4) | value.elem);
      else {
        out.push(0xf0 | value.elem);
        out.varint(BigInt(size));
      }
      for (const item of value.v) writeValue(out, item, true);
      return;
    }
    case 'struct':
      writeFields(out, value.v);
  }
}

function writeFields(out: Bytes, fields: ThriftFields): void {
  let last = 0;
  const ids = Object.keys(fields)
    .map(Number)
    .sort((a, b) => a - b);
  for (const id of ids) {
    const value = fields[id];
    if (value === undefined) continue;
    const delta = id - last;
    const type = typeCode(value);
    if (delta > 0 && delta <= 15) out.push((delta << 4) | type);
    else {
      out.push(type);
      out.zigzag(BigInt(id));
    }
    writeValue(out, value, false);
    last = id;
  }
  out.push(0); // STOP
}

/** A struct's compact-protocol bytes. */
export function encodeStruct(fields: ThriftFields): Uint8Array {
  const out = new Bytes();
  writeFields(out, fields);
  return out.bytes();
}

// ------------------------------------------------------------------------------------------ Parquet

/** parquet.thrift enum values used here. */
export const PARQUET = {
  type: { BOOLEAN: 0, INT32: 1, INT64: 2, BYTE_ARRAY: 6 },
  repetition: { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 },
  converted: { UTF8: 0, LIST: 3 },
  codec: { UNCOMPRESSED: 0, SNAPPY: 1, GZIP: 2 },
  encoding: { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 },
  page: { DATA_PAGE: 0, DICTIONARY_PAGE: 2, DATA_PAGE_V2: 3 },
} as const;

export interface SchemaElementSpec {
  name: string;
  type?: number;
  repetition?: number;
  numChildren?: number;
  convertedType?: number;
}

export function schemaElement(spec: SchemaElementSpec): ThriftFields {
  return {
    1: spec.type === undefined ? undefined : i32(spec.type),
    3: spec.repetition === undefined ? undefined : i32(spec.repetition),
    4: bin(spec.name),
    5: spec.numChildren === undefined ? undefined : i32(spec.numChildren),
    6: spec.convertedType === undefined ? undefined : i32(spec.convertedType),
  };
}

/** The GEM road schema: root, id INT64 (required), geometry STRING, is_navigable BOOLEAN. */
export function roadSchema(): ThriftFields[] {
  const { type, repetition, converted } = PARQUET;
  return [
    schemaElement({ name: 'root', numChildren: 3 }),
    schemaElement({ name: 'id', type: type.INT64, repetition: repetition.REQUIRED }),
    schemaElement({
      name: 'geometry',
      type: type.BYTE_ARRAY,
      repetition: repetition.OPTIONAL,
      convertedType: converted.UTF8,
    }),
    schemaElement({ name: 'is_navigable', type: type.BOOLEAN, repetition: repetition.OPTIONAL }),
  ];
}

export interface ColumnChunkSpec {
  path: string[];
  type: number;
  codec?: number;
  numValues: bigint | number;
  dataPageOffset: bigint | number;
  dictionaryPageOffset?: bigint | number;
  totalCompressedSize: bigint | number;
  totalUncompressedSize?: bigint | number;
}

export function columnChunk(spec: ColumnChunkSpec): ThriftFields {
  return {
    2: i64(spec.dataPageOffset),
    3: struct({
      1: i32(spec.type),
      2: list(T.I32, [i32(PARQUET.encoding.PLAIN)]),
      3: list(
        T.BINARY,
        spec.path.map((p) => bin(p)),
      ),
      4: i32(spec.codec ?? PARQUET.codec.UNCOMPRESSED),
      5: i64(spec.numValues),
      6: i64(spec.totalUncompressedSize ?? spec.totalCompressedSize),
      7: i64(spec.totalCompressedSize),
      9: i64(spec.dataPageOffset),
      11: spec.dictionaryPageOffset === undefined ? undefined : i64(spec.dictionaryPageOffset),
    }),
  };
}

export function rowGroup(columns: ThriftFields[], numRows: bigint | number, totalByteSize = 0): ThriftFields {
  return { 1: structs(columns), 2: i64(totalByteSize), 3: i64(numRows) };
}

export interface FileMetaDataSpec {
  schema: ThriftFields[] | ThriftValue;
  numRows: bigint | number;
  rowGroups: ThriftFields[] | ThriftValue;
  keyValue?: { key: string; value: string }[];
  createdBy?: string;
}

export function fileMetaData(spec: FileMetaDataSpec): ThriftFields {
  const asList = (v: ThriftFields[] | ThriftValue) => (Array.isArray(v) ? structs(v) : v);
  return {
    1: i32(2),
    2: asList(spec.schema),
    3: i64(spec.numRows),
    4: asList(spec.rowGroups),
    5: spec.keyValue
      ? structs(spec.keyValue.map(({ key, value }) => ({ 1: bin(key), 2: bin(value) })))
      : undefined,
    6: bin(spec.createdBy ?? 'gem-flow parquetCraft'),
  };
}

const MAGIC = new TextEncoder().encode('PAR1');

/**
 * A whole file: "PAR1", the data bytes, the footer, its length and "PAR1". `claimedFooterLength` writes a
 * different length than the footer has.
 */
export function parquetFile(
  metadata: ThriftFields | Uint8Array,
  data: Uint8Array = new Uint8Array(0),
  claimedFooterLength?: number,
): Uint8Array {
  const footer = metadata instanceof Uint8Array ? metadata : encodeStruct(metadata);
  const out = new Uint8Array(4 + data.byteLength + footer.byteLength + 8);
  out.set(MAGIC, 0);
  out.set(data, 4);
  out.set(footer, 4 + data.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(4 + data.byteLength + footer.byteLength, claimedFooterLength ?? footer.byteLength, true);
  out.set(MAGIC, out.byteLength - 4);
  return out;
}

export interface DataPageSpec {
  numValues: number;
  /** The page body (levels and values) as stored; its length is the compressed size unless overridden. */
  body: Uint8Array;
  uncompressedSize?: number;
  compressedSize?: number;
  encoding?: number;
}

/** A DATA_PAGE (v1) header followed by its body. */
export function dataPage(spec: DataPageSpec): Uint8Array {
  const header = encodeStruct({
    1: i32(PARQUET.page.DATA_PAGE),
    2: i32(spec.uncompressedSize ?? spec.body.byteLength),
    3: i32(spec.compressedSize ?? spec.body.byteLength),
    5: struct({
      1: i32(spec.numValues),
      2: i32(spec.encoding ?? PARQUET.encoding.PLAIN),
      3: i32(PARQUET.encoding.RLE),
      4: i32(PARQUET.encoding.RLE),
    }),
  });
  const out = new Uint8Array(header.byteLength + spec.body.byteLength);
  out.set(header);
  out.set(spec.body, header.byteLength);
  return out;
}

/** An RLE run of the level/index hybrid encoding: `count` copies of `value` (one byte wide). */
export function rleRun(count: number, value: number): Uint8Array {
  const out = new Bytes();
  out.varint(BigInt(count) << 1n);
  out.push(value);
  return out.bytes();
}

/** A v1 definition-level block: 4-byte little-endian length, then the runs. */
export function levelBlock(...runs: Uint8Array[]): Uint8Array {
  const length = runs.reduce((n, r) => n + r.byteLength, 0);
  const out = new Uint8Array(4 + length);
  new DataView(out.buffer).setUint32(0, length, true);
  let at = 4;
  for (const run of runs) {
    out.set(run, at);
    at += run.byteLength;
  }
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** PLAIN BYTE_ARRAY values: a 4-byte length before each. */
export function plainStrings(values: string[]): Uint8Array {
  return concatBytes(
    ...values.map((value) => {
      const bytes = new TextEncoder().encode(value);
      const out = new Uint8Array(4 + bytes.byteLength);
      new DataView(out.buffer).setUint32(0, bytes.byteLength, true);
      out.set(bytes, 4);
      return out;
    }),
  );
}

/** PLAIN INT64 values. */
export function plainInt64(values: bigint[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  for (let k = 0; k < values.length; k++) view.setBigInt64(k * 8, values[k]!, true);
  return out;
}

export interface CraftedColumn {
  path: string;
  type: number;
  /** The column chunk: page headers and bodies, back to back. */
  pages: Uint8Array;
  /** num_values in the column metadata; default `rows`. */
  numValues?: number;
  codec?: number;
}

/**
 * A one-row-group file with the road schema (or `schema`), whose column chunks are the given page bytes, laid
 * out after the leading "PAR1" with the offsets and sizes the metadata states (unless a test overrides them).
 */
export function craftedFile(
  columns: CraftedColumn[],
  rows: number,
  options: {
    schema?: ThriftFields[];
    numRows?: bigint | number;
    chunk?: (spec: ColumnChunkSpec) => ColumnChunkSpec;
  } = {},
): Uint8Array {
  let offset = 4;
  const chunks = columns.map((column) => {
    const spec: ColumnChunkSpec = {
      path: [column.path],
      type: column.type,
      codec: column.codec ?? PARQUET.codec.UNCOMPRESSED,
      numValues: column.numValues ?? rows,
      dataPageOffset: offset,
      totalCompressedSize: column.pages.byteLength,
    };
    offset += column.pages.byteLength;
    return columnChunk(options.chunk ? options.chunk(spec) : spec);
  });
  const metadata = fileMetaData({
    schema: options.schema ?? roadSchema(),
    numRows: options.numRows ?? rows,
    rowGroups: [rowGroup(chunks, rows)],
  });
  return parquetFile(metadata, concatBytes(...columns.map((c) => c.pages)));
}

/** One page per column for `ids`, `geometries` (null allowed) and `navigable` (null allowed), uncompressed. */
export function craftedRoads(
  ids: bigint[],
  geometries: (string | null)[],
  navigable: (boolean | null)[],
): CraftedColumn[] {
  const defined = (values: unknown[]) => levelBlock(...values.map((v) => rleRun(1, v === null ? 0 : 1)));
  const bools = navigable.filter((v): v is boolean => v !== null);
  const packed = new Uint8Array(Math.ceil(bools.length / 8));
  bools.forEach((b, k) => {
    if (b) packed[k >> 3]! |= 1 << (k & 7);
  });
  const { type } = PARQUET;
  return [
    { path: 'id', type: type.INT64, pages: dataPage({ numValues: ids.length, body: plainInt64(ids) }) },
    {
      path: 'geometry',
      type: type.BYTE_ARRAY,
      pages: dataPage({
        numValues: geometries.length,
        body: concatBytes(
          defined(geometries),
          plainStrings(geometries.filter((g): g is string => g !== null)),
        ),
      }),
    },
    {
      path: 'is_navigable',
      type: type.BOOLEAN,
      pages: dataPage({ numValues: navigable.length, body: concatBytes(defined(navigable), packed) }),
    },
  ];
}
