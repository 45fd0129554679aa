/**
 * Unit tests of `shared/workflow/notify.ts`: signPayload / verifySignature; buildNotificationRequest;
 * sendNotification.
 */
import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
  RestError,
} from '@azure/core-rest-pipeline';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseAllowList } from '../../../shared/workflow/callbackTarget.js';
import {
  buildNotificationRequest,
  DELIVERY_HEADER,
  NotificationSecretError,
  SIGNATURE_HEADER,
  sendNotification,
  signPayload,
  verifySignature,
} from '../../../shared/workflow/notify.js';

const SECRET = 'test-signing-secret';
const NOW = new Date('2026-02-18T12:00:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;

describe('signPayload / verifySignature', () => {
  it('produces t=<unix>,v1=<64 hex> and verifies with the same secret', () => {
    const header = signPayload('{"a":1}', SECRET, NOW_SECONDS);
    expect(header).toMatch(new RegExp(`^t=${NOW_SECONDS},v1=[0-9a-f]{64}$`));
    expect(verifySignature('{"a":1}', header, SECRET, { now: NOW })).toBe(true);
  });

  it('is HMAC-SHA256 over "<t>.<body>" (a known vector a receiver in any language can reproduce)', () => {
    // printf '1700000000.hello' | openssl dgst -sha256 -hmac key
    expect(signPayload('hello', 'key', 1_700_000_000)).toBe(
      't=1700000000,v1=4d583a269f4f276a3fa80ff31b5a01879a848096983222a17893d198418939aa',
    );
  });

  it('rejects a changed body, another secret, a stale timestamp and garbage', () => {
    const header = signPayload('{"a":1}', SECRET, NOW_SECONDS);
    expect(verifySignature('{"a":2}', header, SECRET, { now: NOW })).toBe(false);
    expect(verifySignature('{"a":1}', header, 'other', { now: NOW })).toBe(false);
    expect(verifySignature('{"a":1}', header, SECRET, { now: new Date(NOW.getTime() + 301_000) })).toBe(
      false,
    );
    expect(
      verifySignature('{"a":1}', header, SECRET, {
        now: new Date(NOW.getTime() + 301_000),
        toleranceSeconds: 600,
      }),
    ).toBe(true);
    expect(verifySignature('{"a":1}', 'v1=abc', SECRET, { now: NOW })).toBe(false);
    expect(verifySignature('{"a":1}', `t=${NOW_SECONDS},v1=zz`, SECRET, { now: NOW })).toBe(false);
    expect(verifySignature('{"a":1}', '', SECRET, { now: NOW })).toBe(false);
  });

  it('accepts any of several v1 entries, as during a secret rotation', () => {
    const fresh = signPayload('body', 'new-secret', NOW_SECONDS).split(',')[1];
    const old = signPayload('body', 'old-secret', NOW_SECONDS).split(',')[1];
    const header = `t=${NOW_SECONDS},${old},${fresh}`;
    expect(verifySignature('body', header, 'new-secret', { now: NOW })).toBe(true);
    expect(verifySignature('body', header, 'old-secret', { now: NOW })).toBe(true);
    expect(verifySignature('body', header, 'third', { now: NOW })).toBe(false);
  });

  it('refuses to sign without a secret or with a non-integer timestamp', () => {
    expect(() => signPayload('body', '', NOW_SECONDS)).toThrow(NotificationSecretError);
    expect(() => signPayload('body', SECRET, 1.5)).toThrow(/whole Unix seconds/);
  });
});

describe('buildNotificationRequest', () => {
  it('serialises the summary and signs exactly the bytes it will send', () => {
    const request = buildNotificationRequest({ outcome: 'succeeded', jobId: 1 }, SECRET, NOW);
    expect(request.body).toBe('{"outcome":"succeeded","jobId":1}');
    expect(request.headers['content-type']).toBe('application/json');
    expect(verifySignature(request.body, request.headers[SIGNATURE_HEADER], SECRET, { now: NOW })).toBe(true);
  });

  it('derives the delivery id from the body, so a re-sent notification can be recognised', () => {
    const first = buildNotificationRequest({ jobId: 1 }, SECRET, NOW);
    const retry = buildNotificationRequest({ jobId: 1 }, SECRET, new Date(NOW.getTime() + 60_000));
    const other = buildNotificationRequest({ jobId: 2 }, SECRET, NOW);
    expect(first.headers[DELIVERY_HEADER]).toMatch(/^[0-9a-f]{32}$/);
    expect(retry.headers[DELIVERY_HEADER]).toBe(first.headers[DELIVERY_HEADER]);
    expect(other.headers[DELIVERY_HEADER]).not.toBe(first.headers[DELIVERY_HEADER]);
  });
});

type Reply = { status: number; headers?: Record<string, string> } | { error: Error };

/** A transport that answers from a script and records what it was sent. */
function scriptedClient(replies: Reply[]): HttpClient & { sent: PipelineRequest[] } {
  const sent: PipelineRequest[] = [];
  return {
    sent,
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      sent.push(request);
      const reply = replies[Math.min(sent.length - 1, replies.length - 1)]!;
      if ('error' in reply) throw reply.error;
      return {
        request,
        status: reply.status,
        headers: createHttpHeaders(reply.headers ?? {}),
        bodyAsText: '',
      };
    },
  };
}

/** The receiver's name resolves to one public address; the scripted transport never connects to it. */
const publicReceiver = async () => [{ address: '93.184.215.14', family: 4 }];

