/**
 * Downloading an outbox document through `GET /api/matches/{id}/outputs/{document}` in parts: the route sends
 * at most a fixed number of bytes per response, so the page asks with `Range` and follows `Content-Range`
 * until it has the whole document. Pure helpers for the header arithmetic.
 */

/** Bytes the page asks for per request: the route's own bound (shared/results/outputDocuments.ts). */
export const PART_BYTES = 32 * 1024 * 1024;

export function rangeHeader(start: number, partBytes = PART_BYTES): string {
  return `bytes=${start}-${start + partBytes - 1}`;
}

/** `bytes 0-99/1234` → {start, end, size}; anything else → null. */
export function parseContentRange(
  header: string | null,
): { start: number; end: number; size: number } | null {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header?.trim() ?? '');
  if (!match) return null;
  const [start, end, size] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return end >= start && size > end ? { start, end, size } : null;
}

/** `attachment; filename="roads.results.parquet"; filename*=UTF-8''…` → the best name it gives. */
export function fileNameOf(disposition: string | null, fallback: string): string {
  const extended = /filename\*=UTF-8''([^;]+)/i.exec(disposition ?? '')?.[1];
  if (extended) {
    try {
      return decodeURIComponent(extended);
    } catch {
      // A malformed escape: use the plain name.
    }
  }
  return /filename="([^"]*)"/i.exec(disposition ?? '')?.[1] || fallback;
}
