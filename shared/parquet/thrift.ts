/**
 * A bounded reader of Thrift's compact protocol, the encoding of a Parquet footer and of every page header.
 *
 * hyparquet's own reader (node_modules/hyparquet/src/thrift.js) trusts what the bytes say: it sizes arrays from
 * list headers, recurses once per nested struct, and keeps going until a read falls off the end. That is the
 * right trade for a library, and a way for a few bytes to cost gigabytes or the stack. This reader runs first,
 * over the same bytes, iteratively: every list must fit in the bytes left (each element takes at least one),
 * nesting and the number of objects are capped, and numbers are decoded exactly as hyparquet decodes them (the
 * same 32-bit varint arithmetic), so what it checks is what hyparquet will see. Only bytes it accepted are handed
 * to hyparquet.
 */

/** The bytes are not the Thrift structure they claim to be, or exceed a bound; the message says which. */
export class ThriftBoundsError extends Error {}

export interface ThriftBounds {
  /** Nesting of structs and lists. */
  maxDepth: number;
  /** Structs plus binaries (each becomes an object in hyparquet's parse). */
  maxObjects: number;
}

export type ThriftValue = number | bigint | boolean | Uint8Array | ThriftValue[] | ThriftStruct;
/** Fields by id, as hyparquet names them (`field_1`, …) but keyed by the number. */
export type ThriftStruct = { [field: number]: ThriftValue };

export interface ThriftRead {
  /** The struct, with the fields `keep` asked for (all when `keep` is true, none when false). */
  value: ThriftStruct;
  /** Offset just past the struct's STOP byte. */
  end: number;
  objects: number;
  depth: number;
}

const STOP = 0;
const TRUE = 1;
const FALSE = 2;
const BYTE = 3;
const I16 = 4;
const I32 = 5;
const I64 = 6;
const DOUBLE = 7;
const BINARY = 8;
const LIST = 9;
const STRUCT = 12;

/** `keep`: whether this container's contents are stored (or only walked). */
type Frame =
  | { kind: 'struct'; value: ThriftStruct; field: number; keep: boolean }
  | { kind: 'list'; value: ThriftValue[]; elementType: number; left: number; keep: boolean };

class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
    readonly end: number,
  ) {}
  byte(): number {
    if (this.at >= this.end) throw new ThriftBoundsError(`ends early at byte ${this.at}`);
    return this.bytes[this.at++]!;
  }
  /** hyparquet's readVarInt: 7-bit groups OR-ed in with 32-bit shifts, so lengths above 2³¹ turn negative. */
  varint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
    }
    throw new ThriftBoundsError(`a varint longer than 5 bytes at byte ${this.at}`);
  }
  zigzag32(): number {
    const z = this.varint32();
    return (z >>> 1) ^ -(z & 1);
  }
  zigzag64(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return (result >> 1n) ^ -(result & 1n);
    }
    throw new ThriftBoundsError(`a varint longer than 10 bytes at byte ${this.at}`);
  }
  skip(n: number): void {
    if (n < 0 || n > this.end - this.at)
      throw new ThriftBoundsError(`${n} bytes claimed at byte ${this.at}, ${this.end - this.at} left`);
    this.at += n;
  }
}

/**
 * Reads one struct starting at `start` (not past `end`). Throws ThriftBoundsError on anything hyparquet would
 * either choke on or allocate too much for. `keep` says what to store: everything (true), nothing (false: only
 * vet the bytes, e.g. a footer before hyparquet parses it), or only the listed top-level fields.
 */
export function readThriftStruct(
  bytes: Uint8Array,
  start: number,
  end: number,
  bounds: ThriftBounds,
  keep: boolean | ReadonlySet<number> = true,
): ThriftRead {
  const cursor = new Cursor(bytes, start, Math.min(end, bytes.byteLength));
  const walker = new StructWalker(cursor, bounds, keep);
  walker.walk();
  return { value: walker.root, end: cursor.at, objects: walker.objects, depth: walker.depth };
}

/**
 * The iterative walk behind `readThriftStruct`: an explicit stack of open structs and lists instead of
 * recursion, so a deeply nested input costs a bounded array, never the call stack.
 */
class StructWalker {
  readonly root: ThriftStruct = {};
  objects = 1;
  depth = 1;
  readonly #stack: Frame[];

  constructor(
    private readonly cursor: Cursor,
    private readonly bounds: ThriftBounds,
    private readonly keep: boolean | ReadonlySet<number>,
  ) {
    this.#stack = [{ kind: 'struct', value: this.root, field: 0, keep: keep !== false }];
  }

