/**
 * Signed completion callbacks.
 *
 * Signature scheme (Stripe-style, so receivers can reuse familiar code):
 *   header `x-gemflow-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
 * The receiver recomputes the HMAC over the raw body bytes it received, compares in constant time, and
 * rejects timestamps outside its tolerance (five minutes by default) to stop replays. Several `v1=` entries
 * may appear during a secret rotation; any match is accepted.
 * `x-gemflow-delivery` is a hash of the body: the same result notified twice (activity retries) carries the
 * same delivery id, so receivers can drop duplicates.
 *
 * Signing and verifying are pure. `sendNotification` does network I/O and belongs in an activity; it never
 * throws for HTTP failures, because a receiver being down must not fail a match whose results are delivered.
 * It sends only to a target `checkCallbackTarget` accepts, over a connection pinned to the checked addresses,
 * never follows a redirect and never reads the receiver's response body (only its status counts).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  isRestError,
  type PipelinePolicy,
  type PipelineResponse,
  RestError,
  type RetryStrategy,
  retryPolicy,
} from '@azure/core-rest-pipeline';
import { errorMessage, GemFlowError } from '../errors.js';
import {
  type CallbackAllowList,
  checkCallbackTarget,
  EMPTY_ALLOW_LIST,
  type HostResolver,
  pinnedLookup,
} from './callbackTarget.js';
import type { NotificationOutcome } from './types.js';

export const SIGNATURE_HEADER = 'x-gemflow-signature';
export const DELIVERY_HEADER = 'x-gemflow-delivery';
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

export class NotificationSecretError extends GemFlowError {
  readonly code = 'NotificationSecretMissing';
}

function requireSecret(secret: string): void {
  if (!secret) {
    throw new NotificationSecretError(
      'No notification signing secret is configured, so callbacks cannot be signed.',
      {
        remedy: 'Set the notification secret in the app settings or Key Vault.',
      },
    );
  }
}

function hmacHex(body: string, secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`; `timestamp` is Unix seconds. */
export function signPayload(body: string, secret: string, timestamp: number): string {
  requireSecret(secret);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new NotificationSecretError(
      `The signature timestamp must be whole Unix seconds (got ${timestamp}).`,
      {
        remedy: 'Pass Math.floor(date.getTime() / 1000).',
      },
    );
  }
  return `t=${timestamp},v1=${hmacHex(body, secret, timestamp)}`;
}

export interface VerifyOptions {
  now: Date;
  toleranceSeconds?: number;
}

/** Receiver side: true when `header` signs `body` with `secret` and its timestamp is within tolerance of `now`. */
export function verifySignature(
  body: string,
  header: string,
  secret: string,
  options: VerifyOptions,
): boolean {
  if (!secret || !header) return false;
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^\d+$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && value) candidates.push(value);
  }
  if (timestamp === undefined || candidates.length === 0) return false;
  const tolerance = options.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (Math.abs(Math.floor(options.now.getTime() / 1000) - timestamp) > tolerance) return false;
  const expected = Buffer.from(hmacHex(body, secret, timestamp), 'hex');
  // Every candidate is compared, so timing does not reveal which entry matched.
  let matched = false;
  for (const candidate of candidates) {
    const given = Buffer.from(candidate, 'hex');
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}

export interface NotificationRequest {
  body: string;
  headers: {
    'content-type': string;
    [SIGNATURE_HEADER]: string;
    [DELIVERY_HEADER]: string;
  };
}

/** Serialises `summary` and signs it for `now`. */
export function buildNotificationRequest(summary: unknown, secret: string, now: Date): NotificationRequest {
  const body = JSON.stringify(summary);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signPayload(body, secret, Math.floor(now.getTime() / 1000)),
      [DELIVERY_HEADER]: createHash('sha256').update(body, 'utf8').digest('hex').slice(0, 32),
    },
  };
}

export interface SendNotificationOptions {
  /** Total tries including the first; 1 disables retries. */
  maxAttempts: number;
  /** First retry delay; later ones grow exponentially (with the pipeline's jitter). */
  retryDelayMs: number;
  /** Longest wait between tries. Default 60 s. */
  maxRetryDelayMs?: number;
  /** Per-try timeout, and the limit for resolving the host. Default 30 s, so a silent receiver cannot hold an activity for long. */
  timeoutMs?: number;
  /** Hosts the operator admitted beyond the public internet (`NOTIFY_ALLOWED_HOSTS`). Default none. */
  allowList?: CallbackAllowList;
  /** Resolves the callback host; default the system resolver. Tests inject answers here. */
  resolve?: HostResolver;
  /** Trust only this CA for the receiver's certificate (tests); default the platform's trust store. */
  trustedCa?: string;
  /** Transport; tests pass a fake, production uses the SDK's default client. */
  httpClient?: HttpClient;
}

interface AttemptLog {
  attempts: number;
  lastStatus: number | undefined;
}

const BUDGET_EXHAUSTED = 'GEMFLOW_ATTEMPT_BUDGET_EXHAUSTED';

/**
 * Innermost policy: counts real sends, enforces the total budget across both retry policies, turns a
 * per-try timeout (an AbortError from the HTTP client) into a retriable system error, and discards the
 * response body unread, so a receiver cannot make the app buffer what it sends back.
 */
function attemptBudgetPolicy(log: AttemptLog, maxAttempts: number): PipelinePolicy {
  return {
    name: 'gemflowAttemptBudget',
    async sendRequest(request, next) {
      if (log.attempts >= maxAttempts) {
        throw new RestError(`Gave up after ${log.attempts} attempts.`, { code: BUDGET_EXHAUSTED, request });
      }
      log.attempts += 1;
      try {
        const response = await next(request);
        // In Node the stream is the IncomingMessage itself.
        (response.readableStreamBody as Readable | undefined)?.destroy();
        log.lastStatus = response.status;
        return response;
      } catch (error) {
        if (error instanceof Error && error.name === 'AbortError' && !request.abortSignal?.aborted) {
          throw new RestError(`The callback did not answer within ${request.timeout} ms.`, {
            code: 'ETIMEDOUT',
            request,
          });
        }
        throw error;
      }
    },
  };
}

