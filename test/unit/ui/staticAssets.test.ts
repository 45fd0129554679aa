// The results page's files as HTTP answers (shared/ui/staticAssets.ts), on a page written the way
// scripts/buildWeb.js writes one: only names in manifest.json are served, whatever the path tries; each
// answer has its content type, the page's security headers, a year's caching for content-hashed assets and
// revalidation for index.html, the precompressed copy the browser accepts, and a 304 for the version it has.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  acceptedEncodings,
  PAGE_SECURITY_HEADERS,
  StaticSite,
  WEB_MANIFEST,
  type WebManifest,
} from '../../../shared/ui/staticAssets.js';

const parent = mkdtempSync(join(tmpdir(), 'gem-flow-static-'));
afterAll(() => rm(parent, { recursive: true, force: true }));
const root = join(parent, 'web');
mkdirSync(join(root, 'assets'), { recursive: true });
const INDEX = '<!doctype html><title>gem-flow</title>';
const SCRIPT = 'console.log("page");'.repeat(100);
writeFileSync(join(root, 'index.html'), INDEX);
writeFileSync(join(root, 'assets', 'main-ABC.js'), SCRIPT);
writeFileSync(join(root, 'assets', 'main-ABC.js.gz'), gzipSync(SCRIPT));
writeFileSync(join(root, 'assets', 'main-ABC.js.br'), 'brotli bytes');
writeFileSync(join(root, 'assets', 'unlisted.js'), 'not in the manifest');
// A file beside the page that no path may reach.
writeFileSync(join(parent, 'secret.txt'), 'outside the page');
const manifest: WebManifest = {
  version: 1,
  index: 'index.html',
  files: {
    'index.html': {
      contentType: 'text/html; charset=utf-8',
      etag: '"idx"',
      immutable: false,
      encodings: [],
      bytes: INDEX.length,
    },
    'assets/main-ABC.js': {
      contentType: 'text/javascript; charset=utf-8',
      etag: '"js1"',
      immutable: true,
      encodings: ['br', 'gzip'],
      bytes: SCRIPT.length,
    },
  },
};
writeFileSync(join(root, WEB_MANIFEST), JSON.stringify(manifest));

const site = new StaticSite(root);
const get = (
  path: string,
  extra: { acceptEncoding?: string; ifNoneMatch?: string; headOnly?: boolean } = {},
) =>
  site.respond({
    path,
    acceptEncoding: extra.acceptEncoding ?? null,
    ifNoneMatch: extra.ifNoneMatch ?? null,
    headOnly: extra.headOnly ?? false,
  });
const text = (body: Uint8Array | undefined) => new TextDecoder().decode(body);

