/**
 * The typed errors a TomTom call can end in, one class per cause a user can act on (a refused API key, an
 * expired or invalid token, a product missing from the key, throttling, a bad request, a service failure),
 * each carrying the request id, the status and the remedy. Bodies and headers are scrubbed of credentials
 * before they reach an error (shared/tomtom/failures.ts).
 */
import type { TokenCredentialKind } from '../config.js';
import { GemFlowError } from '../errors.js';

/** Which of the two credentials TomTom refused, when the response says so. */
export type RefusedCredential = 'api-key' | 'access-token' | 'unknown';

export interface TomTomErrorDetails {
  /** What the client was doing, e.g. "GEM create job". */
  readonly operation: string;
  readonly status?: number;
  /** `code` from the response body, when it had one. */
  readonly serviceCode?: string;
  /** Message from the response body, with any credential that was sent scrubbed out. */
  readonly serviceMessage?: string;
  readonly requestId?: string;
  readonly cause?: unknown;
}

/** Any failed call to TomTom (PDG, GEM) or its Vault. */
export class TomTomApiError extends GemFlowError {
  readonly code: string = 'TomTomApiError';
  readonly operation: string;
  readonly status: number | undefined;
  readonly serviceCode: string | undefined;
  readonly serviceMessage: string | undefined;
  readonly requestId: string | undefined;

  constructor(summary: string, details: TomTomErrorDetails, remedy?: string) {
    const said = details.serviceMessage ? ` TomTom said: "${details.serviceMessage}".` : '';
    const context = [
      details.status === undefined ? undefined : `HTTP ${details.status}`,
      details.requestId ? `request id ${details.requestId}` : undefined,
    ].filter(Boolean);
    super(`${details.operation}: ${summary}.${said}${context.length ? ` (${context.join(', ')})` : ''}`, {
      cause: details.cause,
      remedy,
    });
    this.operation = details.operation;
    this.status = details.status;
    this.serviceCode = details.serviceCode;
    this.serviceMessage = details.serviceMessage;
    this.requestId = details.requestId;
  }
}

/** Where the bearer token came from, so a remedy can say what clears a refusal of it. */
export interface TokenHint {
  readonly kind: TokenCredentialKind;
  /** E.g. `managed identity 1234… for scope https://gem.core.orbis.tomtom.com/.default`. */
  readonly source: string;
}

/**
 * What clears a refused managed-identity token. The platform's back end caches each identity's token per
 * resource for about 24 hours and cannot be told to issue another before it expires
 * (https://learn.microsoft.com/azure/app-service/overview-managed-identity#configure-target-resource; the
 * same limit in https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/managed-identity-best-practice-recommendations#limitation-of-using-managed-identities-for-authorization).
 * A new identity has no cached token, so it is the only way to present a new one at once.
 */
const MANAGED_IDENTITY_CACHE_NOTE =
  'The managed-identity endpoint serves the token it has cached for this resource (up to about 24 hours) and cannot be made to issue another, so gem-flow does not resend it, and restarting the app does not help: the cache is in the platform, not in the app.';
const NEW_IDENTITY_NOTE =
  'To present a new token at once, give the app a new user-assigned identity that TomTom has registered and set AZURE_CLIENT_ID to its client id.';

function expiredTokenRemedy(token: TokenHint): string {
  if (token.kind === 'developer') {
    return `Sign in again (az login, or azd auth login); the next request fetches the new token (${token.source}). Also check this machine's clock.`;
  }
  return [
    MANAGED_IDENTITY_CACHE_NOTE,
    `TomTom calls a token expired that Azure still serves (${token.source}): a clock difference or a revocation at TomTom; ask TomTom, or wait for the platform's next token, at the latest when this one expires.`,
    NEW_IDENTITY_NOTE,
  ].join(' ');
}

function invalidTokenRemedy(token: TokenHint): string {
  if (token.kind === 'developer') {
    return `Check the token is issued for the right scope and account (${token.source}); after a change, sign in again with az login.`;
  }
  return [
    `Check GEM_TOKEN_SCOPE and that TomTom has registered this identity's object id and tenant (${token.source}); a registration at TomTom applies to the next request.`,
    MANAGED_IDENTITY_CACHE_NOTE,
    "A fix that changes the token itself (an app role assignment or group membership of the identity) reaches the app only with the platform's next token, up to about 24 hours later.",
    NEW_IDENTITY_NOTE,
  ].join(' ');
}

/**
 * 401 after the client re-read the API key and, where the credential can give one, asked for a new token
 * (a managed identity cannot: see `AppTokenCredential`).
 */
export class TomTomUnauthorizedError extends TomTomApiError {
  override readonly code: string = 'Unauthorized';
  readonly refusedCredential: RefusedCredential;

