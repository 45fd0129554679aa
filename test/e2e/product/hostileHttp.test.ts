// A bounded sweep of hostile requests against the running app on the local host: malformed escapes and invalid
// Unicode in paths, queries and bodies, oversized headers, lines and bodies, unknown keys by the thousand, deep
// nesting and a forged Host header. Every answer is a 4xx naming what is wrong (never a 500), error answers stay
// small, and the host keeps answering afterwards.
import { describe, expect, it } from 'vitest';
import { START_MATCH_MAX_BODY_BYTES } from '../../../shared/api/schemas.js';
import { answerBeforeBody, type RawAnswer, rawGet, rawHttp } from '../../support/rawHttp.js';
import { api, useApp } from '../harness.js';

const app = useApp({ name: 'hostile-http' });

const keyLine = () => `x-functions-key: ${app.keys.functionKey}\r\n`;

/** POST /api/matches with raw body bytes and the function key, as one exact request. */
function postStart(body: string | Buffer, host = 'localhost'): Promise<RawAnswer> {
  const bytes = Buffer.from(body);
  const head =
    `POST /api/matches HTTP/1.1\r\nHost: ${host}\r\n${keyLine()}` +
    `Content-Type: application/json\r\nContent-Length: ${bytes.byteLength}\r\nConnection: close\r\n\r\n`;
  return rawHttp(app.baseUrl, Buffer.concat([Buffer.from(head), bytes]));
}

interface ErrorBody {
  error: { code: string; details?: { field: string; reason: string }[]; omittedDetails?: number };
}
const errorOf = (answer: RawAnswer) => JSON.parse(answer.body) as ErrorBody;
const fieldsOf = (answer: RawAnswer) => (errorOf(answer).error.details ?? []).map((detail) => detail.field);

