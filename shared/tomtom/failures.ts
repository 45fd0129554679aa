/**
 * Turns a failed TomTom response into one of the typed errors of shared/tomtom/errors.ts: reads the error
 * body shapes TomTom's gateways and Vault return, decides which credential was refused, scrubs every
 * credential the request carried out of anything echoed back, and bounds what is kept.
 */
import type { PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import {
  ApiKeyProductsMissingError,
  ExpiredAccessTokenError,
  InvalidAccessTokenError,
  InvalidApiKeyError,
  ResourceAccessDeniedError,
  type TokenHint,
  TomTomApiError,
  TomTomBadRequestError,
  type TomTomErrorDetails,
  TomTomForbiddenError,
  TomTomNotFoundError,
  TomTomServiceError,
  TomTomThrottledError,
  TomTomUnauthorizedError,
} from './errors.js';
import { retryAfterMs } from './policies.js';

/** Headers that carry credentials; their values are scrubbed from anything echoed back into errors. */
export const CREDENTIAL_HEADERS = ['tomtom-api-key', 'authorization', 'x-vault-token'] as const;

const REQUEST_ID_HEADERS = ['x-ms-request-id', 'x-request-id', 'x-correlation-id'] as const;
const MAX_MESSAGE_LENGTH = 500;

/** Where the credentials come from, so error remedies can name the setting to fix. */
export interface CredentialHints {
  readonly apiKeySource: string;
  readonly token: TokenHint;
}

export interface ServiceErrorBody {
  readonly code?: string;
  readonly message?: string;
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim()) return value.trim();
  if (typeof value === 'number') return String(value);
  return undefined;
}

function fromErrorObject(value: unknown): ServiceErrorBody | undefined {
  if (typeof value === 'string') return { message: value };
  if (!value || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  return {
    code: asText(record.code) ?? asText(record.error),
    message: asText(record.message) ?? asText(record.error_description) ?? asText(record.detail),
  };
}

/**
 * Reads the error bodies seen in the wild: `{"error":{code,message}}` (Azure API Management, TomTom's
 * documented example), `{"detailedError":{code,message}}` (other TomTom gateways), Vault's `{"errors":[…]}`,
 * OAuth's `{"error":"…","error_description":"…"}`, a flat `{code,message}`, or plain text.
 */
export function parseServiceErrorBody(bodyText: string | undefined): ServiceErrorBody {
  const text = bodyText?.trim();
  if (!text) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { message: text };
  }
  if (!json || typeof json !== 'object') return { message: asText(json) ?? text };
  const body = json as Record<string, unknown>;
  if (body.detailedError) return fromErrorObject(body.detailedError) ?? {};
  if (body.error && typeof body.error === 'object') return fromErrorObject(body.error) ?? {};
  if (Array.isArray(body.errors)) {
    const messages = body.errors.map((entry) => fromErrorObject(entry)?.message).filter(Boolean);
    return { message: messages.join('; ') || undefined };
  }
  return fromErrorObject(body) ?? {};
}

/** Removes every credential sent with `request` from `text`, and bounds its length. */
export function scrubCredentials(text: string, request: PipelineRequest): string {
  let scrubbed = text;
  for (const header of CREDENTIAL_HEADERS) {
    const value = request.headers.get(header);
    if (!value) continue;
    for (const secret of [value, value.replace(/^Bearer\s+/i, '')]) {
      if (secret.length >= 6) scrubbed = scrubbed.split(secret).join('[redacted]');
    }
  }
  return scrubbed.length > MAX_MESSAGE_LENGTH ? `${scrubbed.slice(0, MAX_MESSAGE_LENGTH)}…` : scrubbed;
}

export function requestIdOf(response: PipelineResponse | undefined): string | undefined {
  if (!response) return undefined;
  for (const header of REQUEST_ID_HEADERS) {
    const value = response.headers.get(header);
    if (value) return value;
  }
  return undefined;
}

export function describeResponse(
  operation: string,
  request: PipelineRequest,
  response: PipelineResponse,
): TomTomErrorDetails {
  const body = parseServiceErrorBody(response.bodyAsText ?? undefined);
  return {
    operation,
    status: response.status,
    serviceCode: body.code ? scrubCredentials(body.code, request) : undefined,
    serviceMessage: body.message ? scrubCredentials(body.message, request) : undefined,
    requestId: requestIdOf(response),
  };
}

const MENTIONS_API_KEY = /subscription key|api[\s_-]?key|apikey/i;
const MENTIONS_EXPIRY = /expired|lifetime validation|token_expired/i;
const MENTIONS_TOKEN = /token|bearer|jwt|signature|audience|issuer|authori[sz]ation header/i;
const MENTIONS_PRODUCTS = /api[\s_-]?key|subscription|product|not enabled|inactive/i;
const MENTIONS_RESOURCE = /storage|project|resource|permission|role|not authori[sz]ed|access/i;

/** Maps a non-2xx TomTom response to the typed error that says what went wrong and what to do. */
export function classifyFailure(
  operation: string,
  request: PipelineRequest,
  response: PipelineResponse,
  hints: CredentialHints,
): TomTomApiError {
  const details = describeResponse(operation, request, response);
  // RFC 6750 puts the bearer verdict in WWW-Authenticate (error="invalid_token", error_description=…).
  const evidence = [details.serviceCode, details.serviceMessage, response.headers.get('www-authenticate')]
    .filter(Boolean)
    .join(' ');

  switch (response.status) {
    case 401:
      if (MENTIONS_API_KEY.test(evidence)) return new InvalidApiKeyError(details, hints.apiKeySource);
      if (MENTIONS_EXPIRY.test(evidence)) return new ExpiredAccessTokenError(details, hints.token);
      if (MENTIONS_TOKEN.test(evidence)) return new InvalidAccessTokenError(details, hints.token);
      return new TomTomUnauthorizedError(details);
    case 403:
      if (MENTIONS_PRODUCTS.test(evidence)) return new ApiKeyProductsMissingError(details);
      if (MENTIONS_RESOURCE.test(evidence)) return new ResourceAccessDeniedError(details);
      return new TomTomForbiddenError(details);
    case 404:
      return new TomTomNotFoundError(
        'Not found',
        details,
        'Check the storage id or job id; jobs are visible only to the identity that created them.',
      );
    case 429:
      return new TomTomThrottledError(
        'TomTom is rate-limiting requests',
        details,
        'Try again later.',
        retryAfterMs(response),
      );
    default:
      if (response.status >= 500) {
        return new TomTomServiceError(
          'TomTom had a server error',
          details,
          'Retry later; safe requests were already retried automatically.',
        );
      }
      if (response.status >= 400) {
        return new TomTomBadRequestError('TomTom rejected the request', details);
      }
      return new TomTomApiError(`Unexpected HTTP status ${response.status}`, details);
  }
}
