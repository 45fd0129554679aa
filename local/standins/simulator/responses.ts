// Response values the handlers return. Handlers build plain values; only server.ts touches sockets,
// which keeps every handler testable without a network.

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON-serialisable body, or a string sent as text/plain. undefined = empty body. */
  body?: unknown;
  /** Why the simulator refused the request, for the request log; never sent. */
  refusal?: string;
}

export interface FieldError {
  field: string;
  reason: string;
}

/** TomTom gateway error shape, as shown on the API-authentication page. */
export function tomtomError(
  status: number,
  code: string,
  message: string,
  details?: FieldError[],
): SimResponse {
  return { status, body: { error: details ? { code, message, details } : { code, message } } };
}

export const INVALID_KEY_MESSAGE =
  'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.';

export const badRequest = (message: string, details?: FieldError[]): SimResponse =>
  tomtomError(400, 'BadRequest', message, details);
export const notFound = (message: string): SimResponse => tomtomError(404, 'NotFound', message);
export const forbidden = (message: string): SimResponse => tomtomError(403, 'Forbidden', message);
export const unauthorized = (message: string): SimResponse => tomtomError(401, 'Unauthorized', message);

/** HashiCorp Vault error shape (the unwrap route belongs to Vault, not TomTom). */
export function vaultError(status: number, message: string): SimResponse {
  return { status, body: { errors: [message] } };
}

export const json = (status: number, body: unknown, headers?: Record<string, string>): SimResponse => ({
  status,
  body,
  headers,
});

/** JSON.stringify that renders BigInt (hyparquet returns INT64 as bigint) as a decimal string. */
export function stringify(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}
