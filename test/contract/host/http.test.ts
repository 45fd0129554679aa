// HTTP triggers through the in-process host: registration capture, routing, the request/response
// round trip through the library's InvocationModel, authLevel with host keys, limits and errors.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindingsOfType, coreState } from '../../../local/host/core.js';
import { type RunningHost, startHost } from '../../../local/host/host.js';
import { compileRoute, loadOrCreateKeys } from '../../../local/host/http.js';
import { decodeRequestPath } from '../../../local/host/request.js';
import { answerBeforeBody, rawGet, rawHttp } from '../../support/rawHttp.js';
import { fixtureApp, records, tempDir } from './helpers.js';

const out = tempDir('http-out');
const state = tempDir('http-state');
let host: RunningHost;

beforeAll(async () => {
  host = await startHost({
    appRoot: fixtureApp,
    port: 0,
    stateDir: state,
    maxRequestBodyBytes: 1024,
    env: {
      FIXTURE_OUT_DIR: out,
      FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *',
      LOCAL_TIME_SCALE: '1',
    },
    eventGrid: { watch: false },
    log: () => {},
  });
});
afterAll(() => host?.close());

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${host.baseUrl}${path}`, { headers });

describe('registration capture', () => {
  it('captures every function of the fixture app with its bindings, found by type', () => {
    expect(host.functions).toEqual([
      { name: 'hello', trigger: 'httpTrigger' },
      { name: 'files', trigger: 'httpTrigger' },
      { name: 'secure', trigger: 'httpTrigger' },
      { name: 'secureItem', trigger: 'httpTrigger' },
      { name: 'adminOnly', trigger: 'httpTrigger' },
      { name: 'boom', trigger: 'httpTrigger' },
      { name: 'size', trigger: 'httpTrigger' },
      { name: 'tick', trigger: 'timerTrigger' },
      { name: 'yearly', trigger: 'timerTrigger' },
      { name: 'onEvent', trigger: 'eventGridTrigger' },
    ]);
    const hello = coreState.registrations.get('hello')!;
    expect(bindingsOfType(hello, 'httpTrigger')[0]).toMatchObject({
      route: 'hello/{name}/{id:int?}',
      authLevel: 'anonymous',
    });
    expect(bindingsOfType(hello, 'http')[0]).toMatchObject({ direction: 'out' });
    const onEvent = coreState.registrations.get('onEvent')!;
    expect(bindingsOfType(onEvent, 'eventGridTrigger')[0]).toMatchObject({ direction: 'in' });
  });

  it('ran the appStart hook before serving', () => {
    expect(records(out, 'hooks.jsonl')).toContainEqual({ hook: 'appStart' });
  });
});

describe('HTTP round trip', () => {
  it('passes method, url, route params, query and headers, and returns status, headers and cookies', async () => {
    const res = await get('/api/hello/bob/42?x=1&y=two', { 'x-custom': 'yes' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-fixture')).toBe('hello');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.getSetCookie()).toEqual(['seen=bob; Path=/; HttpOnly']);
    expect(await res.json()).toEqual({
      method: 'GET',
      url: `${host.baseUrl}/api/hello/bob/42?x=1&y=two`,
      params: { name: 'bob', id: '42' },
      query: { x: '1', y: 'two' },
      header: 'yes',
    });
  });

  it('passes the body of a POST and its status', async () => {
    const res = await fetch(`${host.baseUrl}/api/hello/ann`, { method: 'POST', body: 'payload ✓' });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ method: 'POST', params: { name: 'ann' }, body: 'payload ✓' });
  });

  it('matches catch-all parameters and honours route constraints', async () => {
    expect(await (await get('/api/files/a/b/c.txt')).json()).toEqual({ rest: 'a/b/c.txt' });
    expect(await (await get('/api/files')).json()).toEqual({ rest: null });
    expect((await get('/api/hello/bob/not-a-number')).status).toBe(404);
  });

  it('answers 404 for unknown routes and for a method the function does not accept (as Azure)', async () => {
    expect((await get('/api/nothing-here')).status).toBe(404);
    expect((await fetch(`${host.baseUrl}/api/files/x`, { method: 'DELETE' })).status).toBe(404);
  });

  it('answers 500 for an unhandled function error without leaking its message', async () => {
    const res = await get('/api/boom');
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain('secret internal detail');
  });

  it('refuses a body over the limit with 413 and accepts one under it', async () => {
    const big = await fetch(`${host.baseUrl}/api/size`, { method: 'POST', body: 'x'.repeat(2048) });
    expect(big.status).toBe(413);
    const small = await fetch(`${host.baseUrl}/api/size`, { method: 'POST', body: 'x'.repeat(1000) });
    expect(await small.json()).toEqual({ bytes: 1000 });
  });

  it('serves a health page at /', async () => {
    expect((await get('/')).status).toBe(200);
  });
});

describe('authLevel enforcement', () => {
  it('requires the function key (header or code) or the master key for authLevel function', async () => {
    expect((await get('/api/secure')).status).toBe(401);
    expect((await get('/api/secure', { 'x-functions-key': 'wrong' })).status).toBe(401);
    expect((await get('/api/secure', { 'x-functions-key': host.keys.systemKey })).status).toBe(401);
    const withHeader = await get('/api/secure', { 'x-functions-key': host.keys.functionKey });
    expect(withHeader.status).toBe(200);
    expect(await withHeader.text()).toBe('secure ok');
    expect((await get(`/api/secure?code=${host.keys.functionKey}`)).status).toBe(200);
    expect((await get(`/api/secure?code=${host.keys.masterKey}`)).status).toBe(200);
  });

  it('answers a missing or wrong key with an empty 401, as the Functions host does', async () => {
    // FunctionInvocationMiddleware.GetResultAsync in azure-functions-host returns a bare UnauthorizedResult
    // when authorisation fails: no body, so clients (and the README) say which key to send, not the host.
    for (const headers of [{}, { 'x-functions-key': 'wrong' }] as Record<string, string>[]) {
      const refused = await get('/api/secure', headers);
      expect(refused.status).toBe(401);
      expect(await refused.text()).toBe('');
    }
  });

  it('requires the master key for authLevel admin and for the admin API', async () => {
    expect((await get('/api/admin-only', { 'x-functions-key': host.keys.functionKey })).status).toBe(401);
    expect((await get('/api/admin-only', { 'x-functions-key': host.keys.masterKey })).status).toBe(200);
    expect((await get('/admin/host/status', { 'x-functions-key': host.keys.functionKey })).status).toBe(401);
    const status = await get('/admin/host/status', { 'x-functions-key': host.keys.masterKey });
    expect(await status.json()).toMatchObject({ state: 'Running' });
  });

  it('answers an admin "run now" whose body is not JSON with 400, not 500', async () => {
    const res = await fetch(`${host.baseUrl}/admin/functions/onEvent`, {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.masterKey, 'content-type': 'application/json' },
      body: '{"input": "{}"',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: expect.stringMatching(/not valid JSON/) });
  });

  it('keeps the keys in the keys file, so a restart reuses them', async () => {
    const saved = JSON.parse(readFileSync(join(state, 'keys.json'), 'utf8'));
    expect(saved).toEqual(host.keys);
    expect(await loadOrCreateKeys(join(state, 'keys.json'))).toEqual(host.keys);
    // One key per extension webhook (durabletask_extension is the durable engine's systemKey), all distinct.
    expect(Object.keys(host.keys.systemKeys).sort()).toEqual([
      'durabletask_extension',
      'eventgrid_extension',
    ]);
    expect(host.keys.systemKeys.durabletask_extension).toBe(host.keys.systemKey);
    const all = [host.keys.functionKey, host.keys.masterKey, ...Object.values(host.keys.systemKeys)];
    expect(new Set(all).size).toBe(4);
    for (const key of all) expect(key).toMatch(/^[A-Za-z0-9_-]{40}$/);
  });

  it('adds the per-extension keys to a keys file that predates them, keeping the keys it has', async () => {
    const file = join(tempDir('old-keys'), 'keys.json');
    const old = { functionKey: 'f'.repeat(40), systemKey: 's'.repeat(40), masterKey: 'm'.repeat(40) };
    writeFileSync(file, JSON.stringify(old));
    const keys = await loadOrCreateKeys(file);
    expect(keys).toMatchObject({ ...old, systemKeys: { durabletask_extension: old.systemKey } });
    expect(keys.systemKeys.eventgrid_extension).toMatch(/^[A-Za-z0-9_-]{40}$/);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(keys);
  });
});

const raw = (bytes: string | Buffer) => rawHttp(host.baseUrl, bytes);
const get1 = (target: string, headerLines = '') => rawGet(host.baseUrl, target, headerLines);
const postUnfinished = (path: string, headers: Record<string, string>, sent: number) =>
  answerBeforeBody(`${host.baseUrl}${path}`, headers, sent);

describe('what the host refuses before routing, keys or body (as Kestrel does)', () => {
  it('routes on the decoded path and leaves malformed escapes as written (a 500 before)', async () => {
    // The catch-all route echoes its value (hello would also set it as a cookie, which must be Latin-1).
    const name = async (segment: string) =>
      ((await (await get(`/api/files/${segment}`)).json()) as { rest: string }).rest;
    expect(await name('%ZZ')).toBe('%ZZ');
    expect(await name('%')).toBe('%');
    expect(await name('caf%C3%A9')).toBe('café');
    expect(await name('%E2%9C%93')).toBe('✓');
    // An encoded surrogate, an overlong "/", a truncated sequence and %2F stay as they were sent.
    expect(await name('%ED%A0%80')).toBe('%ED%A0%80');
    expect(await name('%C0%AF')).toBe('%C0%AF');
    expect(await name('%E2%9C')).toBe('%E2%9C');
    expect(await name('a%2Fb')).toBe('a%2Fb');
  });

  it('checks the key of a route whose value is a malformed escape before anything else', async () => {
    expect((await get('/api/secure/%ZZ')).status).toBe(401);
    const withKey = await get('/api/secure/%E0%A4%A', { 'x-functions-key': host.keys.functionKey });
    expect(await withKey.json()).toEqual({ id: '%E0%A4%A' });
  });

  it('refuses an escaped NUL, a non-ASCII target and a malformed or repeated Host with 400', async () => {
    expect((await get1('/api/hello/a%00b')).status).toBe(400);
    expect((await get1('/api/secure/%00')).status).toBe(400);
    expect(
      (
        await raw(
          Buffer.from(
            'GET /api/hello/caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
            'latin1',
          ),
        )
      ).status,
    ).toBe(400);
    expect((await raw('GET /api/hello/a HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n')).status).toBe(
      400,
    );
    expect(
      (await raw('GET /api/hello/a HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n')).status,
    ).toBe(400);
  });

  it('answers 414 for a request line over 8 KB and 431 for headers over 32 KB or more than 100 of them', async () => {
    expect((await get1(`/api/hello/${'a'.repeat(8 * 1024)}`)).status).toBe(414);
    expect((await get1('/api/hello/a', `X-Big: ${'b'.repeat(33 * 1024)}\r\n`)).status).toBe(431);
    const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join('');
    expect((await get1('/api/hello/a', many)).status).toBe(431);
    expect((await get1('/api/hello/a', `X-Ok: ${'b'.repeat(16 * 1024)}\r\n`)).status).toBe(200);
  });

  it('refuses an unauthorised request with 401 before reading its body (it buffered 99 MB before)', async () => {
    const huge = { 'content-length': String(99 * 1024 * 1024) };
    expect(await postUnfinished('/api/secure/x', huge, 1024)).toEqual({ status: 401, sentBytes: 1024 });
    expect(await postUnfinished('/admin/functions/tick', huge, 1024)).toMatchObject({ status: 401 });
    const eventGrid = '/runtime/webhooks/eventgrid?functionName=onEvent';
    expect(
      await postUnfinished(eventGrid, { ...huge, 'aeg-event-type': 'Notification' }, 1024),
    ).toMatchObject({
      status: 401,
    });
  });

  it('refuses a declared length over the limit with 413 before reading, and cuts a chunked body at the limit', async () => {
    const key = { 'x-functions-key': host.keys.functionKey };
    expect(await postUnfinished('/api/secure/x', { ...key, 'content-length': '1025' }, 0)).toEqual({
      status: 413,
      sentBytes: 0,
    });
    // Chunked: 1 KB + 1 byte is enough for the answer; the rest of the body is never sent.
    expect(await postUnfinished('/api/secure/x', { ...key, 'transfer-encoding': 'chunked' }, 1025)).toEqual({
      status: 413,
      sentBytes: 1025,
    });
    // The host keeps answering.
    expect((await get('/api/hello/still-here')).status).toBe(200);
  });

  it('decodes a path as Kestrel does, one escape at a time', () => {
    expect(decodeRequestPath('/a%20b/%F0%9F%9B%A3/%f0%9f')).toBe('/a b/🛣/%f0%9f');
    expect(decodeRequestPath('/%%41%E2%41')).toBe('/%A%E2A');
    expect(decodeRequestPath('/%F4%90%80%80')).toBe('/%F4%90%80%80'); // above U+10FFFF
    expect(decodeRequestPath('/x%00')).toBeNull();
  });
});

describe('route templates', () => {
  it('compiles optional, constrained, catch-all and mixed segments', () => {
    const route = compileRoute('api/orders/{id:int}/{action?}');
    expect(route.match('/api/orders/7')).toEqual({ id: '7' });
    expect(route.match('/api/ORDERS/7/ship')).toEqual({ id: '7', action: 'ship' });
    expect(route.match('/api/orders/x')).toBeUndefined();
    expect(compileRoute('api/doc/{name}.{ext}').match('/api/doc/report.final.pdf')).toEqual({
      name: 'report',
      ext: 'final.pdf',
    });
    expect(compileRoute('api/a/{code:alpha}').match('/api/a/abc1')).toBeUndefined();
    expect(() => compileRoute('api/{x:regex(a)}')).toThrow(/can't|cannot|doesn't support/);
  });
});
