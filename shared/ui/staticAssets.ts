/**
 * The results page's files as HTTP responses. The build (scripts/buildWeb.js) writes the page into one
 * folder with a `manifest.json` naming every file, its content type, its hash and its precompressed copies;
 * only files the manifest names are served, so no request path can reach anything else. Each answer carries
 * the page's Content-Security-Policy (scripts, styles and data calls from this origin only, no inline script
 * or style, nothing may frame the page, no form may submit anywhere), long-lived caching for content-hashed
 * files and revalidation for `index.html`, the Brotli or gzip copy when the browser accepts one, and a 304
 * when the browser already has the version. Holds no data: nothing here reads settings, storage or the task
 * hub.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const WEB_MANIFEST = 'manifest.json';
export const WEB_MANIFEST_VERSION = 1;

export type ContentEncoding = 'br' | 'gzip';

export interface WebManifestEntry {
  contentType: string;
  /** Strong validator: a hash of the file's bytes, quoted. */
  etag: string;
  /** True for content-hashed names (cached for a year); false for `index.html` (revalidated). */
  immutable: boolean;
  /** Precompressed copies beside the file (`<name>.br`, `<name>.gz`). */
  encodings: ContentEncoding[];
  bytes: number;
}

export interface WebManifest {
  version: typeof WEB_MANIFEST_VERSION;
  /** The page's entry, served for an empty path. */
  index: string;
  files: Record<string, WebManifestEntry>;
}

/**
 * What the page may load and where it may send data. `img-src data:` is for the SVG icons inside the Swagger
 * UI and Leaflet stylesheets; `connect-src 'self'` keeps every data call on this app.
 */
export const PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every answer of the page carries, the 404 included. */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': PAGE_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export interface StaticRequest {
  /** The path under the page's route, e.g. `assets/main-3F2A.js`; empty for the page itself. */
  path: string;
  acceptEncoding: string | null;
  ifNoneMatch: string | null;
  /** HEAD: headers only. */
  headOnly?: boolean;
}

export interface StaticResponse {
  status: 200 | 304 | 404 | 503;
  headers: Record<string, string>;
  body?: Uint8Array;
}

/** The encodings the browser accepts, best first (`br` before `gzip`), honouring `q=0`. */
export function acceptedEncodings(header: string | null): ContentEncoding[] {
  const accepted = new Map<string, number>();
  for (const part of (header ?? '').split(',')) {
    const [token, ...params] = part.trim().toLowerCase().split(';');
    if (!token) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    accepted.set(token, q === undefined ? 1 : Number(q));
  }
  const wildcard = accepted.get('*');
  const ok = (name: ContentEncoding) => (accepted.get(name) ?? wildcard ?? 0) > 0;
  return (['br', 'gzip'] as const).filter(ok);
}

function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value === etag || value === `W/${etag}`;
  });
}

function plainText(status: 404 | 503, text: string): StaticResponse {
  return {
    status,
    headers: {
      ...PAGE_SECURITY_HEADERS,
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
    },
    body: new TextEncoder().encode(`${text}\n`),
  };
}

/** The page's files, read from `root` once each and kept (the whole page is a few megabytes). */
export class StaticSite {
  private manifest: Promise<WebManifest> | undefined;
  private readonly files = new Map<string, Promise<Uint8Array>>();

  constructor(private readonly root: string) {}

  async respond(request: StaticRequest): Promise<StaticResponse> {
    let manifest: WebManifest;
    try {
      manifest = await this.loadManifest();
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
      return plainText(
        503,
        'The results page is not part of this build (no manifest.json): run "npm run build".',
      );
    }
    const name = request.path.replace(/^\/+/, '') || manifest.index;
    const entry = Object.hasOwn(manifest.files, name) ? manifest.files[name] : undefined;
    if (!entry) return plainText(404, 'The results page has no such file. Open /api/ui/ for the page.');
    const encoding = acceptedEncodings(request.acceptEncoding).find((e) => entry.encodings.includes(e));
    const headers: Record<string, string> = {
      ...PAGE_SECURITY_HEADERS,
      'content-type': entry.contentType,
      'cache-control': entry.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag: encoding ? `"${entry.etag.slice(1, -1)}-${encoding}"` : entry.etag,
      vary: 'Accept-Encoding',
      ...(encoding ? { 'content-encoding': encoding } : {}),
    };
    if (etagMatches(request.ifNoneMatch, headers.etag!)) return { status: 304, headers };
    if (request.headOnly) return { status: 200, headers };
    const file = encoding ? `${name}.${encoding === 'br' ? 'br' : 'gz'}` : name;
    return { status: 200, headers, body: await this.read(file) };
  }

  private loadManifest(): Promise<WebManifest> {
    this.manifest ??= readFile(join(this.root, WEB_MANIFEST), 'utf8').then((text) => {
      const manifest = JSON.parse(text) as WebManifest;
      if (manifest.version !== WEB_MANIFEST_VERSION || typeof manifest.files !== 'object') {
        throw new Error(
          `${join(this.root, WEB_MANIFEST)} is not a version ${WEB_MANIFEST_VERSION} page manifest.`,
        );
      }
      return manifest;
    });
    this.manifest.catch(() => {
      this.manifest = undefined; // a page still being built is read again next time
    });
    return this.manifest;
  }

  private read(file: string): Promise<Uint8Array> {
    let bytes = this.files.get(file);
    if (!bytes) {
      bytes = readFile(join(this.root, file));
      bytes.catch(() => this.files.delete(file));
      this.files.set(file, bytes);
    }
    return bytes;
  }
}
