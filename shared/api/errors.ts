/**
 * The HTTP API's error envelope: `{ error: { code, message, details?, omittedDetails? } }`. The builders return
 * `{ status, jsonBody }`, which is structurally an `HttpResponseInit`, so handlers return them unchanged and
 * every error a client sees has the same shape. The envelope is bounded whatever the request held: at most
 * `ERROR_LIMITS.details` field errors (the rest are counted), each field name and reason cut to a fixed length,
 * and no unpaired surrogate (which would make the JSON undecodable for strict clients).
 */
import type { z } from 'zod';

/** One problem with one request field. `field` is a dotted path (`callbackUrl`, `status[1]`), `(body)` for the whole body. */
export interface FieldError {
  field: string;
  reason: string;
}

export interface ErrorEnvelope {
  error: {
    /** Stable, machine-readable: ValidationFailed, NotFound, Conflict, Unauthorized, InternalError. */
    code: string;
    message: string;
    details?: FieldError[];
    /** How many further problems were found but not listed, when there were more than `ERROR_LIMITS.details`. */
    omittedDetails?: number;
  };
}

export interface ApiErrorResponse {
  status: number;
  jsonBody: ErrorEnvelope;
}

export const BODY_FIELD = '(body)';

/** What one error response may hold, so that its size does not depend on the request. */
export const ERROR_LIMITS = {
  /** Field errors listed; the rest are counted in `omittedDetails`. */
  details: 20,
  /** Characters of a field path (an unknown key is echoed as its path). */
  fieldLength: 200,
  /** Characters of a reason. */
  reasonLength: 500,
  /** Characters of a message built from other text (a not-found id, a conflict). */
  messageLength: 1_000,
} as const;

const UNPAIRED_SURROGATE = /\p{Cs}/gu;

/** `text` cut to `max` characters (marked with …) and with every unpaired surrogate replaced by U+FFFD. */
export function boundedText(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return cut.replace(UNPAIRED_SURROGATE, '\uFFFD');
}

function envelope(status: number, code: string, message: string, details?: FieldError[]): ApiErrorResponse {
  const listed = (details ?? []).slice(0, ERROR_LIMITS.details).map((detail) => ({
    field: boundedText(detail.field, ERROR_LIMITS.fieldLength),
    reason: boundedText(detail.reason, ERROR_LIMITS.reasonLength),
  }));
  const omitted = (details?.length ?? 0) - listed.length;
  return {
    status,
    jsonBody: {
      error: {
        code,
        message,
        ...(listed.length > 0 ? { details: listed } : {}),
        ...(omitted > 0 ? { omittedDetails: omitted } : {}),
      },
    },
  };
}

/**
 * 400 ValidationFailed; the message names each listed field so a log line alone is useful, and says how many
 * more problems there were when the list is cut.
 */
export function validationError(details: FieldError[]): ApiErrorResponse {
  const response = envelope(400, 'ValidationFailed', 'The request is invalid.', details);
  const { details: listed = [], omittedDetails = 0 } = response.jsonBody.error;
  if (listed.length > 0) {
    const more =
      omittedDetails > 0 ? `; and ${omittedDetails} more problem${omittedDetails === 1 ? '' : 's'}` : '';
    response.jsonBody.error.message = `The request is invalid: ${listed.map((detail) => `${detail.field} ${detail.reason}`).join('; ')}${more}.`;
  }
  return response;
}

/** 413 PayloadTooLarge: the body is larger than the operation accepts; nothing of it was parsed. */
export function payloadTooLarge(limitBytes: number): ApiErrorResponse {
  return envelope(
    413,
    'PayloadTooLarge',
    `The request body is larger than the ${limitBytes} bytes this operation accepts.`,
    [{ field: BODY_FIELD, reason: `must be at most ${limitBytes} bytes` }],
  );
}

/** 404 NotFound, e.g. `notFound('match "match-0123…"')`. */
export function notFound(what: string): ApiErrorResponse {
  return envelope(404, 'NotFound', boundedText(`No ${what} exists.`, ERROR_LIMITS.messageLength));
}

/** 409 Conflict: the request clashes with the current state of a resource. */
export function conflict(message: string, details?: FieldError[]): ApiErrorResponse {
  return envelope(409, 'Conflict', boundedText(message, ERROR_LIMITS.messageLength), details);
}

/** `['status', 1]` → `status[1]`; `['source', 'blobName']` → `source.blobName`; `[]` → `(body)`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return BODY_FIELD;
  return path.reduce<string>((joined, key) => {
    if (typeof key === 'number') return `${joined}[${key}]`;
    const name = String(key);
    return joined ? `${joined}.${name}` : name;
  }, '');
}

function article(expected: string): string {
  return /^[aeiou]/i.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function sizeReason(
  issue: { origin?: string; minimum?: unknown; maximum?: unknown },
  bound: 'min' | 'max',
): string {
  const limit = String(bound === 'min' ? issue.minimum : issue.maximum);
  const comparison = bound === 'min' ? 'at least' : 'at most';
  if (issue.origin === 'string') return `must be ${comparison} ${limit} characters long`;
  if (issue.origin === 'array' || issue.origin === 'set') return `must have ${comparison} ${limit} entries`;
  return `must be ${comparison} ${limit}`;
}

/** Turns zod issues into readable field errors; the schemas give format rules their own messages. */
export function fieldErrorsFromZod(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const field = fieldPath(issue.path);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          errors.push({ field: fieldPath([...issue.path, key]), reason: 'is not a known field' });
        }
        break;
      case 'invalid_type': {
        const missing =
          ('input' in issue && issue.input === undefined) || /received undefined$/.test(issue.message);
        if (missing) errors.push({ field, reason: 'is required' });
        else if (issue.path.length === 0) errors.push({ field, reason: `must be a JSON ${issue.expected}` });
        else errors.push({ field, reason: `must be ${article(issue.expected)}` });
        break;
      }
      case 'invalid_value':
        errors.push({ field, reason: `must be one of ${issue.values.map(String).join(', ')}` });
        break;
      case 'too_small':
        errors.push({ field, reason: sizeReason(issue, 'min') });
        break;
      case 'too_big':
        errors.push({ field, reason: sizeReason(issue, 'max') });
        break;
      default:
        errors.push({ field, reason: issue.message });
    }
  }
  return errors;
}
