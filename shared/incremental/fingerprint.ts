/**
 * A prepared GEM file's fingerprint: for every row, a 64-bit digest of its id and a 64-bit digest of its
 * content (id, WKT geometry, is_navigable), held sorted by id digest in typed arrays (16 bytes a row, plus
 * 4 for the row's position in the file while the file is the current one), never as one object per row.
 * Two fingerprints are compared by a merge walk (classify.ts). Pure: reading the file is the caller's.
 *
 * Digests are the first 8 bytes of SHA-256 over a framed encoding, so no two (id, geometry, navigability)
 * triples share an encoding. Two ids of one file with the same digest (a 64-bit collision, or a repeated id)
 * are found when the fingerprint is built (`collisions`) and make the run a full re-match; see classify.ts
 * for why ids of two different files need no exact comparison.
 */
import { hash } from 'node:crypto';

/** The digest of a row's id: what rows of two files are paired on. */
export function idDigest(id: string): bigint {
  return digest64(`id\u0000${id}`);
}

/**
 * The digest of what GEM matches a row on. JSON keeps the three parts apart whatever characters they hold, and
 * tells a missing is_navigable (null) from `false`.
 */
export function contentDigest(id: string, wkt: string, navigable: boolean | null): bigint {
  return digest64(JSON.stringify([id, wkt, navigable]));
}

function digest64(text: string): bigint {
  return (hash('sha256', text, 'buffer') as Buffer).readBigUInt64BE(0);
}

export interface Fingerprint {
  /** Id digests, ascending. */
  readonly ids: BigUint64Array;
  /** Content digests, parallel to `ids`. */
  readonly contents: BigUint64Array;
  /** Each entry's row in the file (0-based), parallel to `ids`; absent for a fingerprint read back. */
  readonly rows?: Uint32Array;
  /** Pairs of adjacent entries with the same id digest: a repeated id or a 64-bit collision. */
  readonly collisions: number;
}

/** Most rows a fingerprint holds: row positions are 32-bit. */
export const MAX_FINGERPRINT_ROWS = 2 ** 32 - 1;

/** Collects a file's rows in file order; `finish` sorts them. Grows with the rows added, never from a claim. */
export class FingerprintBuilder {
  private ids = new BigUint64Array(1024);
  private contents = new BigUint64Array(1024);
  private count = 0;

  get rows(): number {
    return this.count;
  }

  add(id: string, wkt: string, navigable: boolean | null): void {
    if (this.count === this.ids.length) this.grow();
    this.ids[this.count] = idDigest(id);
    this.contents[this.count] = contentDigest(id, wkt, navigable);
    this.count++;
  }

  private grow(): void {
    if (this.count >= MAX_FINGERPRINT_ROWS) {
      throw new RangeError(`a fingerprint holds at most ${MAX_FINGERPRINT_ROWS} rows`);
    }
    const size = Math.min(MAX_FINGERPRINT_ROWS, this.ids.length * 2);
    const ids = new BigUint64Array(size);
    ids.set(this.ids);
    const contents = new BigUint64Array(size);
    contents.set(this.contents);
    this.ids = ids;
    this.contents = contents;
  }

  /**
   * Sorted by id digest: the id digests alone are sorted natively, then each row finds its place by binary
   * search (the first free slot of its digest, so repeated digests keep file order and are all counted).
   */
  finish(): Fingerprint {
    const n = this.count;
    const fileIds = this.ids.subarray(0, n);
    const ids = fileIds.slice().sort();
    const contents = new BigUint64Array(n);
    const rows = new Uint32Array(n);
    const filled = new Uint8Array(n);
    for (let row = 0; row < n; row++) {
      let at = lowerBound(ids, fileIds[row]!);
      while (filled[at]) at++;
      filled[at] = 1;
      contents[at] = this.contents[row]!;
      rows[at] = row;
    }
    return { ids, contents, rows, collisions: adjacentEqual(ids) };
  }
}

/** The first index whose value is ≥ `value` in an ascending array (its length when there is none). */
export function lowerBound(sorted: BigUint64Array, value: bigint): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Whether an ascending array holds `value`. */
export function sortedHas(sorted: BigUint64Array, value: bigint): boolean {
  const at = lowerBound(sorted, value);
  return at < sorted.length && sorted[at] === value;
}

function adjacentEqual(sorted: BigUint64Array): number {
  let equal = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) equal++;
  return equal;
}

// ---- Stored form ----

/** `GEMFP001`: what a stored fingerprint starts with, then the row count (u64) and the two arrays (LE). */
const MAGIC = Buffer.from('GEMFP001', 'latin1');
const HEADER_BYTES = 16;

/** The bytes a later run reads back with `parseFingerprint`; row positions are not kept. */
export function serialiseFingerprint(fingerprint: Fingerprint): Buffer {
  const n = fingerprint.ids.length;
  const out = Buffer.alloc(HEADER_BYTES + n * 16);
  MAGIC.copy(out, 0);
  out.writeBigUInt64LE(BigInt(n), 8);
  for (let i = 0; i < n; i++) {
    out.writeBigUInt64LE(fingerprint.ids[i]!, HEADER_BYTES + i * 8);
    out.writeBigUInt64LE(fingerprint.contents[i]!, HEADER_BYTES + (n + i) * 8);
  }
  return out;
}

/**
 * A stored fingerprint, or the reason it cannot be used. Sized from the bytes actually read: the count it
 * claims must account for them exactly, and the ids must be ascending, or it is not used.
 */
export function parseFingerprint(bytes: Uint8Array): Fingerprint | { unusable: string } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < HEADER_BYTES || !buffer.subarray(0, 8).equals(MAGIC)) {
    return { unusable: 'it is not a gem-flow fingerprint (version 1)' };
  }
  const claimed = buffer.readBigUInt64LE(8);
  const n = (buffer.length - HEADER_BYTES) / 16;
  if (!Number.isInteger(n) || BigInt(n) !== claimed) {
    return { unusable: `it claims ${claimed} rows but holds ${buffer.length} bytes` };
  }
  const ids = new BigUint64Array(n);
  const contents = new BigUint64Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = buffer.readBigUInt64LE(HEADER_BYTES + i * 8);
    contents[i] = buffer.readBigUInt64LE(HEADER_BYTES + (n + i) * 8);
    if (i > 0 && ids[i]! < ids[i - 1]!) return { unusable: 'its ids are not in order' };
  }
  return { ids, contents, collisions: adjacentEqual(ids) };
}
