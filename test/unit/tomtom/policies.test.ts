/**
 * Unit tests of `shared/tomtom/policies.ts`: apiKeyPolicy and xVersionPolicy; retryByIdempotencyPolicy;
 * retryAfterMs; unauthorizedRecoveryPolicy; refreshableBearerTokenPolicy.
 */
import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelineRequest,
  type PipelineResponse,
  RestError,
  type SendRequest,
} from '@azure/core-rest-pipeline';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppTokenCredential } from '../../../shared/auth/tokenCredential.js';
import {
  apiKeyPolicy,
  refreshableBearerTokenPolicy,
  retryAfterMs,
  retryByIdempotencyPolicy,
  setRetryMode,
  unauthorizedRecoveryPolicy,
  xVersionPolicy,
} from '../../../shared/tomtom/policies.js';

const URL_BASE = 'https://api.tomtom.com/maps/orbis/platform/gem/jobs';

function respond(
  request: PipelineRequest,
  status: number,
  headers: Record<string, string> = {},
): PipelineResponse {
  return { request, status, headers: createHttpHeaders(headers), bodyAsText: '' };
}

function fakeKeyProvider(...keys: string[]) {
  let reads = 0;
  return {
    getApiKey: vi.fn(async () => keys[Math.min(reads++, keys.length - 1)]!),
    invalidate: vi.fn(),
  };
}

describe('apiKeyPolicy and xVersionPolicy', () => {
  it('adds the tomtom-api-key header from the provider on every attempt', async () => {
    const keys = fakeKeyProvider('key-1', 'key-2');
    const policy = apiKeyPolicy(keys);
    const request = createPipelineRequest({ url: URL_BASE });
    const next = vi.fn<SendRequest>(async (sent) => respond(sent, 200));
    await policy.sendRequest(request, next);
    expect(next.mock.calls[0]![0].headers.get('tomtom-api-key')).toBe('key-1');
    await policy.sendRequest(request, next);
    expect(next.mock.calls[1]![0].headers.get('tomtom-api-key')).toBe('key-2');
  });

  it('adds X-Version: 1', async () => {
    const next = vi.fn<SendRequest>(async (sent) => respond(sent, 200));
    await xVersionPolicy().sendRequest(createPipelineRequest({ url: URL_BASE }), next);
    expect(next.mock.calls[0]![0].headers.get('x-version')).toBe('1');
  });
});