function hasRetryAfter(response: PipelineResponse): boolean {
  return ['retry-after', 'retry-after-ms', 'x-ms-retry-after-ms'].some((name) => response.headers.has(name));
}

/**
 * The SDK's default retry policy honours Retry-After on 429/503 and backs off on 5xx/408/network errors,
 * but returns a 429 that has no Retry-After at once. A busy receiver deserves the same backoff as a failing one.
 */
function tooManyRequestsStrategy(retryDelayMs: number, maxRetryDelayMs: number): RetryStrategy {
  return {
    name: 'gemflowTooManyRequestsWithoutRetryAfter',
    retry({ retryCount, response }) {
      if (response?.status !== 429 || hasRetryAfter(response)) return { skipStrategy: true };
      return { retryAfterInMs: Math.min(maxRetryDelayMs, retryDelayMs * 2 ** retryCount) };
    },
  };
}

function notificationPipeline(options: SendNotificationOptions, log: AttemptLog, maxAttempts: number) {
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
  const pipeline = createPipelineFromOptions({
    retryOptions: {
      maxRetries: maxAttempts - 1,
      retryDelayInMs: options.retryDelayMs,
      maxRetryDelayInMs: maxRetryDelayMs,
    },
    // Redirects are never followed: the signed body goes only to the URL that was checked.
    redirectOptions: { maxRetries: 0 },
    userAgentOptions: { userAgentPrefix: 'gem-flow' },
  });
  pipeline.addPolicy(
    retryPolicy([tooManyRequestsStrategy(options.retryDelayMs, maxRetryDelayMs)], {
      maxRetries: maxAttempts - 1,
    }),
    { phase: 'Retry' },
  );
  pipeline.addPolicy(attemptBudgetPolicy(log, maxAttempts), { phase: 'Sign' });
  return pipeline;
}

/**
 * An agent whose connections reach only the checked addresses. It also keeps the SDK's proxy policy out
 * (that policy leaves a request's own agent alone), because a proxy would resolve the name again itself.
 * Keep-alive is off: nothing outlives the send.
 */
function pinnedAgent(url: URL, addresses: Parameters<typeof pinnedLookup>[1], trustedCa?: string) {
  const lookup = pinnedLookup(url.hostname, addresses);
  if (url.protocol === 'http:') return new http.Agent({ keepAlive: false, lookup });
  return new https.Agent({ keepAlive: false, lookup, ...(trustedCa ? { ca: trustedCa } : {}) });
}

/**
 * POSTs a signed notification. Retries 5xx, 408, 429 and network errors with exponential backoff (honouring
 * Retry-After on 429/503) up to `maxAttempts` sends in total; any other 4xx, and 3xx, is final. A target the
 * callback rules refuse, before or after DNS, is an outcome with `refused: true` and nothing is sent.
 */
export async function sendNotification(
  url: string,
  request: NotificationRequest,
  options: SendNotificationOptions,
): Promise<NotificationOutcome> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const target = await checkCallbackTarget(url, options.allowList ?? EMPTY_ALLOW_LIST, {
    timeoutMs,
    ...(options.resolve ? { resolve: options.resolve } : {}),
  });
  if (!target.ok) {
    return {
      delivered: false,
      attempts: 0,
      error: target.reason,
      ...(target.refused ? { refused: true } : {}),
    };
  }

  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts));
  const log: AttemptLog = { attempts: 0, lastStatus: undefined };
  const pipeline = notificationPipeline(options, log, maxAttempts);
  const pipelineRequest = createPipelineRequest({
    url,
    method: 'POST',
    body: request.body,
    headers: createHttpHeaders({ ...request.headers }),
    timeout: timeoutMs,
    allowInsecureConnection: target.url.protocol === 'http:',
    // Every status is streamed, so the body can be dropped unread (attemptBudgetPolicy).
    streamResponseStatusCodes: new Set([Number.POSITIVE_INFINITY]),
  });
  // Assigned, not passed to createPipelineRequest: its options type has `agent` but the constructor drops it.
  pipelineRequest.agent = pinnedAgent(target.url, target.addresses, options.trustedCa);

  const httpClient = options.httpClient ?? createDefaultHttpClient();
  try {
    const response = await pipeline.sendRequest(httpClient, pipelineRequest);
    if (response.status >= 200 && response.status < 300) {
      return { delivered: true, attempts: log.attempts, status: response.status };
    }
    return {
      delivered: false,
      attempts: log.attempts,
      status: response.status,
      error: `The callback answered HTTP ${response.status}.`,
    };
  } catch (error) {
    return failedOutcome(error, log);
  }
}

function failedOutcome(error: unknown, log: AttemptLog): NotificationOutcome {
  const lastStatus = log.lastStatus !== undefined ? { status: log.lastStatus } : {};
  if (isRestError(error) && error.code === BUDGET_EXHAUSTED) {
    return {
      delivered: false,
      attempts: log.attempts,
      ...lastStatus,
      error: `Gave up after ${log.attempts} attempts${log.lastStatus !== undefined ? `; last answer HTTP ${log.lastStatus}` : ''}.`,
    };
  }
  const message = errorMessage(error);
  return {
    delivered: false,
    attempts: log.attempts,
    ...lastStatus,
    error: `The callback could not be reached: ${message}`,
  };
}
