/**
 * The HTTP API's error envelope: `{ error: { code, message, details? } }`. The builders return
 * `{ status, jsonBody }`, which is structurally an `HttpResponseInit`, so handlers return them unchanged and
 * every error a client sees has the same shape.
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
  };
}

export interface ApiErrorResponse {
  status: number;
  jsonBody: ErrorEnvelope;
}

export const BODY_FIELD = '(body)';

function envelope(status: number, code: string, message: string, details?: FieldError[]): ApiErrorResponse {
  return {
    status,
    jsonBody: { error: { code, message, ...(details && details.length > 0 ? { details } : {}) } },
  };
}

/** 400 ValidationFailed; the message names each offending field so a log line alone is useful. */
export function validationError(details: FieldError[]): ApiErrorResponse {
  const fields = [...new Set(details.map((detail) => detail.field))];
  const message =
    fields.length === 0
      ? 'The request is invalid.'
      : `The request is invalid: ${details.map((detail) => `${detail.field} ${detail.reason}`).join('; ')}.`;
  return envelope(400, 'ValidationFailed', message, details);
}

/** 404 NotFound, e.g. `notFound('match "match-0123…"')`. */
export function notFound(what: string): ApiErrorResponse {
  return envelope(404, 'NotFound', `No ${what} exists.`);
}

/** 409 Conflict: the request clashes with the current state of a resource. */
export function conflict(message: string, details?: FieldError[]): ApiErrorResponse {
  return envelope(409, 'Conflict', message, details);
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
