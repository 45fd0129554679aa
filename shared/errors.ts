/**
 * Base of every error gem-flow raises on purpose, and the few helpers every layer uses to read a caught one.
 * `code` is stable and machine-readable; `remedy` tells a person what to change. Messages never carry secrets:
 * subclasses are built from redacted inputs only, and URLs go into them through `safeUrl`.
 */
export abstract class GemFlowError extends Error {
  abstract readonly code: string;
  readonly remedy: string | undefined;

  constructor(message: string, options: { cause?: unknown; remedy?: string } = {}) {
    super(options.remedy ? `${message} ${options.remedy}` : message, { cause: options.cause });
    this.name = new.target.name;
    this.remedy = options.remedy;
  }
}

/**
 * The DurableClient's words for a 404 from getStatus: it throws a plain Error, with no status on it
 * (azure-functions-durable-js src/durableClient/DurableClient.ts, `getStatus`, `case 404`).
 */
const DURABLE_CLIENT_NOT_FOUND = /replied with HTTP 404 response/;

/**
 * True when a call failed because what it named does not exist: an Azure SDK `RestError` (Storage, Tables)
 * with `statusCode` 404, or the DurableClient's 404 error. An error with any other status code is not a 404,
 * whatever its message says (a request id or a port number may hold the digits).
 */
export function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { statusCode } = error as { statusCode?: unknown };
  if (statusCode !== undefined) return statusCode === 404;
  return error instanceof Error && DURABLE_CLIENT_NOT_FOUND.test(error.message);
}

/** The HTTP status an Azure SDK error carries (`RestError.statusCode`), or undefined for any other failure. */
export function statusCodeOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** What a caught value says: an error's message, or the value itself as text (a thrown string). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A URL fit for a message or a log: without its query string, where a SAS signature would be a secret. */
export function safeUrl(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
