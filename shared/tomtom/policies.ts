/**
 * The core-rest-pipeline policies of the TomTom client: the `tomtom-api-key` header, the bearer token with a
 * refresh on refusal, `X-Version`, recovery from a 401 by re-reading both credentials once, and retries that
 * respect each operation's idempotency (a job is created again only after a 429). Names are exported as
 * core-rest-pipeline exports its own.
 */
import type { TokenCredential } from '@azure/core-auth';
import {
  bearerTokenAuthenticationPolicy,
  defaultRetryPolicy,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
  type PipelineRetryOptions,
  type RetryStrategy,
  retryPolicy,
} from '@azure/core-rest-pipeline';
import type { ApiKeyProvider } from '../auth/apiKeyProvider.js';

export const API_KEY_HEADER = 'tomtom-api-key';

/**
 * The policies' names, exported as core-rest-pipeline exports its own (`bearerTokenAuthenticationPolicyName`, …),
 * so a caller can position, replace or remove one (`pipeline.removePolicy({ name })`) without repeating a string.
 */
export const apiKeyPolicyName = 'tomtomApiKeyPolicy';
export const xVersionPolicyName = 'tomtomXVersionPolicy';
export const refreshableBearerTokenPolicyName = 'tomtomBearerTokenPolicy';
export const unauthorizedRecoveryPolicyName = 'tomtomUnauthorizedRecoveryPolicy';
export const retryByIdempotencyPolicyName = 'tomtomRetryByIdempotencyPolicy';

/** Adds the `tomtom-api-key` header, read from the provider on every attempt so a re-read key is used. */
export function apiKeyPolicy(apiKeyProvider: ApiKeyProvider): PipelinePolicy {
  return {
    name: apiKeyPolicyName,
    async sendRequest(request, next) {
      request.headers.set(API_KEY_HEADER, await apiKeyProvider.getApiKey());
      return next(request);
    },
  };
}

/** `X-Version: 1`, required by the older TomTom pages and ignored by the newer ones. */
export function xVersionPolicy(): PipelinePolicy {
  return {
    name: xVersionPolicyName,
    sendRequest(request, next) {
      request.headers.set('X-Version', '1');
      return next(request);
    },
  };
}

/** A credential that can be asked for a new token; `AppTokenCredential` is one. */
export interface RefreshableCredential extends TokenCredential {
  /** Changes when the credential can give a new token and pipelines should drop the one they hold. */
  readonly generation: number;
}

/**
 * `bearerTokenAuthenticationPolicy` (token cycling, refresh 2 minutes before expiry, HTTPS only), rebuilt
 * whenever the credential's `generation` changes. The library policy keeps its token in a private cycler;
 * a new policy instance is the only public way to drop that token after `requestNewToken()`.
 */
export function refreshableBearerTokenPolicy(options: {
  credential: RefreshableCredential;
  scopes: string | string[];
}): PipelinePolicy {
  const { credential, scopes } = options;
  let generation = credential.generation;
  let current = bearerTokenAuthenticationPolicy({ credential, scopes });
  return {
    name: refreshableBearerTokenPolicyName,
    sendRequest(request, next) {
      if (credential.generation !== generation) {
        generation = credential.generation;
        current = bearerTokenAuthenticationPolicy({ credential, scopes });
      }
      return current.sendRequest(request, next);
    },
  };
}

/**
 * On a 401, TomTom does not say up front which credential it refused, and either may simply be stale (a key
 * rotated in Key Vault, a developer who signed in again). So: re-read the API key and ask for a new token,
 * and send once more only if one of them can differ from what was refused. A managed identity cannot give
 * a new token on demand (`requestNewToken()` returns false), so with an unchanged key the refusal is
 * returned at once instead of repeated. A 401 means the request was refused, not executed, so resending is
 * safe even for create-job. A second 401 is returned to the caller, which turns it into a typed error.
 *
 * A 403 is not retried (it is a permission verdict), but the API key is still re-read next time, so a key
 * that was just given the missing products takes effect without a restart.
 */
