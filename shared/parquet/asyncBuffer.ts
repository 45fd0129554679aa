/**
 * Random-access views of a Parquet file for hyparquet, which reads through an `AsyncBuffer`
 * (`{ byteLength, slice(start, end) }`). A blob-backed buffer turns every slice into a ranged GET, so a
 * multi-gigabyte input is validated without ever being held (or even downloaded) whole.
 */
import type { BlobDownloadOptions, BlobGetPropertiesOptions } from '@azure/storage-blob';
import type { AsyncBuffer } from 'hyparquet';
import { errorMessage, GemFlowError, safeUrl, statusCodeOf } from '../errors.js';

export type { AsyncBuffer } from 'hyparquet';

/** The two calls a blob-backed buffer makes; a real `BlobClient` satisfies it, and so can a test fake. */
export interface RangeReadableBlob {
  readonly url: string;
  getProperties(options?: BlobGetPropertiesOptions): Promise<{ contentLength?: number; etag?: string }>;
  download(
    offset?: number,
    count?: number,
    options?: BlobDownloadOptions,
  ): Promise<{ readableStreamBody?: NodeJS.ReadableStream; contentLength?: number }>;
}

export interface BlobAsyncBufferOptions {
  /** Known size in bytes (e.g. from an Event Grid event); saves the properties request. */
  size?: number;
  /** Known etag; every ranged read is conditional on it, so a blob replaced mid-read fails loudly. */
  etag?: string;
  /**
   * Bytes fetched from the end of the file on the first read near the tail. Matches hyparquet's default
   * initial footer fetch (512 KiB), so the footer costs one request; pass the same value as
   * `initialFetchSize` to `parquetMetadataAsync` if you change it.
   */
  footerBytes?: number;
  /**
   * Reads smaller than this are widened to a block of this size and kept, so the many small reads of a
   * page-by-page decoder cost one request per block instead of one per page. Default 1 MiB.
   */
  blockBytes?: number;
  /** Blocks kept (least recently used evicted): bounds memory to about blockBytes × maxBlocks + footer. */
  maxBlocks?: number;
  /** Retries of a broken download stream (the SDK resumes from the last byte). Default 3. */
  maxRetryRequests?: number;
  abortSignal?: BlobDownloadOptions['abortSignal'];
}

/** Counters so tests and benchmarks can show that a file was read by ranges, not whole. */
export interface ReadStats {
  /** Ranged download requests sent. */
  requests: number;
  /** Bytes received from those requests. */
  bytes: number;
  /** Slices answered from the footer or block cache without a request. */
  cacheHits: number;
}

export interface BlobAsyncBuffer extends AsyncBuffer {
  readonly stats: ReadStats;
  readonly etag: string | undefined;
}

/** A ranged read from blob storage failed; the message says which blob and range, never any credential. */
export class BlobReadError extends GemFlowError {
  readonly code = 'BLOB_READ_FAILED';
  readonly statusCode: number | undefined;
  /** 404/412 will not heal by retrying; throttling, 5xx and network errors may. */
  readonly retriable: boolean;
  constructor(message: string, options: { cause: unknown; statusCode?: number; remedy?: string }) {
    super(message, { cause: options.cause, remedy: options.remedy });
    this.statusCode = options.statusCode;
    const s = options.statusCode;
    this.retriable = s === undefined || s === 408 || s === 429 || s >= 500;
  }
}

const DEFAULT_FOOTER_BYTES = 512 * 1024;
const DEFAULT_BLOCK_BYTES = 1024 * 1024;
const DEFAULT_MAX_BLOCKS = 4;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
  ) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

/** An in-memory file as an AsyncBuffer (tests, and small files already in hand). */
export function bufferAsyncBuffer(bytes: Uint8Array | ArrayBuffer): AsyncBuffer {
  const buffer = bytes instanceof Uint8Array ? toArrayBuffer(bytes) : bytes;
  return {
    byteLength: buffer.byteLength,
    slice: (start: number, end?: number) => buffer.slice(start, end),
  };
}