describe('sendNotification', () => {
  const url = 'https://receiver.example.com/hooks/gem';
  const notification = buildNotificationRequest({ outcome: 'succeeded' }, SECRET, NOW);

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function send(client: HttpClient, maxAttempts = 4) {
    const pending = sendNotification(url, notification, {
      httpClient: client,
      maxAttempts,
      retryDelayMs: 1000,
      resolve: publicReceiver,
    });
    await vi.runAllTimersAsync();
    return pending;
  }

  it('POSTs the signed body once when the receiver accepts it', async () => {
    const client = scriptedClient([{ status: 204 }]);
    expect(await send(client)).toEqual({ delivered: true, attempts: 1, status: 204 });
    const [request] = client.sent;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(url);
    expect(request?.body).toBe(notification.body);
    expect(request?.headers.get(SIGNATURE_HEADER)).toBe(notification.headers[SIGNATURE_HEADER]);
    expect(request?.headers.get(DELIVERY_HEADER)).toBe(notification.headers[DELIVERY_HEADER]);
    expect(request?.headers.get('content-type')).toBe('application/json');
  });

  it('retries 5xx and 408 with backoff until the receiver accepts', async () => {
    const client = scriptedClient([{ status: 500 }, { status: 408 }, { status: 502 }, { status: 200 }]);
    expect(await send(client)).toEqual({ delivered: true, attempts: 4, status: 200 });
  });

  it('retries network errors', async () => {
    const refused = new RestError('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
    const client = scriptedClient([{ error: refused }, { status: 200 }]);
    expect(await send(client)).toEqual({ delivered: true, attempts: 2, status: 200 });
  });

  it('retries a try that timed out', async () => {
    const timeout = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    const client = scriptedClient([{ error: timeout }, { status: 200 }]);
    expect(await send(client)).toEqual({ delivered: true, attempts: 2, status: 200 });
  });

  it('gives up after maxAttempts sends and reports the last status, without throwing', async () => {
    const client = scriptedClient([{ status: 503 }]);
    const outcome = await send(client, 3);
    expect(outcome).toMatchObject({ delivered: false, attempts: 3, status: 503 });
    expect(client.sent).toHaveLength(3);
  });

  it.each([400, 401, 403, 404, 410, 422])('treats %s as final', async (status) => {
    const client = scriptedClient([{ status }, { status: 200 }]);
    expect(await send(client)).toEqual({
      delivered: false,
      attempts: 1,
      status,
      error: `The callback answered HTTP ${status}.`,
    });
  });

  it('does not follow redirects, so the signed body goes only where the caller said', async () => {
    const client = scriptedClient([{ status: 307, headers: { location: 'https://elsewhere.example.com/' } }]);
    expect(await send(client)).toMatchObject({ delivered: false, attempts: 1, status: 307 });
    expect(client.sent).toHaveLength(1);
  });

  it('waits as long as Retry-After says on 429', async () => {
    const client = scriptedClient([{ status: 429, headers: { 'retry-after': '7' } }, { status: 200 }]);
    const pending = sendNotification(url, notification, {
      httpClient: client,
      maxAttempts: 3,
      retryDelayMs: 1000,
      resolve: publicReceiver,
    });
    await vi.advanceTimersByTimeAsync(6_900);
    expect(client.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(client.sent).toHaveLength(2);
    expect(await pending).toEqual({ delivered: true, attempts: 2, status: 200 });
  });

  it('waits as long as Retry-After says on 503', async () => {
    const client = scriptedClient([{ status: 503, headers: { 'retry-after': '30' } }, { status: 200 }]);
    const pending = sendNotification(url, notification, {
      httpClient: client,
      maxAttempts: 3,
      retryDelayMs: 1000,
      resolve: publicReceiver,
    });
    await vi.advanceTimersByTimeAsync(29_000);
    expect(client.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await pending).toEqual({ delivered: true, attempts: 2, status: 200 });
  });

  it('backs off and retries a 429 that has no Retry-After', async () => {
    const client = scriptedClient([{ status: 429 }, { status: 429 }, { status: 200 }]);
    expect(await send(client)).toEqual({ delivered: true, attempts: 3, status: 200 });
  });

  it('keeps the total budget when throttling and server errors alternate', async () => {
    const client = scriptedClient([
      { status: 429 },
      { status: 500 },
      { status: 429 },
      { status: 500 },
      { status: 429 },
    ]);
    const outcome = await send(client, 4);
    expect(client.sent).toHaveLength(4);
    expect(outcome).toMatchObject({ delivered: false, attempts: 4 });
    expect(outcome.error).toMatch(/4 attempts|HTTP/);
  });

  it('sends nothing to a URL that is not allowed', async () => {
    const client = scriptedClient([{ status: 200 }]);
    const outcome = await sendNotification('http://example.com/hook', notification, {
      httpClient: client,
      maxAttempts: 3,
      retryDelayMs: 10,
      resolve: publicReceiver,
    });
    expect(outcome).toMatchObject({ delivered: false, refused: true, attempts: 0 });
    expect(outcome.error).toMatch(/must use https/);
    expect(client.sent).toHaveLength(0);
  });

  it('posts over http to a loopback receiver the allow-list names', async () => {
    const client = scriptedClient([{ status: 200 }]);
    const outcome = await sendNotification('http://127.0.0.1:7777/hook', notification, {
      httpClient: client,
      maxAttempts: 1,
      retryDelayMs: 10,
      allowList: parseAllowList('127.0.0.1').allowList,
    });
    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 200 });
    expect(client.sent[0]?.allowInsecureConnection).toBe(true);
    // Streamed, so the transport never buffers the receiver's body; pinned, by its own agent.
    expect(client.sent[0]?.streamResponseStatusCodes?.has(Number.POSITIVE_INFINITY)).toBe(true);
    expect(client.sent[0]?.agent).toBeDefined();
  });
});
