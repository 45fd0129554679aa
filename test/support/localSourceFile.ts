/**
 * A `SourceFile` over bytes in memory, for reader tests. It counts every byte it hands out
 * and every out-of-range request, so a test can assert a reader never reads past the file, never asks for a
 * range beyond it, and how much of the file it really read.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceFile } from '../../shared/formats/types.js';

export interface CountingSourceFile extends SourceFile {
  /** Bytes returned by `slice` and `stream` together. */
  readonly bytesRead: number;
  /** Requests that started or ended outside 0..byteLength. */
  readonly outOfRange: number;
  /** Open streams not yet finished or returned. */
  readonly openStreams: number;
}

export function memorySourceFile(
  bytes: Uint8Array,
  name = 'input.bin',
  chunkSize = 4096,
): CountingSourceFile {
  let bytesRead = 0;
  let outOfRange = 0;
  let openStreams = 0;
  const check = (start: number, end: number): void => {
    if (start < 0 || end > bytes.byteLength || start > end) outOfRange++;
  };
  return {
    name,
    byteLength: bytes.byteLength,
    get bytesRead() {
      return bytesRead;
    },
    get outOfRange() {
      return outOfRange;
    },
    get openStreams() {
      return openStreams;
    },
    async slice(start: number, end = bytes.byteLength): Promise<ArrayBuffer> {
      check(start, end);
      const part = bytes.slice(Math.max(0, start), Math.min(end, bytes.byteLength));
      bytesRead += part.byteLength;
      return part.buffer;
    },
    async *stream(start = 0): AsyncIterable<Uint8Array> {
      check(start, bytes.byteLength);
      openStreams++;
      try {
        for (let at = Math.max(0, start); at < bytes.byteLength; at += chunkSize) {
          const chunk = bytes.slice(at, Math.min(at + chunkSize, bytes.byteLength));
          bytesRead += chunk.byteLength;
          yield chunk;
        }
      } finally {
        openStreams--;
      }
    },
    async localPath(dir: string): Promise<string> {
      const path = join(
        dir,
        `source-${Math.random().toString(36).slice(2)}-${name.replace(/[^\w.-]/g, '_')}`,
      );
      await writeFile(path, bytes);
      bytesRead += bytes.byteLength;
      return path;
    },
  };
}