describe('the files served', () => {
  it('serves index.html for the bare route, revalidated on every visit', async () => {
    for (const path of ['', '/', 'index.html']) {
      const answer = await get(path);
      expect(answer.status, path).toBe(200);
      expect(text(answer.body)).toBe(INDEX);
      expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(answer.headers['cache-control']).toBe('no-cache');
      expect(answer.headers.etag).toBe('"idx"');
    }
  });

  it('caches content-hashed assets for a year', async () => {
    const answer = await get('assets/main-ABC.js');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(text(answer.body)).toBe(SCRIPT);
  });

  it('carries the security headers on every answer, the 404 included', async () => {
    for (const path of ['', 'assets/main-ABC.js', 'nothing-here']) {
      const answer = await get(path);
      expect(answer.headers).toMatchObject(PAGE_SECURITY_HEADERS);
      expect(answer.headers['content-security-policy']).toContain("script-src 'self'");
      expect(answer.headers['content-security-policy']).toContain("connect-src 'self'");
      expect(answer.headers['content-security-policy']).not.toContain('unsafe-inline');
    }
  });

  it('serves nothing the manifest does not name, whatever the path tries', async () => {
    const attempts = [
      'manifest.json',
      'assets/unlisted.js',
      'assets/main-ABC.js.gz',
      '../secret.txt',
      '..%2Fsecret.txt',
      'assets/../../secret.txt',
      'assets/../index.html',
      '/etc/passwd',
      `${parent}/secret.txt`,
      'assets\\..\\..\\secret.txt',
      'index.html\u0000.js',
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'ASSETS/MAIN-ABC.JS',
    ];
    for (const path of attempts) {
      const answer = await get(path);
      expect(answer.status, path).toBe(404);
      expect(answer.headers['content-type'], path).toBe('text/plain; charset=utf-8');
      expect(answer.headers['cache-control'], path).toBe('no-store');
      expect(text(answer.body), path).toBe(
        'The results page has no such file. Open /api/ui/ for the page.\n',
      );
    }
  });

  it('answers 503 with the remedy when the page was not built, and finds it once it is', async () => {
    const later = join(parent, 'later');
    const unbuilt = new StaticSite(later);
    const answer = await unbuilt.respond({ path: '', acceptEncoding: null, ifNoneMatch: null });
    expect(answer.status).toBe(503);
    expect(text(answer.body)).toContain('npm run build');
    mkdirSync(later);
    writeFileSync(join(later, 'index.html'), INDEX);
    writeFileSync(join(later, WEB_MANIFEST), JSON.stringify(manifest));
    expect((await unbuilt.respond({ path: '', acceptEncoding: null, ifNoneMatch: null })).status).toBe(200);
  });

  it('refuses a manifest of another version', async () => {
    const other = join(parent, 'other');
    mkdirSync(other);
    writeFileSync(join(other, WEB_MANIFEST), JSON.stringify({ ...manifest, version: 2 }));
    await expect(
      new StaticSite(other).respond({ path: '', acceptEncoding: null, ifNoneMatch: null }),
    ).rejects.toThrow(/not a version 1 page manifest/);
  });
});

describe('compression and revalidation', () => {
  it('prefers Brotli, then gzip, honouring q=0 and *', () => {
    expect(acceptedEncodings('gzip, deflate, br')).toEqual(['br', 'gzip']);
    expect(acceptedEncodings('gzip')).toEqual(['gzip']);
    expect(acceptedEncodings('br;q=0, gzip;q=0.5')).toEqual(['gzip']);
    expect(acceptedEncodings('*')).toEqual(['br', 'gzip']);
    expect(acceptedEncodings('*;q=0')).toEqual([]);
    expect(acceptedEncodings('identity')).toEqual([]);
    expect(acceptedEncodings(null)).toEqual([]);
  });

  it('sends the precompressed copy with its own etag and Vary', async () => {
    const gz = await get('assets/main-ABC.js', { acceptEncoding: 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.etag).toBe('"js1-gzip"');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(Buffer.from(gz.body!).equals(gzipSync(SCRIPT))).toBe(true);
    const br = await get('assets/main-ABC.js', { acceptEncoding: 'br, gzip' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(text(br.body)).toBe('brotli bytes');
    // index.html has no copies: sent as is whatever the browser accepts.
    const index = await get('', { acceptEncoding: 'br, gzip' });
    expect(index.headers['content-encoding']).toBeUndefined();
  });

  it('answers 304 without a body for the version the browser has, and 200 for another', async () => {
    const same = await get('assets/main-ABC.js', { acceptEncoding: 'gzip', ifNoneMatch: '"js1-gzip"' });
    expect(same.status).toBe(304);
    expect(same.body).toBeUndefined();
    expect((await get('', { ifNoneMatch: 'W/"idx"' })).status).toBe(304);
    expect((await get('', { ifNoneMatch: '"old", "idx"' })).status).toBe(304);
    expect(
      (await get('assets/main-ABC.js', { acceptEncoding: 'br', ifNoneMatch: '"js1-gzip"' })).status,
    ).toBe(200);
  });

  it('answers HEAD with the headers only', async () => {
    const head = await get('assets/main-ABC.js', { headOnly: true });
    expect(head.status).toBe(200);
    expect(head.body).toBeUndefined();
    expect(head.headers['content-type']).toBe('text/javascript; charset=utf-8');
  });
});