async function readAll(stream: NodeJS.ReadableStream, expected: number): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  let offset = 0;
  for await (const chunk of stream) {
    const piece = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
    if (offset + piece.byteLength > expected)
      throw new Error(`received more than the ${expected} bytes asked for`);
    out.set(piece, offset);
    offset += piece.byteLength;
  }
  if (offset !== expected) throw new Error(`received ${offset} of ${expected} bytes`);
  return out;
}

/**
 * Normalises `slice` arguments the way `ArrayBuffer.prototype.slice` does (negative counts from the end),
 * clamped to the file; an empty range comes back as `[start, start]`.
 */
export function clampRange(byteLength: number, start: number, end?: number): [number, number] {
  const from = start < 0 ? Math.max(0, byteLength + start) : Math.min(start, byteLength);
  const toRaw = end === undefined ? byteLength : end < 0 ? byteLength + end : end;
  const to = Math.min(Math.max(toRaw, 0), byteLength);
  return [from, Math.max(from, to)];
}

/** The options of every read of the blob: conditional on its etag, the stream resumed on a break. */
export function downloadOptions(
  options: Pick<BlobAsyncBufferOptions, 'abortSignal' | 'maxRetryRequests'>,
  etag: string | undefined,
): BlobDownloadOptions {
  return {
    abortSignal: options.abortSignal,
    maxRetryRequests: options.maxRetryRequests ?? 3,
    ...(etag ? { conditions: { ifMatch: etag } } : {}),
  };
}

/** Why a read of the blob failed, in words: replaced (412) or deleted (404) mid-read, or the error's own. */
export function readFailureHint(err: unknown): string {
  const status = statusCodeOf(err);
  if (status === 412)
    return 'the blob changed while it was being read; the new version will arrive as a new event.';
  if (status === 404) return 'the blob was deleted while it was being read.';
  return errorMessage(err);
}

interface Block {
  start: number;
  bytes: Uint8Array;
}

function fromBlock(block: Block, start: number, end: number): ArrayBuffer {
  const from = start - block.start;
  return block.bytes.slice(from, from + (end - start)).buffer as ArrayBuffer;
}

/**
 * A blob as an AsyncBuffer: each slice is answered from the footer cache, a cached block, or one ranged
 * `download(offset, count)`. Large slices (a whole row group's column chunks, which hyparquet already
 * coalesces into one range) go straight through and are not cached, so memory stays at about one row
 * group plus `blockBytes × maxBlocks` plus the footer.
 */
export async function blobAsyncBuffer(
  blob: RangeReadableBlob,
  options: BlobAsyncBufferOptions = {},
): Promise<BlobAsyncBuffer> {
  const where = safeUrl(blob.url);
  const { size, etag } =
    options.size === undefined
      ? await sizeAndEtag(blob, options, where)
      : { size: options.size, etag: options.etag };
  const reader = new RangeReader(blob, where, size, etag, options);
  return {
    byteLength: size,
    slice: (start: number, end?: number) => reader.slice(start, end),
    stats: reader.stats,
    get etag() {
      return etag;
    },
  };
}

/** The blob's size (and its etag, unless one was given), from one properties request. */
async function sizeAndEtag(
  blob: RangeReadableBlob,
  options: BlobAsyncBufferOptions,
  where: string,
): Promise<{ size: number; etag: string | undefined }> {
  let props: { contentLength?: number; etag?: string };
  try {
    props = await blob.getProperties({ abortSignal: options.abortSignal });
  } catch (err) {
    const status = statusCodeOf(err);
    throw new BlobReadError(
      `Cannot read the properties of ${where} (HTTP ${status ?? 'error'}): ` +
        (status === 404
          ? 'the blob does not exist (deleted or renamed after the event?).'
          : errorMessage(err)),
      { cause: err, statusCode: status },
    );
  }
  if (props.contentLength === undefined)
    throw new BlobReadError(`${where} reported no content length`, { cause: undefined });
  return { size: props.contentLength, etag: options.etag ?? props.etag };
}