describe('paths, queries and headers', () => {
  it.each([
    ['a malformed escape, without the key (a 500 before)', 401, '/api/matches/%ZZ', ''],
    ['a malformed escape', 404, '/api/matches/%ZZ', 'key'],
    ['an encoded lone surrogate', 404, '/api/matches/%ED%A0%80', 'key'],
    ['a truncated escape', 404, '/api/matches/match-%E2%9C', 'key'],
    ['an escaped NUL', 400, '/api/matches/%00', 'key'],
    ['a malformed escape in a query value', 400, '/api/matches?status=%ZZ', 'key'],
    ['an encoded lone surrogate in a query value', 400, '/api/matches?status=%ED%A0%80', 'key'],
    ['an overlong query value', 400, `/api/matches?status=${'Running,'.repeat(200)}Running`, 'key'],
    ['a non-numeric top', 400, '/api/matches?top=1e309', 'key'],
    ['a malformed refresh flag', 400, '/api/storages?refresh=%ZZ', 'key'],
  ])('%s → %i', async (_case, status, target, key) => {
    const answer = await rawGet(app.baseUrl, target, key ? keyLine() : '');
    expect(answer.status).toBe(status);
  });

  it('refuses raw non-ASCII, a request line over 8 KB, headers over 32 KB and a malformed Host', async () => {
    const rawUtf8 = Buffer.from(
      `GET /api/matches/caf\u00e9 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
    );
    expect((await rawHttp(app.baseUrl, rawUtf8)).status).toBe(400);
    expect((await rawGet(app.baseUrl, `/api/matches/${'a'.repeat(9000)}`, keyLine())).status).toBe(414);
    expect(
      (await rawGet(app.baseUrl, '/api/matches', `${keyLine()}X-Big: ${'b'.repeat(40_000)}\r\n`)).status,
    ).toBe(431);
    const hostless = `GET /api/health HTTP/1.1\r\nHost: local host\r\nConnection: close\r\n\r\n`;
    expect((await rawHttp(app.baseUrl, hostless)).status).toBe(400);
  });
});

describe('bodies', () => {
  it('answers 401 to a 99 MB body without a key, and 413 to a declared 200 MB one, before either is sent', async () => {
    const url = `${app.baseUrl}/api/matches`;
    expect(await answerBeforeBody(url, { 'content-length': String(99 * 1024 * 1024) }, 1024)).toEqual({
      status: 401,
      sentBytes: 1024,
    });
    const tooLarge = { 'content-length': String(200 * 1024 * 1024), 'x-functions-key': app.keys.functionKey };
    expect(await answerBeforeBody(url, tooLarge, 0)).toEqual({ status: 413, sentBytes: 0 });
  });

  it(`answers 413 PayloadTooLarge to a start body over ${START_MATCH_MAX_BODY_BYTES} bytes, before parsing it`, async () => {
    const answer = await postStart(
      JSON.stringify({ pdgFilename: 'a.parquet', overtureRelease: '9'.repeat(100_000) }),
    );
    expect(answer.status).toBe(413);
    expect(errorOf(answer).error.code).toBe('PayloadTooLarge');
  });

  it.each([
    ['a lone surrogate in inboxBlob (a 500 before)', '{"inboxBlob":"roads\\ud800.parquet"}', 'inboxBlob'],
    [
      'a lone surrogate in callbackUrl',
      '{"pdgFilename":"a.parquet","callbackUrl":"https://example.com/\\udc00"}',
      'callbackUrl',
    ],
    [
      'an overtureRelease of 30 000 digits',
      `{"pdgFilename":"a.parquet","overtureRelease":"2026-01-21.${'0'.repeat(30_000)}"}`,
      'overtureRelease',
    ],
    ['nesting 30 000 deep', `${'['.repeat(30_000)}${']'.repeat(30_000)}`, '(body)'],
    ['a lone surrogate in an unknown key', '{"pdgFilename":"a.parquet","\\ud800":1}', '\ufffd'],
  ])('%s → 400 naming the field', async (_case, body, field) => {
    const answer = await postStart(body);
    expect(answer.status).toBe(400);
    expect(fieldsOf(answer)).toEqual([field]);
  });

  it('answers invalid UTF-8 with a 400 on the body', async () => {
    const answer = await postStart(Buffer.from([0x7b, 0x22, 0x61, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]));
    expect(answer.status).toBe(400);
    expect(errorOf(answer).error.details).toEqual([{ field: '(body)', reason: 'is not valid UTF-8' }]);
  });

  it('answers 5 000 unknown keys with 20 of them and a count, in a small response', async () => {
    const keys = Array.from({ length: 5_000 }, (_, i) => `"k${i}":0`).join(',');
    const answer = await postStart(`{"pdgFilename":"a.parquet",${keys}}`);
    expect(answer.status).toBe(400);
    expect(errorOf(answer).error).toMatchObject({ omittedDetails: 4_980 });
    expect(fieldsOf(answer)).toHaveLength(20);
    expect(answer.body.length).toBeLessThan(8 * 1024);
    // 200 000 of them do not fit in a start body at all.
    const many = Array.from({ length: 200_000 }, (_, i) => `"k${i}":0`).join(',');
    expect((await postStart(`{${many}}`)).status).toBe(413);
  });
});

describe('the Host header', () => {
  it('is not reflected into statusUrl, cancelUrl, Location or the OpenAPI servers', async () => {
    const body = JSON.stringify({ pdgFilename: 'hostile-host.parquet', idempotencyKey: 'hostile-host' });
    const plain = await postStart(body);
    const forged = await postStart(body, 'evil.example:4444');
    for (const started of [plain, forged]) {
      expect(started.status).toBe(202);
      const accepted = JSON.parse(started.body) as { id: string; statusUrl: string; cancelUrl: string };
      expect(accepted.statusUrl).toBe(`${app.baseUrl}/api/matches/${accepted.id}`);
      expect(accepted.cancelUrl).toBe(`${accepted.statusUrl}/cancel`);
      expect(started.headers.location).toBe(accepted.statusUrl);
    }
    const document = await rawHttp(
      app.baseUrl,
      'GET /api/openapi.json HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(JSON.parse(document.body).servers).toEqual([{ url: app.baseUrl }]);
  });
});

describe('after the sweep', () => {
  it('the host still answers, and a well-formed request still works', async () => {
    expect((await api(app).get('/api/health')).status).toBe(200);
    const started = await api(app).post('/api/matches', { pdgFilename: 'after-sweep.parquet' });
    expect(started.status).toBe(202);
  });
});