export function unauthorizedRecoveryPolicy(options: {
  /** True when the next request will carry a token other than the refused one. */
  requestNewToken: () => boolean;
  apiKeyProvider: ApiKeyProvider;
}): PipelinePolicy {
  return {
    name: unauthorizedRecoveryPolicyName,
    async sendRequest(request, next) {
      const response = await next(request);
      if (response.status === 403) options.apiKeyProvider.invalidate();
      if (response.status !== 401) return response;
      // The Sign-phase policies set the refused credentials on this same request object.
      const refusedKey = request.headers.get(API_KEY_HEADER);
      options.apiKeyProvider.invalidate();
      const newToken = options.requestNewToken();
      const newKey = (await options.apiKeyProvider.getApiKey()) !== refusedKey;
      if (!newToken && !newKey) return response;
      // Frees the socket of a streamed response; a buffered body needs nothing.
      response.readableStreamBody?.resume();
      return next(request);
    },
  };
}

/**
 * How a request may be retried:
 * - `idempotent`: 429/503 honour Retry-After; 408, 5xx and network errors back off exponentially with jitter.
 * - `refusals-only`: only 429, honouring Retry-After. A 429 means the request was refused before it ran, so
 *   repeating it cannot create a second job; a 503 or 5xx may come after the backend acted, so it is not retried.
 * - `never`: sent once (e.g. the Vault unwrap, whose token works only once).
 */
export type RetryMode = 'idempotent' | 'refusals-only' | 'never';

const retryModes = new WeakMap<PipelineRequest, RetryMode>();

/** Overrides the retry mode derived from the method (safe methods are idempotent, others are never retried). */
export function setRetryMode(request: PipelineRequest, mode: RetryMode): PipelineRequest {
  retryModes.set(request, mode);
  return request;
}

export function retryModeOf(request: PipelineRequest): RetryMode {
  const explicit = retryModes.get(request);
  if (explicit) return explicit;
  return ['GET', 'HEAD', 'OPTIONS'].includes(request.method) ? 'idempotent' : 'never';
}

/** Milliseconds to wait per a `Retry-After` header (seconds or HTTP date); undefined when absent or bad. */
export function retryAfterMs(response: PipelineResponse, now: number = Date.now()): number | undefined {
  const header = response.headers.get('retry-after')?.trim();
  if (!header) return undefined;
  if (/^\d+(\.\d+)?$/.test(header)) return Number(header) * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

const RATE_LIMIT_REFUSAL_STRATEGY_NAME = 'tomtomRateLimitRefusalStrategy';

// The library's throttling strategy also retries 503, which is unsafe for a non-idempotent request.
function rateLimitRefusalStrategy(): RetryStrategy {
  return {
    name: RATE_LIMIT_REFUSAL_STRATEGY_NAME,
    retry({ response }) {
      const wait = response?.status === 429 ? retryAfterMs(response) : undefined;
      return wait === undefined ? { skipStrategy: true } : { retryAfterInMs: wait };
    },
  };
}

/**
 * Retries according to each request's `RetryMode`, delegating to core-rest-pipeline's `defaultRetryPolicy`
 * (throttling + exponential strategies) for idempotent requests.
 */
export function retryByIdempotencyPolicy(options: PipelineRetryOptions = {}): PipelinePolicy {
  const idempotent = defaultRetryPolicy(options);
  const refusalsOnly = retryPolicy([rateLimitRefusalStrategy()], { maxRetries: options.maxRetries ?? 3 });
  return {
    name: retryByIdempotencyPolicyName,
    sendRequest(request, next) {
      switch (retryModeOf(request)) {
        case 'idempotent':
          return idempotent.sendRequest(request, next);
        case 'refusals-only':
          return refusalsOnly.sendRequest(request, next);
        default:
          return next(request);
      }
    },
  };
}
