/**
 * `SourceFile`s: one input file, read by ranges (`slice`), as a stream, or as a path on local disk, whether
 * it is a blob or a local file. The blob-backed file answers `slice` through the Parquet validator's
 * `blobAsyncBuffer` (ranged GETs, cached footer and blocks) and `stream` with one ranged download; every
 * request is conditional on the etag, so a blob replaced mid-read fails loudly (HTTP 412) instead of mixing
 * two versions. The local file serves tests, benchmarks and readers that spilled a blob to disk.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { safeUrl, statusCodeOf } from '../errors.js';
import {
  type BlobAsyncBufferOptions,
  BlobReadError,
  blobAsyncBuffer,
  clampRange,
  downloadOptions,
  type RangeReadableBlob,
  readFailureHint,
} from '../parquet/asyncBuffer.js';
import type { SourceFile } from './types.js';

/** A name safe to use as a file name in a scratch directory (no separators, bounded length). */
function scratchName(name: string): string {
  const base =
    basename(name)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(-80) || 'source';
  return `${randomUUID().slice(0, 8)}-${base}`;
}

export interface BlobSourceFileOptions
  extends Pick<BlobAsyncBufferOptions, 'abortSignal' | 'maxRetryRequests'> {
  /** The name the user gave the file (the inbox blob name). */
  name: string;
  /** Known size (from the event); saves one properties request. */
  size?: number;
  /** Known etag; every request is conditional on it. Read from the blob's properties when absent. */
  etag?: string;
}

/**
 * A blob as a `SourceFile`. Memory: `slice` is bounded as `blobAsyncBuffer` documents (footer + a few
 * blocks + the slice asked for); `stream` holds one network chunk at a time; `localPath` streams to disk.
 */
export async function blobSourceFile(
  blob: RangeReadableBlob,
  options: BlobSourceFileOptions,
): Promise<SourceFile> {
  const buffer = await blobAsyncBuffer(blob, {
    size: options.size,
    etag: options.etag,
    abortSignal: options.abortSignal,
    maxRetryRequests: options.maxRetryRequests,
  });
  const etag = buffer.etag;
  const where = safeUrl(blob.url);
  const byteLength = buffer.byteLength;

  async function* stream(start = 0): AsyncIterable<Uint8Array> {
    const [from] = clampRange(byteLength, start);
    if (from >= byteLength) return;
    let body: NodeJS.ReadableStream | undefined;
    try {
      const response = await blob.download(from, byteLength - from, downloadOptions(options, etag));
      body = response.readableStreamBody;
      if (!body) throw new Error('the download had no body stream');
    } catch (err) {
      throw streamError(where, from, err);
    }
    try {
      for await (const chunk of body) {
        yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
      }
    } catch (err) {
      throw streamError(where, from, err);
    }
  }

  let downloaded: Promise<string> | undefined;
  const localPath = (dir: string): Promise<string> => {
    downloaded ??= downloadTo(join(dir, scratchName(options.name)), stream);
    downloaded.catch(() => {
      downloaded = undefined;
    });
    return downloaded;
  };

  const slice = async (start: number, end?: number): Promise<ArrayBuffer> => buffer.slice(start, end);
  return { name: options.name, byteLength, slice, stream, localPath };
}

function streamError(where: string, from: number, err: unknown): BlobReadError {
  if (err instanceof BlobReadError) return err;
  return new BlobReadError(`Streaming ${where} from byte ${from} failed: ${readFailureHint(err)}`, {
    cause: err,
    statusCode: statusCodeOf(err),
  });
}

/** Streams the whole file to `path` with back-pressure; a failed download leaves no partial file. */
async function downloadTo(
  path: string,
  stream: (start?: number) => AsyncIterable<Uint8Array>,
): Promise<string> {
  try {
    await pipeline(stream(0), createWriteStream(path, { flags: 'wx' }));
    return path;
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
}

/**
 * A local file as a `SourceFile`. Each `slice` opens, reads and closes the file (hyparquet asks for a few
 * large slices, the other readers stream), so nothing is left open between calls and there is no handle to
 * close. The size is taken once, when the file is opened: a file that grows later is read as it was.
 */
export async function localSourceFile(path: string, name: string = basename(path)): Promise<SourceFile> {
  const { size: byteLength } = await stat(path);

  const slice = async (start: number, end?: number): Promise<ArrayBuffer> => {
    const [from, to] = clampRange(byteLength, start, end);
    const out = new Uint8Array(to - from);
    if (out.byteLength === 0) return out.buffer;
    const handle = await open(path, 'r');
    try {
      let filled = 0;
      while (filled < out.byteLength) {
        const { bytesRead } = await handle.read(out, filled, out.byteLength - filled, from + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === out.byteLength ? out.buffer : out.slice(0, filled).buffer;
    } finally {
      await handle.close();
    }
  };

  async function* stream(start = 0): AsyncIterable<Uint8Array> {
    const [from] = clampRange(byteLength, start);
    if (from >= byteLength) return;
    // `end` is inclusive; reading stops at the size taken at open time.
    for await (const chunk of createReadStream(path, { start: from, end: byteLength - 1 })) {
      yield chunk as Buffer;
    }
  }

  return { name, byteLength, slice, stream, localPath: async () => path };
}

/** An in-memory file as a `SourceFile` (tests and small files already in hand). */
export function bytesSourceFile(bytes: Uint8Array, name: string): SourceFile {
  const byteLength = bytes.byteLength;
  return {
    name,
    byteLength,
    slice: async (start, end) => {
      const [from, to] = clampRange(byteLength, start, end);
      return bytes.slice(from, to).buffer as ArrayBuffer;
    },
    async *stream(start = 0) {
      const [from] = clampRange(byteLength, start);
      // Chunks of 64 KiB, as a file stream would give, so chunk-boundary handling is exercised.
      for (let at = from; at < byteLength; at += 65_536)
        yield bytes.subarray(at, Math.min(byteLength, at + 65_536));
    },
    localPath: async (dir) => {
      const path = join(dir, scratchName(name));
      await writeFile(path, bytes, { flag: 'wx' });
      return path;
    },
  };
}
