/**
 * Reading a JSON request body within a byte limit. A declared `Content-Length` over the limit is answered 413
 * before the body is touched; a body without one (chunked) is measured before it is decoded. The bytes must be
 * UTF-8 (invalid sequences are a 400, not silently replaced) and JSON. The Functions host has already refused
 * anything over its own limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, 100 MB), so what reaches the app is bounded;
 * this keeps each operation to what it needs.
 */
import { type ApiErrorResponse, BODY_FIELD, payloadTooLarge, validationError } from './errors.js';
import { parseJsonBody, type Resolution } from './schemas.js';

/** What the reader needs of a request: structurally the `HttpRequest` of @azure/functions. */
export interface RequestWithBody {
  readonly headers: { get(name: string): string | null };
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type BodyRead = { ok: true; value: unknown } | { ok: false; response: ApiErrorResponse };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes body bytes as UTF-8 (an invalid sequence is a field error) and parses them as JSON. */
export function parseJsonBytes(bytes: Uint8Array): Resolution<unknown> {
  let decoded: string;
  try {
    decoded = strictUtf8.decode(bytes);
  } catch {
    return { ok: false, errors: [{ field: BODY_FIELD, reason: 'is not valid UTF-8' }] };
  }
  return parseJsonBody(decoded);
}

/** Reads and parses the body of `request`, refusing more than `limitBytes` (413) and invalid JSON (400). */
export async function readJsonBody(request: RequestWithBody, limitBytes: number): Promise<BodyRead> {
  const declared = Number(request.headers.get('content-length') ?? '');
  if (Number.isFinite(declared) && declared > limitBytes) {
    return { ok: false, response: payloadTooLarge(limitBytes) };
  }
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.byteLength > limitBytes) return { ok: false, response: payloadTooLarge(limitBytes) };
  const parsed = parseJsonBytes(bytes);
  return parsed.ok ? parsed : { ok: false, response: validationError(parsed.errors) };
}
