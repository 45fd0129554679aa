/**
 * A zip archive read in place through `SourceFile.slice`, with `yauzl`'s random-access reader: the end of
 * central directory first, then the central directory, then only the entries asked for, each inflated as a
 * stream. Nothing holds the archive in memory. Small reads (yauzl reads each directory record and local
 * header separately) are served from one cached 64 KiB window so a blob-backed file costs a few ranged GETs,
 * not two per entry. Before an entry is opened its sizes are checked: an entry whose declared size is
 * enormous next to its compressed size is refused as a probable zip bomb, and yauzl's size validation stops
 * any entry that inflates to more than it declared, so the work is bounded by what the archive states and
 * what these checks accept.
 */
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { FormatError } from './errors.js';
import type { SourceFile } from './types.js';

/** Entries listed at most; shapefile archives hold a handful per layer. */
export const MAX_ZIP_ENTRIES = 2000;
/** Entries may inflate to this multiple of their compressed size once they pass `RATIO_FLOOR_BYTES`. */
export const MAX_COMPRESSION_RATIO = 200;
const RATIO_FLOOR_BYTES = 16 * 1024 * 1024;
const WINDOW_BYTES = 64 * 1024;
const STREAM_CHUNK_BYTES = 256 * 1024;
/** Deflate and stored: what yauzl inflates. */
const READABLE_METHODS = new Set([0, 8]);

export interface ZipEntryInfo {
  /** The path inside the archive, with `/` separators. */
  readonly path: string;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
}

class SourceFileReader extends yauzl.RandomAccessReader {
  private window: { start: number; bytes: Buffer } | undefined;

  constructor(private readonly file: SourceFile) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // An offset from the archive's own directory may point anywhere; only the file's real bytes are asked for.
    if (start < 0 || end > this.file.byteLength || start > end) {
      return Readable.from(outOfRange(start, end, this.file.byteLength), { objectMode: false });
    }
    const length = end - start;
    if (length <= WINDOW_BYTES) return Readable.from(this.windowed(start, end), { objectMode: false });
    return Readable.from(this.chunks(start, end), { objectMode: false });
  }

  private async *windowed(start: number, end: number): AsyncGenerator<Buffer> {
    const w = this.window;
    if (!w || start < w.start || end > w.start + w.bytes.byteLength) {
      const windowEnd = Math.min(this.file.byteLength, Math.max(end, start + WINDOW_BYTES));
      this.window = { start, bytes: Buffer.from(await this.file.slice(start, windowEnd)) };
    }
    const current = this.window!;
    yield current.bytes.subarray(start - current.start, end - current.start);
  }

  private async *chunks(start: number, end: number): AsyncGenerator<Buffer> {
    for (let at = start; at < end; at += STREAM_CHUNK_BYTES) {
      yield Buffer.from(await this.file.slice(at, Math.min(end, at + STREAM_CHUNK_BYTES)));
    }
  }
}

// biome-ignore lint/correctness/useYield: a stream that fails on its first read
async function* outOfRange(start: number, end: number, size: number): AsyncGenerator<Buffer> {
  throw new Error(`the archive points at bytes ${start}–${end} of a ${size}-byte file`);
}

export class ZipArchive {
  /** Entry streams opened and not yet closed; `close()` destroys them. */
  private readonly openStreams = new Set<Readable>();