  walk(): void {
    const stack = this.#stack;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      if (frame.kind === 'struct') this.#structField(frame);
      else this.#listElement(frame);
    }
  }

  /** The next field of an open struct, or its end (STOP). */
  #structField(frame: Extract<Frame, { kind: 'struct' }>): void {
    const header = this.cursor.byte();
    const type = header & 0x0f;
    if (type === STOP) {
      this.#stack.pop();
      return;
    }
    const delta = header >> 4;
    const field = delta ? frame.field + delta : this.cursor.zigzag32();
    frame.field = field;
    const { keep } = this;
    const build = frame.keep && (this.#stack.length > 1 || typeof keep === 'boolean' || keep.has(field));
    this.#store(this.#element(type, false, build), (v) => {
      if (build) frame.value[field] = v;
    });
  }

  /** The next element of an open list, or its end. */
  #listElement(frame: Extract<Frame, { kind: 'list' }>): void {
    if (frame.left === 0) {
      this.#stack.pop();
      return;
    }
    frame.left--;
    const build = frame.keep;
    this.#store(this.#element(frame.elementType, true, build), (v) => {
      if (build) frame.value.push(v);
    });
  }

  /** A scalar is stored at once; a container is stored empty and opened, to be filled by the next steps. */
  #store(produced: ThriftValue | Frame, assign: (value: ThriftValue) => void): void {
    if (isFrame(produced)) {
      assign(produced.value);
      this.#enter(produced);
    } else {
      assign(produced);
    }
  }

  #count(): void {
    if (++this.objects > this.bounds.maxObjects)
      throw new ThriftBoundsError(`more than ${this.bounds.maxObjects} structs and strings`);
  }

  #enter(frame: Frame): void {
    const stack = this.#stack;
    stack.push(frame);
    this.depth = Math.max(this.depth, stack.length);
    if (stack.length > this.bounds.maxDepth)
      throw new ThriftBoundsError(`nested more than ${this.bounds.maxDepth} levels deep`);
  }

  /** Reads a value of `type`; containers are returned as frames to open, scalars as values. */
  #element(type: number, inList: boolean, build: boolean): ThriftValue | Frame {
    const { cursor } = this;
    switch (type) {
      case TRUE:
        return inList ? cursor.byte() === 1 : true;
      case FALSE:
        return inList ? cursor.byte() === 1 : false;
      case BYTE:
        return (cursor.byte() << 24) >> 24;
      case I16:
      case I32:
        return cursor.zigzag32();
      case I64:
        return cursor.zigzag64();
      case DOUBLE: {
        const at = cursor.at;
        cursor.skip(8);
        return new DataView(cursor.bytes.buffer, cursor.bytes.byteOffset + at, 8).getFloat64(0, true);
      }
      case BINARY: {
        const length = cursor.varint32();
        const at = cursor.at;
        cursor.skip(length);
        this.#count();
        return build ? cursor.bytes.subarray(at, at + length) : EMPTY;
      }
      case LIST:
        return this.#listHeader(build);
      case STRUCT:
        this.#count();
        return { kind: 'struct', value: {}, field: 0, keep: build };
      default:
        throw new ThriftBoundsError(`unknown type ${type} at byte ${cursor.at - 1}`);
    }
  }

  #listHeader(build: boolean): Frame {
    const { cursor } = this;
    const header = cursor.byte();
    const elementType = header & 0x0f;
    let size = header >> 4;
    if (size === 15) size = cursor.varint32();
    // Every element takes at least one byte, so a list longer than the bytes left is a lie.
    if (size < 0 || size > cursor.end - cursor.at) {
      throw new ThriftBoundsError(
        `a list of ${size} elements at byte ${cursor.at} with ${cursor.end - cursor.at} bytes left`,
      );
    }
    // An empty list's element type is never read (writers leave it 0).
    if (size > 0 && !VALUE_TYPES.has(elementType))
      throw new ThriftBoundsError(`a list of unknown type ${elementType}`);
    return { kind: 'list', value: [], elementType, left: size, keep: build };
  }
}

const EMPTY = new Uint8Array(0);
const VALUE_TYPES = new Set([TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, STRUCT]);

function isFrame(value: ThriftValue | Frame): value is Frame {
  return typeof value === 'object' && value !== null && 'kind' in value && !Array.isArray(value);
}

/** A field as a safe integer, or undefined when absent or not an integer. */
export function intField(struct: ThriftStruct | undefined, field: number): number | undefined {
  const v = struct?.[field];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER))
    return Number(v);
  return undefined;
}

export function structField(struct: ThriftStruct | undefined, field: number): ThriftStruct | undefined {
  const v = struct?.[field];
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
    ? (v as ThriftStruct)
    : undefined;
}
