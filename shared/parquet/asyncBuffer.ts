/**
 * Random-access views of a Parquet file for hyparquet, which reads through an `AsyncBuffer`
 * (`{ byteLength, slice(start, end) }`). A blob-backed buffer turns every slice into a ranged GET, so a
 * multi-gigabyte input is validated without ever being held (or even downloaded) whole.
 */
import type { BlobDownloadOptions, BlobGetPropertiesOptions } from '@azure/storage-blob';
import type { AsyncBuffer } from 'hyparquet';
import { GemFlowError } from '../errors.js';

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

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The blob URL without its query (a SAS token there would be a secret). */
function safeUrl(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

interface Block {
  start: number;
  bytes: Uint8Array;
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
  const footerBytes = options.footerBytes ?? DEFAULT_FOOTER_BYTES;
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  const maxBlocks = Math.max(1, options.maxBlocks ?? DEFAULT_MAX_BLOCKS);
  const stats: ReadStats = { requests: 0, bytes: 0, cacheHits: 0 };
  const where = safeUrl(blob.url);

  let size = options.size;
  let etag = options.etag;
  if (size === undefined) {
    try {
      const props = await blob.getProperties({ abortSignal: options.abortSignal });
      size = props.contentLength;
      etag ??= props.etag;
    } catch (err) {
      const status = statusOf(err);
      throw new BlobReadError(
        `Cannot read the properties of ${where} (HTTP ${status ?? 'error'}): ` +
          (status === 404
            ? 'the blob does not exist (deleted or renamed after the event?).'
            : errorText(err)),
        { cause: err, statusCode: status },
      );
    }
    if (size === undefined)
      throw new BlobReadError(`${where} reported no content length`, { cause: undefined });
  }
  const byteLength = size;

  let footer: Promise<Block> | undefined;
  const blocks: Promise<Block>[] = [];

  const fetchRange = async (start: number, count: number): Promise<Block> => {
    stats.requests++;
    try {
      const response = await blob.download(start, count, {
        abortSignal: options.abortSignal,
        maxRetryRequests: options.maxRetryRequests ?? 3,
        ...(etag ? { conditions: { ifMatch: etag } } : {}),
      });
      if (!response.readableStreamBody) throw new Error('the download had no body stream');
      const bytes = await readAll(response.readableStreamBody, count);
      stats.bytes += bytes.byteLength;
      return { start, bytes };
    } catch (err) {
      const status = statusOf(err);
      const hint =
        status === 412
          ? 'the blob changed while it was being read; the new version will arrive as a new event.'
          : status === 404
            ? 'the blob was deleted while it was being read.'
            : errorText(err);
      throw new BlobReadError(`Ranged read of ${where} bytes ${start}-${start + count - 1} failed: ${hint}`, {
        cause: err,
        statusCode: status,
      });
    }
  };

  const fromBlock = (block: Block, start: number, end: number): ArrayBuffer => {
    const from = start - block.start;
    return block.bytes.slice(from, from + (end - start)).buffer as ArrayBuffer;
  };

  const slice = async (startArg: number, endArg?: number): Promise<ArrayBuffer> => {
    const start = startArg < 0 ? Math.max(0, byteLength + startArg) : Math.min(startArg, byteLength);
    const end = Math.min(
      endArg === undefined ? byteLength : endArg < 0 ? byteLength + endArg : endArg,
      byteLength,
    );
    if (end <= start) return new ArrayBuffer(0);

    // The tail: fetched once, at least `footerBytes`, kept for the life of the buffer (the metadata is
    // read from it and hyparquet may come back for more of it).
    const footerStart = Math.max(0, byteLength - footerBytes);
    if (end === byteLength || start >= footerStart) {
      if (footer) {
        const block = await footer;
        if (start >= block.start) {
          stats.cacheHits++;
          return fromBlock(block, start, end);
        }
      } else if (start >= footerStart) {
        footer = fetchRange(footerStart, byteLength - footerStart);
        footer.catch(() => {
          footer = undefined;
        });
        return fromBlock(await footer, start, end);
      }
    }

    for (let i = 0; i < blocks.length; i++) {
      const block = await blocks[i]!;
      if (start >= block.start && end <= block.start + block.bytes.byteLength) {
        stats.cacheHits++;
        // Move to the back: most recently used.
        blocks.push(...blocks.splice(i, 1));
        return fromBlock(block, start, end);
      }
    }

    const length = end - start;
    if (length >= blockBytes) return (await fetchRange(start, length)).bytes.buffer as ArrayBuffer;

    // Small read: widen to a block (never past the footer, which is cached separately once fetched).
    const limit = footer ? Math.max(end, footerStart) : byteLength;
    const blockEnd = Math.min(limit, start + blockBytes);
    const pending = fetchRange(start, blockEnd - start);
    blocks.push(pending);
    if (blocks.length > maxBlocks) blocks.shift();
    pending.catch(() => {
      const at = blocks.indexOf(pending);
      if (at >= 0) blocks.splice(at, 1);
    });
    return fromBlock(await pending, start, end);
  };

  return {
    byteLength,
    slice,
    stats,
    get etag() {
      return etag;
    },
  };
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