  private constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly byPath: Map<string, yauzl.Entry>,
    readonly name: string,
  ) {}

  /** Opens the archive and lists its entries (directories left out). */
  static async open(file: SourceFile): Promise<ZipArchive> {
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => {
      const options = {
        lazyEntries: true,
        autoClose: false,
        validateEntrySizes: true,
        strictFileNames: false,
      };
      yauzl.fromRandomAccessReader(new SourceFileReader(file), file.byteLength, options, (error, opened) =>
        error ? reject(notAZip(file.name, error)) : resolve(opened),
      );
    });
    try {
      return new ZipArchive(zip, await listEntries(zip, file.name), file.name);
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  entries(): ZipEntryInfo[] {
    return [...this.byPath.values()].map((e) => ({
      path: e.fileName,
      compressedSize: e.compressedSize,
      uncompressedSize: e.uncompressedSize,
    }));
  }

  /** The entry's bytes, inflated, as a stream; checked against zip bombs before anything is inflated. */
  async open(path: string): Promise<AsyncIterable<Uint8Array>> {
    const entry = this.byPath.get(path);
    if (entry === undefined) throw new Error(`no entry ${path} in ${this.name}`);
    checkEntry(entry, this.name);
    const stream = await new Promise<Readable>((resolve, reject) => {
      this.zip.openReadStream(entry, (error, opened) =>
        error ? reject(this.broken(path, error)) : resolve(opened),
      );
    });
    this.track(stream);
    return this.guarded(stream, path);
  }

  /** A small entry (`.prj`, `.cpg`) read whole; refused when it declares more than `maxBytes`. */
  async readSmall(path: string, maxBytes: number): Promise<Uint8Array> {
    const entry = this.byPath.get(path);
    if (entry && entry.uncompressedSize > maxBytes) {
      throw new FormatError(
        'zip-entry-too-large',
        `${path} in ${this.name} holds ${entry.uncompressedSize} bytes; at most ${maxBytes} are expected.`,
      );
    }
    const parts: Uint8Array[] = [];
    for await (const chunk of await this.open(path)) parts.push(chunk);
    return Buffer.concat(parts);
  }

  /** Closes the archive and every entry stream still open, read or not. */
  close(): void {
    for (const stream of this.openStreams) stream.destroy();
    this.openStreams.clear();
    this.zip.close();
  }

  /**
   * A corrupt deflate block fails an entry's stream as soon as yauzl inflates ahead, which may be before, or
   * without, anyone reading it (the `.dbf` is opened before the `.shp` header is checked). yauzl forwards that
   * failure as a bare 'error' event: unheard, it would be an uncaught exception that ends the process. The
   * listener turns it into the stream's own failure, which `guarded` rethrows as a FormatError when read.
   */
  private track(stream: Readable): void {
    this.openStreams.add(stream);
    stream.on('error', (error) => {
      if (!stream.destroyed) stream.destroy(error);
    });
    stream.once('close', () => this.openStreams.delete(stream));
  }

  /** Turns inflate and size-check failures, which surface mid-stream, into a `FormatError` naming the entry. */
  private async *guarded(stream: Readable, path: string): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of stream) yield chunk as Uint8Array;
    } catch (error) {
      throw this.broken(path, error);
    } finally {
      stream.destroy();
    }
  }

  private broken(path: string, cause: unknown): FormatError {
    return new FormatError(
      'zip-entry-unreadable',
      `${path} in ${this.name} cannot be unpacked (${(cause as Error).message}).`,
      {
        cause,
        remedy: 'Zip the files again (plain deflate, no password) and upload the new archive.',
      },
    );
  }
}

function notAZip(name: string, cause: Error): FormatError {
  return new FormatError('zip-unreadable', `${name} is not a readable zip archive (${cause.message}).`, {
    cause,
    remedy: 'Zip the Shapefile’s .shp, .shx, .dbf and .prj together and upload the archive.',
  });
}

function listEntries(zip: yauzl.ZipFile, name: string): Promise<Map<string, yauzl.Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, yauzl.Entry>();
    let seen = 0;
    zip.on('entry', (entry: yauzl.Entry) => {
      if (++seen > MAX_ZIP_ENTRIES) {
        reject(
          new FormatError('zip-too-many-entries', `${name} holds more than ${MAX_ZIP_ENTRIES} entries.`, {
            remedy: 'Zip only the Shapefile’s own files.',
          }),
        );
        return;
      }
      if (!entry.fileName.endsWith('/')) entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', (error: Error) => reject(notAZip(name, error)));
    zip.readEntry();
  });
}

function checkEntry(entry: yauzl.Entry, archive: string): void {
  if (entry.isEncrypted()) {
    throw new FormatError('zip-encrypted', `${entry.fileName} in ${archive} is password-protected.`, {
      remedy: 'Zip the files again without a password.',
    });
  }
  if (!READABLE_METHODS.has(entry.compressionMethod)) {
    throw new FormatError(
      'zip-compression-unsupported',
      `${entry.fileName} in ${archive} uses compression method ${entry.compressionMethod}.`,
      {
        remedy: 'Zip the files again with ordinary (deflate) compression.',
      },
    );
  }
  const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
  if (entry.uncompressedSize > RATIO_FLOOR_BYTES && ratio > MAX_COMPRESSION_RATIO) {
    throw new FormatError(
      'zip-bomb-suspected',
      `${entry.fileName} in ${archive} claims to inflate ${Math.round(ratio)}-fold, to ${entry.uncompressedSize} bytes.`,
      {
        remedy: `Real data compresses less than ${MAX_COMPRESSION_RATIO}-fold; check the archive and zip the files again.`,
      },
    );
  }
}