  constructor(
    details: TomTomErrorDetails,
    refused: RefusedCredential = 'unknown',
    summary?: string,
    remedy?: string,
  ) {
    super(
      summary ?? 'TomTom refused the credentials (the API key or the bearer token)',
      details,
      remedy ??
        'Check the API key (my.tomtom.com → Keys; TOMTOM_API_KEY or the Key Vault secret) and that the identity can get a token for GEM_TOKEN_SCOPE that TomTom accepts.',
    );
    this.refusedCredential = refused;
  }
}

/** Auth table: 401, invalid or missing API key. */
export class InvalidApiKeyError extends TomTomUnauthorizedError {
  override readonly code = 'InvalidApiKey';

  constructor(details: TomTomErrorDetails, keySource: string) {
    super(
      details,
      'api-key',
      'TomTom refused the API key as invalid or missing',
      `Verify the key (${keySource}): copy it again from my.tomtom.com → Keys → API & SDK Keys, and check the key is active.`,
    );
  }
}

/** Auth table: 401, expired authorization token. */
export class ExpiredAccessTokenError extends TomTomUnauthorizedError {
  override readonly code = 'ExpiredAccessToken';

  constructor(details: TomTomErrorDetails, token: TokenHint) {
    super(details, 'access-token', 'TomTom refused the bearer token as expired', expiredTokenRemedy(token));
  }
}

/** Auth table: 401, invalid authorization token. */
export class InvalidAccessTokenError extends TomTomUnauthorizedError {
  override readonly code = 'InvalidAccessToken';

  constructor(details: TomTomErrorDetails, token: TokenHint) {
    super(details, 'access-token', 'TomTom refused the bearer token as invalid', invalidTokenRemedy(token));
  }
}

/** 403: the request was understood and refused; never retried. */
export class TomTomForbiddenError extends TomTomApiError {
  override readonly code: string = 'Forbidden';

  constructor(details: TomTomErrorDetails, summary?: string, remedy?: string) {
    super(
      summary ?? 'TomTom denied access',
      details,
      remedy ??
        'Either the API key lacks the "Orbis Private Data Gateway API" and "Orbis GEM API" products (enable them at my.tomtom.com → Keys), or the identity has no access to this storage or project (ask your TomTom project administrator).',
    );
  }
}

/** Auth table: 403, API key lacks required permissions. */
export class ApiKeyProductsMissingError extends TomTomForbiddenError {
  override readonly code = 'ApiKeyProductsMissing';

  constructor(details: TomTomErrorDetails) {
    super(
      details,
      'The API key is not enabled for the GEM APIs',
      'Enable both products "Orbis Private Data Gateway API" and "Orbis GEM API" on the key at my.tomtom.com → Keys → API & SDK Keys.',
    );
  }
}

/** Auth table: 403, user not authorized for resource. */
export class ResourceAccessDeniedError extends TomTomForbiddenError {
  override readonly code = 'ResourceAccessDenied';

  constructor(details: TomTomErrorDetails) {
    super(
      details,
      'The identity is not authorized for this storage or project',
      'Check the project and storage permissions: the signed-in user or managed identity needs READ_WRITE access to the storage in a TomTom project with GEM enabled (ask your TomTom administrator).',
    );
  }
}

export class TomTomBadRequestError extends TomTomApiError {
  override readonly code = 'BadRequest';
}

export class TomTomNotFoundError extends TomTomApiError {
  override readonly code = 'NotFound';
}

/** 429 that outlasted the retries (or a create-job 429 without Retry-After, or one not retried on purpose). */
export class TomTomThrottledError extends TomTomApiError {
  override readonly code = 'Throttled';
  constructor(
    summary: string,
    details: TomTomErrorDetails,
    remedy?: string,
    /** How long the response's `Retry-After` asked to wait, when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(summary, details, remedy);
  }
}

/** 5xx that outlasted the retries (or on a request that is never retried). */
export class TomTomServiceError extends TomTomApiError {
  override readonly code = 'ServiceError';
}

/** No response at all: DNS, connection, TLS or timeout. */
export class TomTomNetworkError extends TomTomApiError {
  override readonly code = 'NetworkError';
}

/** A 2xx response whose body is not what the API documents. */
export class TomTomResponseError extends TomTomApiError {
  override readonly code = 'UnexpectedResponse';
}

/** Vault refused to unwrap the storage credentials, or returned an unusable payload. */
export class VaultUnwrapError extends TomTomApiError {
  override readonly code = 'VaultUnwrapFailed';

  constructor(summary: string, details: TomTomErrorDetails) {
    super(
      summary,
      details,
      'A wrapped token can be unwrapped only once and expires: request fresh credentials (getStorageCredentials) and unwrap them immediately, exactly once.',
    );
  }
}

/** A create-job request that would be rejected; caught before anything is sent. */
export class JobRequestValidationError extends GemFlowError {
  readonly code = 'InvalidJobRequest';
  /** The request field at fault, as the GEM API names it (e.g. `overture_release`). */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`Invalid GEM job request: ${field} ${problem}.`);
    this.field = field;
  }
}