describe('retryByIdempotencyPolicy', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-02-18T10:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function settle<T>(promise: Promise<T>): Promise<T> {
    await vi.runAllTimersAsync();
    return promise;
  }

  it('honours Retry-After in seconds on a 429 for a GET', async () => {
    const request = createPipelineRequest({ url: URL_BASE });
    const next = vi
      .fn<SendRequest>()
      .mockResolvedValueOnce(respond(request, 429, { 'Retry-After': '7' }))
      .mockResolvedValueOnce(respond(request, 200));
    const started = Date.now();
    const response = await settle(retryByIdempotencyPolicy().sendRequest(request, next));
    expect(response.status).toBe(200);
    expect(next).toHaveBeenCalledTimes(2);
    expect(Date.now() - started).toBe(7_000);
  });

  it('honours Retry-After as an HTTP date on a 503 for a GET', async () => {
    const request = createPipelineRequest({ url: URL_BASE });
    const retryAt = new Date(Date.now() + 30_000).toUTCString();
    const next = vi
      .fn<SendRequest>()
      .mockResolvedValueOnce(respond(request, 503, { 'Retry-After': retryAt }))
      .mockResolvedValueOnce(respond(request, 200));
    const started = Date.now();
    await settle(retryByIdempotencyPolicy().sendRequest(request, next));
    expect(next).toHaveBeenCalledTimes(2);
    expect(Date.now() - started).toBe(30_000);
  });

  it('backs off exponentially on 500 and on timeouts for a GET', async () => {
    const request = createPipelineRequest({ url: URL_BASE });
    const next = vi
      .fn<SendRequest>()
      .mockResolvedValueOnce(respond(request, 500))
      .mockRejectedValueOnce(new RestError('socket timeout', { code: 'ETIMEDOUT' }))
      .mockResolvedValueOnce(respond(request, 408))
      .mockResolvedValueOnce(respond(request, 200));
    const started = Date.now();
    const response = await settle(
      retryByIdempotencyPolicy({ retryDelayInMs: 1_000 }).sendRequest(request, next),
    );
    expect(response.status).toBe(200);
    expect(next).toHaveBeenCalledTimes(4);
    // Jittered delays: at least half of 1 s, 2 s and 4 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
  });

  it('gives up after maxRetries and returns the last response', async () => {
    const request = createPipelineRequest({ url: URL_BASE });
    const next = vi.fn<SendRequest>(async () => respond(request, 502));
    const response = await settle(retryByIdempotencyPolicy({ maxRetries: 2 }).sendRequest(request, next));
    expect(response.status).toBe(502);
    expect(next).toHaveBeenCalledTimes(3);
  });

  it.each([500, 503, 504])('never repeats a create-job POST after a %i', async (status) => {
    const request = setRetryMode(createPipelineRequest({ url: URL_BASE, method: 'POST' }), 'refusals-only');
    const next = vi.fn<SendRequest>(async () => respond(request, status, { 'Retry-After': '1' }));
    const response = await settle(retryByIdempotencyPolicy().sendRequest(request, next));
    expect(response.status).toBe(status);
    expect(next).toHaveBeenCalledTimes(1);
  });

  it('never repeats a create-job POST after a network error', async () => {
    const request = setRetryMode(createPipelineRequest({ url: URL_BASE, method: 'POST' }), 'refusals-only');
    const next = vi.fn<SendRequest>().mockRejectedValue(new RestError('reset', { code: 'ECONNRESET' }));
    await expect(retryByIdempotencyPolicy().sendRequest(request, next)).rejects.toThrow('reset');
    expect(next).toHaveBeenCalledTimes(1);
  });

  it('repeats a create-job POST refused with 429, after Retry-After', async () => {
    const request = setRetryMode(createPipelineRequest({ url: URL_BASE, method: 'POST' }), 'refusals-only');
    const next = vi
      .fn<SendRequest>()
      .mockResolvedValueOnce(respond(request, 429, { 'Retry-After': '12' }))
      .mockResolvedValueOnce(respond(request, 201));
    const started = Date.now();
    const response = await settle(retryByIdempotencyPolicy().sendRequest(request, next));
    expect(response.status).toBe(201);
    expect(Date.now() - started).toBe(12_000);
  });

  it('does not retry a plain POST at all, not even a 429', async () => {
    const request = createPipelineRequest({
      url: 'https://hcp-vault.tomtomgroup.com/v1/sys/wrapping/unwrap',
      method: 'POST',
    });
    const next = vi.fn<SendRequest>(async () => respond(request, 429, { 'Retry-After': '1' }));
    await settle(retryByIdempotencyPolicy().sendRequest(request, next));
    expect(next).toHaveBeenCalledTimes(1);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and ignores garbage', () => {
    const request = createPipelineRequest({ url: URL_BASE });
    const now = Date.parse('2026-02-18T10:00:00Z');
    expect(retryAfterMs(respond(request, 429, { 'Retry-After': '3' }), now)).toBe(3_000);
    expect(retryAfterMs(respond(request, 429, { 'Retry-After': 'Wed, 18 Feb 2026 10:00:45 GMT' }), now)).toBe(
      45_000,
    );
    expect(retryAfterMs(respond(request, 429, { 'Retry-After': 'soon' }), now)).toBeUndefined();
    expect(retryAfterMs(respond(request, 429), now)).toBeUndefined();
  });
});

