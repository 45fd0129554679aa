/**
 * One of a run's outbox documents as an HTTP download: which documents there are (the keys of
 * `MatchOutputs`, named in shared/workflow/outboxNames.ts, so a document added there is served here too), the
 * file name a browser saves it under (`roads.results.parquet`: the input's stem, then the document's own
 * name), its content type, and the byte range one response carries. The Functions worker buffers a response
 * body whole before handing it to the host (@azure/functions `toRpcHttp`: `await response.arrayBuffer()`,
 * unless HTTP streaming is enabled), so one response is bounded by `OUTPUT_RESPONSE_MAX_BYTES`; a larger
 * document is fetched in parts with `Range` (RFC 9110 §14), which the results page does. Pure.
 */
import type { FieldError } from '../api/errors.js';
import { outboxBlobNames } from '../workflow/outboxNames.js';
import type { MatchOutputs, MatchSource } from '../workflow/types.js';

export type OutputDocument = keyof Required<MatchOutputs>;

/** Most bytes of a document one response carries (whole, or one `Range` part). */
export const OUTPUT_RESPONSE_MAX_BYTES = 32 * 1024 * 1024;

/** Every document a run may have, in the order `outboxBlobNames` lists them, then the enriched output. */
export const OUTPUT_DOCUMENTS = [
  ...Object.keys(outboxBlobNames({ nameKey: 'n', run: 'r' })),
  'matched',
] as readonly OutputDocument[];

export function isOutputDocument(name: string): name is OutputDocument {
  return (OUTPUT_DOCUMENTS as readonly string[]).includes(name);
}

const CONTENT_TYPES: Record<string, string> = {
  parquet: 'application/vnd.apache.parquet',
  json: 'application/json; charset=utf-8',
  geojson: 'application/geo+json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  fgb: 'application/octet-stream',
  gpkg: 'application/geopackage+sqlite3',
  zip: 'application/zip',
};

/** The content type of an outbox blob, by its extension. */
export function contentTypeFor(blobName: string): string {
  const extension = /\.([A-Za-z0-9]+)$/.exec(blobName)?.[1]?.toLowerCase() ?? '';
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}

/** `roads/2026/my roads.parquet` + `…/results.parquet` → `my roads.results.parquet`. */
export function downloadFileName(source: MatchSource, blobName: string): string {
  const name = String(source.kind === 'inbox' ? source.blobName : source.filename);
  const last = name.split(/[\\/]/).pop() ?? '';
  const dot = last.lastIndexOf('.');
  const stem = (dot > 0 ? last.slice(0, dot) : last).replace(/[\p{Cc}\p{Cs}]/gu, '').slice(0, 100) || 'match';
  return `${stem}.${blobName.split('/').pop()}`;
}

/**
 * `attachment` with an ASCII `filename` (quotes, backslashes and anything outside printable ASCII replaced)
 * and, when the name is not plain ASCII, the exact name as `filename*` (RFC 6266 §4.3, RFC 8187).
 */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  if (ascii === fileName) return `attachment; filename="${ascii}"`;
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** What one response for a document of `size` bytes carries. */
export type OutputSlice =
  | { status: 200; start: 0; end: number }
  /** `end` inclusive, as in `Content-Range`; at most `OUTPUT_RESPONSE_MAX_BYTES` long. */
  | { status: 206; start: number; end: number }
  | { status: 416 }
  | { status: 400; errors: FieldError[] };

const SINGLE_RANGE = /^bytes=(\d*)-(\d*)$/;
/** Longest `Range` header read: `bytes=` and two 16-digit offsets, with room for spaces. */
export const RANGE_HEADER_MAX_LENGTH = 48;

/**
 * The part of the document to send for a `Range` header (or none). One range only: `bytes=a-b`, `bytes=a-`,
 * `bytes=-n`. A range longer than the bound is cut to it, which a 206 may do (RFC 9110 §15.3.7: the
 * `Content-Range` says what was sent). Without a range, a document over the bound is a 400 naming `Range`.
 */
export function planOutputSlice(
  size: number,
  range: string | null,
  maxBytes = OUTPUT_RESPONSE_MAX_BYTES,
): OutputSlice {
  const header = range?.trim() ?? '';
  if (header === '') {
    if (size <= maxBytes) return { status: 200, start: 0, end: Math.max(0, size - 1) };
    return {
      status: 400,
      errors: [
        {
          field: 'Range',
          reason: `is required for this document: it is ${size} bytes and one response carries at most ${maxBytes}; ask for parts with "Range: bytes=0-${maxBytes - 1}" and so on`,
        },
      ],
    };
  }
  const match =
    header.length > RANGE_HEADER_MAX_LENGTH ? null : SINGLE_RANGE.exec(header.replace(/\s+/g, ''));
  if (!match || (match[1] === '' && match[2] === '')) {
    return {
      status: 400,
      errors: [
        {
          field: 'Range',
          reason: 'must be one byte range: "bytes=<first>-<last>", "bytes=<first>-" or "bytes=-<length>"',
        },
      ],
    };
  }
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return { status: 416 };
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (start >= size || end < start) return { status: 416 };
  }
  return { status: 206, start, end: Math.min(end, start + maxBytes - 1) };
}
