/**
 * Exact-size reads over a stream of byte chunks, for binary formats whose records are length-prefixed
 * (FlatGeobuf features, Shapefile records, DBF rows). The reader holds at most the chunks that one `read`
 * needs, so memory follows the largest record the caller agrees to read, never the stream's size; a caller
 * checks a record's claimed length against its limits before asking for it, and `skip` passes over a record
 * it refuses without buffering it.
 */

export class ChunkReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes handed out or skipped so far. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Exactly `length` bytes, or fewer only at the end of the stream. A view: do not write to it. */
  async read(length: number): Promise<Uint8Array> {
    await this.fill(length);
    const size = Math.min(length, this.buffered);
    const first = this.chunks[0];
    let out: Uint8Array;
    if (first !== undefined && first.byteLength >= size) {
      out = first.subarray(0, size);
      this.drop(size);
    } else {
      out = new Uint8Array(size);
      let written = 0;
      while (written < size) {
        const chunk = this.chunks[0]!;
        const take = Math.min(chunk.byteLength, size - written);
        out.set(chunk.subarray(0, take), written);
        written += take;
        this.drop(take);
      }
    }
    this.position += size;
    return out;
  }

  /** Passes over `length` bytes without keeping them; returns how many there were (fewer at the end). */
  async skip(length: number): Promise<number> {
    let left = length;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.pull())) break;
      const take = Math.min(this.chunks[0]!.byteLength, left);
      this.drop(take);
      left -= take;
    }
    this.position += length - left;
    return length - left;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    await this.fill(1);
    return this.buffered === 0;
  }

  /** Stops the underlying stream (a blob download, a file read); safe to call twice. */
  async close(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    if (!this.ended) {
      this.ended = true;
      await this.iterator.return?.();
    }
  }

  private async fill(length: number): Promise<void> {
    while (this.buffered < length && (await this.pull())) {}
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    if (next.value.byteLength > 0) {
      this.chunks.push(next.value);
      this.buffered += next.value.byteLength;
    }
    return true;
  }

  private drop(length: number): void {
    const first = this.chunks[0]!;
    if (length === first.byteLength) this.chunks.shift();
    else this.chunks[0] = first.subarray(length);
    this.buffered -= length;
  }
}
