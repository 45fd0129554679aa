/**
 * Unit tests of `shared/formats/sourceFile.ts`: SourceFile implementations agree; blob-backed SourceFile.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { blobSourceFile, bytesSourceFile, localSourceFile } from '../../../shared/formats/sourceFile.js';
import type { SourceFile } from '../../../shared/formats/types.js';
import { BlobReadError, type RangeReadableBlob } from '../../../shared/parquet/asyncBuffer.js';
import { scratch } from './support.js';

const dir = scratch();
const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251);

/** A BlobClient stand-in: serves ranges in small chunks, records requests, can fail with a status. */
function fakeBlob(data: Uint8Array, etag = '"0x1"') {
  const requests: { offset: number; count: number | undefined; ifMatch: unknown }[] = [];
  let failWith: number | undefined;
  const blob: RangeReadableBlob = {
    url: 'https://acct.blob.core.windows.net/inbox/roads.geojson?sig=SECRET',
    getProperties: async () => ({ contentLength: data.byteLength, etag }),
    async download(offset = 0, count, options) {
      requests.push({ offset, count, ifMatch: options?.conditions?.ifMatch });
      if (failWith) throw Object.assign(new Error(`status ${failWith}`), { statusCode: failWith });
      const body = data.slice(offset, count === undefined ? undefined : offset + count);
      const chunks = Array.from({ length: Math.ceil(body.length / 4096) }, (_, i) =>
        body.slice(i * 4096, (i + 1) * 4096),
      );
      return { readableStreamBody: Readable.from(chunks), contentLength: body.length };
    },
  };
  return {
    blob,
    requests,
    fail: (status: number) => {
      failWith = status;
    },
  };
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

async function behavesLikeTheBytes(file: SourceFile) {
  expect(file.byteLength).toBe(bytes.byteLength);
  expect(new Uint8Array(await file.slice(10, 20))).toEqual(bytes.slice(10, 20));
  expect(new Uint8Array(await file.slice(-5))).toEqual(bytes.slice(-5));
  expect(new Uint8Array(await file.slice(299_990, 400_000))).toEqual(bytes.slice(299_990));
  expect((await file.slice(500_000)).byteLength).toBe(0);
  expect(await collect(file.stream())).toEqual(bytes);
  expect(await collect(file.stream(123_456))).toEqual(bytes.slice(123_456));
  expect(await collect(file.stream(bytes.byteLength))).toEqual(new Uint8Array(0));
  expect(new Uint8Array(await readFile(await file.localPath(dir)))).toEqual(bytes);
}

describe('SourceFile implementations agree', () => {
  it('in memory', async () => {
    await behavesLikeTheBytes(bytesSourceFile(bytes, 'x.bin'));
  });
  it('local file', async () => {
    const path = join(dir, 'local.bin');
    await writeFile(path, bytes);
    const file = await localSourceFile(path, 'roads.bin');
    expect(file.name).toBe('roads.bin');
    await behavesLikeTheBytes(file);
    expect(await file.localPath(dir)).toBe(path);
  });
  it('blob', async () => {
    const fake = fakeBlob(bytes);
    await behavesLikeTheBytes(await blobSourceFile(fake.blob, { name: 'inbox/roads.bin' }));
  });
});

describe('blob-backed SourceFile', () => {
  it('makes every request conditional on the etag, and streams with one ranged request', async () => {
    const fake = fakeBlob(bytes);
    const file = await blobSourceFile(fake.blob, {
      name: 'roads.geojson',
      size: bytes.byteLength,
      etag: '"0xABC"',
    });
    await collect(file.stream(1000));
    await file.slice(0, 10);
    expect(fake.requests[0]).toEqual({ offset: 1000, count: bytes.byteLength - 1000, ifMatch: '"0xABC"' });
    expect(fake.requests.every((r) => r.ifMatch === '"0xABC"')).toBe(true);
  });

  it('downloads once for localPath, however often it is asked', async () => {
    const fake = fakeBlob(bytes);
    const file = await blobSourceFile(fake.blob, { name: '../../etc/passwd' });
    const [a, b] = await Promise.all([file.localPath(dir), file.localPath(dir)]);
    expect(a).toBe(b);
    expect(a.startsWith(dir)).toBe(true);
    expect(fake.requests).toHaveLength(1);
  });

  it('a replaced blob (HTTP 412) fails loudly, naming the blob without its SAS, and leaves no partial file', async () => {
    const fake = fakeBlob(bytes);
    const file = await blobSourceFile(fake.blob, { name: 'roads.geojson' });
    fake.fail(412);
    const err = await collect(file.stream()).catch((e) => e);
    expect(err).toBeInstanceOf(BlobReadError);
    expect(err.message).toContain('changed while it was being read');
    expect(err.message).not.toContain('SECRET');
    await expect(file.localPath(dir)).rejects.toBeInstanceOf(BlobReadError);
  });
});