describe('unauthorizedRecoveryPolicy', () => {
  /** The rest of the pipeline as the recovery policy sees it: signs with the current key, then answers. */
  function signingNext(keys: ReturnType<typeof fakeKeyProvider>, ...statuses: number[]) {
    const sentKeys: string[] = [];
    const next = vi.fn<SendRequest>(async (sent) => {
      sent.headers.set('tomtom-api-key', await keys.getApiKey());
      sentKeys.push(sent.headers.get('tomtom-api-key')!);
      return respond(sent, statuses[Math.min(sentKeys.length - 1, statuses.length - 1)]!);
    });
    return Object.assign(next, { sentKeys });
  }

  const send = (
    options: { requestNewToken: () => boolean; keys: ReturnType<typeof fakeKeyProvider> },
    next: SendRequest,
    method: 'GET' | 'POST' = 'POST',
  ) =>
    unauthorizedRecoveryPolicy({
      requestNewToken: options.requestNewToken,
      apiKeyProvider: options.keys,
    }).sendRequest(createPipelineRequest({ url: URL_BASE, method }), next);

  it('on 401, when a new token can be had, re-reads the key and resends exactly once', async () => {
    const keys = fakeKeyProvider('k');
    const requestNewToken = vi.fn(() => true);
    const next = signingNext(keys, 401, 201);
    const response = await send({ requestNewToken, keys }, next);
    expect(response.status).toBe(201);
    expect(requestNewToken).toHaveBeenCalledTimes(1);
    expect(keys.invalidate).toHaveBeenCalledTimes(1);
    expect(next).toHaveBeenCalledTimes(2);
  });

  it('on 401, when no new token can be had and the key is unchanged, returns the refusal without resending', async () => {
    // A managed identity: the platform would hand out the very token that was just refused.
    const keys = fakeKeyProvider('k');
    const next = signingNext(keys, 401, 201);
    const response = await send({ requestNewToken: () => false, keys }, next);
    expect(response.status).toBe(401);
    expect(next).toHaveBeenCalledTimes(1);
    expect(keys.invalidate).toHaveBeenCalledTimes(1);
  });

  it('on 401 with a key rotated in the meantime, resends once with the new key even without a new token', async () => {
    const keys = fakeKeyProvider('old-key', 'new-key');
    const next = signingNext(keys, 401, 200);
    const response = await send({ requestNewToken: () => false, keys }, next, 'GET');
    expect(response.status).toBe(200);
    expect(next.sentKeys).toEqual(['old-key', 'new-key']);
  });

  it('returns the second 401 instead of looping', async () => {
    const keys = fakeKeyProvider('k');
    const next = signingNext(keys, 401);
    const response = await send({ requestNewToken: () => true, keys }, next, 'GET');
    expect(response.status).toBe(401);
    expect(next).toHaveBeenCalledTimes(2);
  });

  it('does not retry a 403, but forgets the cached key', async () => {
    const keys = fakeKeyProvider('k');
    const requestNewToken = vi.fn(() => true);
    const next = signingNext(keys, 403);
    const response = await send({ requestNewToken, keys }, next, 'GET');
    expect(response.status).toBe(403);
    expect(next).toHaveBeenCalledTimes(1);
    expect(requestNewToken).not.toHaveBeenCalled();
    expect(keys.invalidate).toHaveBeenCalledTimes(1);
  });
});

describe('refreshableBearerTokenPolicy', () => {
  it('sends the cached token until a new one is requested, then asks the credential again', async () => {
    let issued = 0;
    const credential = new AppTokenCredential('developer', {
      getToken: async () => ({ token: `token-${++issued}`, expiresOnTimestamp: Date.now() + 3_600_000 }),
    });
    const policy = refreshableBearerTokenPolicy({
      credential,
      scopes: 'https://gem.core.orbis.tomtom.com/.default',
    });
    const next = vi.fn<SendRequest>(async (sent) => respond(sent, 200));
    const send = () => policy.sendRequest(createPipelineRequest({ url: URL_BASE }), next);

    await send();
    await send();
    expect(credential.requestNewToken()).toBe(true);
    await send();
    expect(next.mock.calls.map(([sent]) => sent.headers.get('authorization'))).toEqual([
      'Bearer token-1',
      'Bearer token-1',
      'Bearer token-2',
    ]);
  });

  it('keeps the token of a managed identity, which cannot issue another on demand', async () => {
    const getToken = vi.fn(async () => ({ token: 'mi-token', expiresOnTimestamp: Date.now() + 3_600_000 }));
    const credential = new AppTokenCredential('managed-identity', { getToken });
    const policy = refreshableBearerTokenPolicy({ credential, scopes: 'scope/.default' });
    const next = vi.fn<SendRequest>(async (sent) => respond(sent, 200));
    await policy.sendRequest(createPipelineRequest({ url: URL_BASE }), next);
    expect(credential.requestNewToken()).toBe(false);
    await policy.sendRequest(createPipelineRequest({ url: URL_BASE }), next);
    expect(getToken).toHaveBeenCalledTimes(1);
    expect(credential.generation).toBe(0);
  });

  it('refuses to send a token over plain HTTP', async () => {
    const credential = new AppTokenCredential('developer', {
      getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }),
    });
    const policy = refreshableBearerTokenPolicy({ credential, scopes: 'scope/.default' });
    await expect(
      policy.sendRequest(createPipelineRequest({ url: 'http://127.0.0.1/x' }), vi.fn<SendRequest>()),
    ).rejects.toThrow(/non-https/);
  });
});
