/**
 * What the Functions host's web server (Kestrel) refuses before any routing, key check or body read, and how it
 * turns the request target into the path routes are matched against. Limits are Kestrel's defaults
 * (dotnet/aspnetcore src/Servers/Kestrel/Core/src/KestrelServerLimits.cs: request line 8 KB → 414, headers
 * 32 KB or more than 100 of them → 431); the request target must be printable ASCII (Http1Connection.ParseTarget
 * reads it with GetAsciiStringNonNullCharacters, else 400); the Host header must be single and well formed
 * (Http1Connection.EnsureHostHeaderExists, else 400). The path is percent-decoded as Kestrel's UrlDecoder does
 * (src/Shared/UrlDecoder/UrlDecoder.cs): a valid UTF-8 escape sequence is decoded, `%2F` stays encoded, and a
 * malformed escape or an invalid, overlong or surrogate UTF-8 sequence is left as written — it reaches the
 * function as text, it is not an error — while an escaped NUL (`%00`) is refused with 400.
 */
import type { IncomingMessage } from 'node:http';

/** Kestrel's MaxRequestLineSize: method, target and version. */
export const MAX_REQUEST_LINE_BYTES = 8 * 1024;
/** Kestrel's MaxRequestHeadersTotalSize. */
export const MAX_REQUEST_HEADERS_BYTES = 32 * 1024;
/** Kestrel's MaxRequestHeaderCount. */
export const MAX_REQUEST_HEADER_COUNT = 100;
/** Node's own parser limit, set above Kestrel's so that these checks (and their status codes) decide. */
export const NODE_MAX_HEADER_SIZE = MAX_REQUEST_LINE_BYTES + MAX_REQUEST_HEADERS_BYTES;

export interface Refusal {
  status: 400 | 414 | 431;
  message: string;
}

/** Kestrel's HttpUtilities.IsHostHeaderValid, in short: a reg-name or IPv4, or a bracketed IPv6, and a port. */
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]*)(?::\d*)?$/;

/** Why Kestrel would refuse this request before the host sees it, or null. */
export function requestHeadRefusal(req: IncomingMessage): Refusal | null {
  const target = req.url ?? '/';
  const lineBytes = `${req.method ?? ''} ${target} HTTP/${req.httpVersion}`.length;
  if (lineBytes > MAX_REQUEST_LINE_BYTES) {
    return { status: 414, message: `The request line is longer than ${MAX_REQUEST_LINE_BYTES} bytes.` };
  }
  // Node hands over the target's bytes as Latin-1 characters, so this also catches raw UTF-8.
  if (/[^\x21-\x7e]/.test(target)) {
    return { status: 400, message: 'The request target must be printable ASCII (percent-encode the rest).' };
  }
  const raw = req.rawHeaders;
  if (raw.length / 2 > MAX_REQUEST_HEADER_COUNT) {
    return { status: 431, message: `More than ${MAX_REQUEST_HEADER_COUNT} request headers.` };
  }
  let headerBytes = 0;
  for (const part of raw) headerBytes += part.length + 2;
  if (headerBytes > MAX_REQUEST_HEADERS_BYTES) {
    return {
      status: 431,
      message: `The request headers are larger than ${MAX_REQUEST_HEADERS_BYTES} bytes.`,
    };
  }
  const hosts = raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === 'host').length;
  const host = req.headers.host ?? '';
  if (hosts > 1 || !HOST_HEADER.test(host)) {
    return { status: 400, message: 'The Host header is missing, repeated or malformed.' };
  }
  return null;
}

/**
 * The absolute URL of the request: the Host header (already checked) or the listening address when it is
 * empty, and the target as sent. Parsed as one absolute string, so a target such as `//other/x` stays a path.
 */
export function requestUrl(req: IncomingMessage, fallbackHost: string): URL | null {
  const host = req.headers.host || fallbackHost;
  const absolute = `http://${host}${req.url ?? '/'}`;
  return URL.canParse(absolute) ? new URL(absolute) : null;
}

const hexValue = (text: string, at: number): number => {
  const pair = text.slice(at, at + 2);
  return /^[0-9A-Fa-f]{2}$/.test(pair) ? Number.parseInt(pair, 16) : -1;
};

/** The number of bytes a UTF-8 sequence starting with `lead` has, and the bits the lead carries; 0 if invalid. */
function utf8Lead(lead: number): { length: number; bits: number } {
  if (lead <= 0x7f) return { length: 1, bits: lead };
  if ((lead & 0xe0) === 0xc0) return { length: 2, bits: lead & 0x1f };
  if ((lead & 0xf0) === 0xe0) return { length: 3, bits: lead & 0x0f };
  if ((lead & 0xf8) === 0xf0) return { length: 4, bits: lead & 0x07 };
  return { length: 0, bits: 0 };
}

const MIN_CODE_POINT = [0, 0, 0x80, 0x800, 0x10000];

/**
 * The code point a run of escapes at `at` decodes to, as UrlDecoder accepts it: well-formed, shortest form, no
 * surrogate, at most U+10FFFF, and never `/` (`%2F`). Returns the code point and the characters it spans.
 */
function escapedCodePoint(path: string, at: number): { codePoint: number; span: number } | null {
  const lead = hexValue(path, at + 1);
  if (lead < 0 || lead === 0x2f) return null;
  const { length, bits } = utf8Lead(lead);
  if (length === 0) return null;
  let codePoint = bits;
  for (let i = 1; i < length; i++) {
    const at_i = at + 3 * i;
    const next = path[at_i] === '%' ? hexValue(path, at_i + 1) : -1;
    if (next < 0 || (next & 0xc0) !== 0x80) return null;
    codePoint = (codePoint << 6) | (next & 0x3f);
  }
  const surrogate = codePoint >= 0xd800 && codePoint <= 0xdfff;
  if (codePoint < MIN_CODE_POINT[length]! || surrogate || codePoint > 0x10ffff) return null;
  return { codePoint, span: 3 * length };
}

/**
 * `pathname` (still percent-encoded) as Kestrel decodes it for routing; null when it holds an escaped NUL, which
 * Kestrel refuses with 400. What does not decode stays as written, one escape at a time.
 */
export function decodeRequestPath(pathname: string): string | null {
  let decoded = '';
  let at = 0;
  while (at < pathname.length) {
    const percent = pathname.indexOf('%', at);
    if (percent === -1) return decoded + pathname.slice(at);
    decoded += pathname.slice(at, percent);
    const escaped = escapedCodePoint(pathname, percent);
    if (escaped?.codePoint === 0) return null;
    if (escaped) {
      decoded += String.fromCodePoint(escaped.codePoint);
      at = percent + escaped.span;
    } else {
      decoded += '%';
      at = percent + 1;
    }
  }
  return decoded;
}
