/**
 * Finding duplicate ids in bounded memory. Each id becomes a 64-bit key: an integer id (int32 or int64) is its
 * own value, exactly; a string id is a 64-bit hash of its text, so two different strings collide with a chance
 * of about n²/2⁶⁵ (3·10⁻⁶ at 10 million ids) and the report says hashing was used. Keys and each key's first row
 * live in typed arrays (open addressing, 12 bytes a slot, at most 70 % full), grown only as ids are actually
 * read, never sized from a row count a file claims.
 *
 * A file whose ids would need more than `maxSlots` slots is checked in several passes: pass p remembers only the
 * ids whose key falls in partition p (of `passes`), so each pass's table stays within the bound, and the caller
 * reads the id column once per pass. Memory is then flat in the number of rows; time grows by one id-column read
 * per extra pass.
 */

export type IdValue = number | bigint | string;

const EMPTY = 0;
const MAX_LOAD = 0.7;

export class IdIndex {
  private keysLo: Uint32Array;
  private keysHi: Uint32Array;
  /** First row + 1 (0 = empty slot). */
  private rows: Uint32Array;
  private size = 0;

  constructor(
    /** Partition this index remembers, and how many there are. */
    readonly pass: number = 0,
    readonly passes: number = 1,
    initialSlots = 1024,
  ) {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(16, initialSlots)));
    this.keysLo = new Uint32Array(slots);
    this.keysHi = new Uint32Array(slots);
    this.rows = new Uint32Array(slots);
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.rows.length * 12;
  }

  /**
   * Returns the first row that had the same id, or undefined (and remembers this one). Ids outside this pass's
   * partition are ignored (undefined).
   */
  seen(id: IdValue, row: number): number | undefined {
    const [lo, hi] = keyOf(id);
    if (this.passes > 1 && partition(lo, hi, this.passes) !== this.pass) return undefined;
    const mask = this.rows.length - 1;
    for (let slot = mix(lo, hi) & mask; ; slot = (slot + 1) & mask) {
      const stored = this.rows[slot]!;
      if (stored === EMPTY) {
        this.keysLo[slot] = lo;
        this.keysHi[slot] = hi;
        this.rows[slot] = row + 1;
        if (++this.size > this.rows.length * MAX_LOAD) this.grow();
        return undefined;
      }
      if (this.keysLo[slot] === lo && this.keysHi[slot] === hi) return stored - 1;
    }
  }

  private grow(): void {
    const { keysLo, keysHi, rows } = this;
    const slots = rows.length * 2;
    this.keysLo = new Uint32Array(slots);
    this.keysHi = new Uint32Array(slots);
    this.rows = new Uint32Array(slots);
    const mask = slots - 1;
    for (let i = 0; i < rows.length; i++) {
      if (rows[i] === EMPTY) continue;
      let slot = mix(keysLo[i]!, keysHi[i]!) & mask;
      while (this.rows[slot] !== EMPTY) slot = (slot + 1) & mask;
      this.keysLo[slot] = keysLo[i]!;
      this.keysHi[slot] = keysHi[i]!;
      this.rows[slot] = rows[i]!;
    }
  }
}

/** Passes needed so that no pass's table (at most 70 % full, 12 bytes a slot) exceeds `maxBytes` for `rows` ids. */
export function idPasses(rows: number, maxBytes: number): number {
  const idsPerPass = Math.max(1024, Math.floor((maxBytes / 12 / 2) * MAX_LOAD));
  return Math.max(1, Math.ceil(rows / idsPerPass));
}

const TWO_32 = 0x1_0000_0000n;

/** The 64-bit key of an id as two unsigned 32-bit halves. */
function keyOf(id: IdValue): [number, number] {
  if (typeof id === 'number') {
    // int32 ids (and int64 ones hyparquet gave as numbers): two's complement, as an int64 would store them.
    const lo = id >>> 0;
    const hi = Math.floor(id / 0x1_0000_0000) >>> 0;
    return [lo, hi];
  }
  if (typeof id === 'bigint') {
    const unsigned = BigInt.asUintN(64, id);
    return [Number(unsigned % TWO_32), Number(unsigned / TWO_32)];
  }
  return hashString(id);
}

/** cyrb53's two 32-bit lanes kept whole: a 64-bit hash of the string's UTF-16 code units. */
function hashString(s: string): [number, number] {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** Slot hash: sequential integer ids must not cluster in one run of slots (murmur3's finaliser). */
function mix(lo: number, hi: number): number {
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Partition of a key, independent of the slot hash (else each pass would fill one region of its table). */
function partition(lo: number, hi: number, passes: number): number {
  let h = Math.imul(hi ^ Math.imul(lo, 0xcc9e2d51), 0x1b873593);
  h ^= h >>> 15;
  return (h >>> 0) % passes;
}