/** The caches and counters behind one blob-backed buffer; `slice` is the only way in. */
class RangeReader {
  readonly stats: ReadStats = { requests: 0, bytes: 0, cacheHits: 0 };
  readonly #footerBytes: number;
  readonly #blockBytes: number;
  readonly #maxBlocks: number;
  /** The file's tail: fetched once, at least `footerBytes`, kept for the life of the buffer. */
  #footer: Promise<Block> | undefined;
  /** Small reads widened to blocks, least recently used first. */
  readonly #blocks: Promise<Block>[] = [];

  constructor(
    private readonly blob: RangeReadableBlob,
    private readonly where: string,
    private readonly byteLength: number,
    private readonly etag: string | undefined,
    private readonly options: BlobAsyncBufferOptions,
  ) {
    this.#footerBytes = options.footerBytes ?? DEFAULT_FOOTER_BYTES;
    this.#blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
    this.#maxBlocks = Math.max(1, options.maxBlocks ?? DEFAULT_MAX_BLOCKS);
  }

  async slice(startArg: number, endArg?: number): Promise<ArrayBuffer> {
    const [start, end] = clampRange(this.byteLength, startArg, endArg);
    if (end <= start) return new ArrayBuffer(0);
    const footerStart = Math.max(0, this.byteLength - this.#footerBytes);
    if (end === this.byteLength || start >= footerStart) {
      const fromFooter = await this.#fromFooter(start, end, footerStart);
      if (fromFooter) return fromFooter;
    }
    const cached = await this.#fromBlocks(start, end);
    if (cached) return cached;
    const length = end - start;
    if (length >= this.#blockBytes)
      return (await this.#fetchRange(start, length)).bytes.buffer as ArrayBuffer;
    return this.#throughBlock(start, end, footerStart);
  }

  /** The metadata is read from the tail, and hyparquet may come back for more of it. */
  async #fromFooter(start: number, end: number, footerStart: number): Promise<ArrayBuffer | undefined> {
    if (this.#footer) {
      const block = await this.#footer;
      if (start < block.start) return undefined;
      this.stats.cacheHits++;
      return fromBlock(block, start, end);
    }
    if (start < footerStart) return undefined;
    const footer = this.#fetchRange(footerStart, this.byteLength - footerStart);
    this.#footer = footer;
    footer.catch(() => {
      this.#footer = undefined;
    });
    return fromBlock(await footer, start, end);
  }

  async #fromBlocks(start: number, end: number): Promise<ArrayBuffer | undefined> {
    const blocks = this.#blocks;
    for (let i = 0; i < blocks.length; i++) {
      const block = await blocks[i]!;
      if (start >= block.start && end <= block.start + block.bytes.byteLength) {
        this.stats.cacheHits++;
        // Move to the back: most recently used.
        blocks.push(...blocks.splice(i, 1));
        return fromBlock(block, start, end);
      }
    }
    return undefined;
  }

  /** A small read, widened to a block (never past the footer, which is cached separately once fetched). */
  async #throughBlock(start: number, end: number, footerStart: number): Promise<ArrayBuffer> {
    const blocks = this.#blocks;
    const limit = this.#footer ? Math.max(end, footerStart) : this.byteLength;
    const blockEnd = Math.min(limit, start + this.#blockBytes);
    const pending = this.#fetchRange(start, blockEnd - start);
    blocks.push(pending);
    if (blocks.length > this.#maxBlocks) blocks.shift();
    pending.catch(() => {
      const at = blocks.indexOf(pending);
      if (at >= 0) blocks.splice(at, 1);
    });
    return fromBlock(await pending, start, end);
  }

  async #fetchRange(start: number, count: number): Promise<Block> {
    this.stats.requests++;
    try {
      const response = await this.blob.download(start, count, downloadOptions(this.options, this.etag));
      if (!response.readableStreamBody) throw new Error('the download had no body stream');
      const bytes = await readAll(response.readableStreamBody, count);
      this.stats.bytes += bytes.byteLength;
      return { start, bytes };
    } catch (err) {
      throw new BlobReadError(
        `Ranged read of ${this.where} bytes ${start}-${start + count - 1} failed: ${readFailureHint(err)}`,
        { cause: err, statusCode: statusCodeOf(err) },
      );
    }
  }
}
