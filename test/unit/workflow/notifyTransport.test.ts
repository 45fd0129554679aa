// sendNotification over real sockets on loopback: the connection goes only to the address that was checked
// (a resolver that changes its answer cannot move it), TLS is still verified against the URL's host name,
// redirects are not followed, the receiver's body is never buffered, and a silent receiver times out.
// Two loopback addresses stand for "public" and "inside": 127.0.0.2 is admitted through the allow-list,
// 127.0.0.1 is not, and both listen on the same port so a connection that slipped to the wrong one is seen.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import selfsigned from 'selfsigned';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HostResolver, parseAllowList } from '../../../shared/workflow/callbackTarget.js';
import { buildNotificationRequest, sendNotification } from '../../../shared/workflow/notify.js';

const notification = buildNotificationRequest({ outcome: 'succeeded' }, 'test-signing-secret', new Date());
const CHECKED = '127.0.0.2';
const INSIDE = '127.0.0.1';
/** 127.0.0.2 stands for a public address: admitted by the allow-list. 127.0.0.1 stays refused. */
const allowList = parseAllowList(CHECKED).allowList;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface Hit {
  host: string | undefined;
  servername: string | false | undefined;
}

let tlsPair: { cert: string; key: string };

beforeAll(async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'callback.test' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 3600_000),
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'callback.test' }] }],
  });
  tlsPair = { cert: pems.cert, key: pems.private };
});

const open: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A receiver on `address`; records each request and answers with `handler` (default 204). */
async function receiver(
  address: string,
  options: { tls?: boolean; port?: number; handler?: Handler } = {},
): Promise<{ port: number; hits: Hit[] }> {
  const hits: Hit[] = [];
  const handle: Handler = (req, res) => {
    const socket = req.socket as { servername?: string | false };
    hits.push({ host: req.headers.host, servername: socket.servername });
    if (options.handler) options.handler(req, res);
    else req.resume().on('end', () => res.writeHead(204).end());
  };
  const server = options.tls ? createHttpsServer(tlsPair, handle) : createHttpServer(handle);
  open.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, address, () => resolve());
  });
  return { port: (server.address() as AddressInfo).port, hits };
}

/** The checked receiver on 127.0.0.2 and a second one on 127.0.0.1 at the same port. */
async function checkedAndInside(options: { tls?: boolean; handler?: Handler } = {}) {
  for (;;) {
    const checked = await receiver(CHECKED, options);
    try {
      const inside = await receiver(INSIDE, { ...options, port: checked.port });
      return { port: checked.port, checked: checked.hits, inside: inside.hits };
    } catch {
      // The port is taken on 127.0.0.1 by something else: try another.
    }
  }
}

/** Answers `first` on the first call and `then` on every later one, counting calls: a rebinding DNS. */
function rebinding(first: string, then: string): HostResolver & { calls: number } {
  const resolver = Object.assign(
    async () => {
      resolver.calls += 1;
      return [{ address: resolver.calls === 1 ? first : then, family: 4 }];
    },
    { calls: 0 },
  );
  return resolver;
}

describe('the connection is pinned to the checked address', () => {
  it('a resolver answering a permitted address, then an inside one, never gets the inside one connected', async () => {
    const { port, checked, inside } = await checkedAndInside({ tls: true });
    const resolve = rebinding(CHECKED, INSIDE);
    const outcome = await sendNotification(`https://callback.test:${port}/hook`, notification, {
      maxAttempts: 1,
      retryDelayMs: 10,
      allowList,
      resolve,
      trustedCa: tlsPair.cert,
    });
    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 204 });
    expect(checked).toEqual([{ host: `callback.test:${port}`, servername: 'callback.test' }]);
    expect(inside).toEqual([]);
    expect(resolve.calls).toBe(1);
  });

  it('retries go to the same checked address; DNS is not asked again', async () => {
    let answered = 0;
    const { port, checked, inside } = await checkedAndInside({
      tls: true,
      handler: (req, res) => req.resume().on('end', () => res.writeHead(answered++ === 0 ? 503 : 200).end()),
    });
    const resolve = rebinding(CHECKED, INSIDE);
    const outcome = await sendNotification(`https://callback.test:${port}/hook`, notification, {
      maxAttempts: 3,
      retryDelayMs: 10,
      allowList,
      resolve,
      trustedCa: tlsPair.cert,
    });
    expect(outcome).toEqual({ delivered: true, attempts: 2, status: 200 });
    expect(checked).toHaveLength(2);
    expect(inside).toEqual([]);
    expect(resolve.calls).toBe(1);
  });

  it('a name that resolves inside is refused and nothing connects', async () => {
    const { port, checked, inside } = await checkedAndInside();
    const outcome = await sendNotification(`https://callback.test:${port}/hook`, notification, {
      maxAttempts: 3,
      retryDelayMs: 10,
      allowList,
      resolve: rebinding(INSIDE, CHECKED),
    });
    expect(outcome).toEqual({
      delivered: false,
      refused: true,
      attempts: 0,
      error:
        'The callback host callback.test resolves to 127.0.0.1, which is a loopback address (this machine); list the host in NOTIFY_ALLOWED_HOSTS to allow it.',
    });
    expect([...checked, ...inside]).toEqual([]);
  });
});

describe('TLS', () => {
  it('verifies the certificate against the URL host name, not the address connected to', async () => {
    const { port, checked } = await checkedAndInside({ tls: true });
    const outcome = await sendNotification(`https://other.test:${port}/hook`, notification, {
      maxAttempts: 1,
      retryDelayMs: 10,
      allowList,
      resolve: async () => [{ address: CHECKED, family: 4 }],
      trustedCa: tlsPair.cert,
    });
    expect(outcome).toMatchObject({ delivered: false, attempts: 1 });
    expect(outcome.error).toMatch(/other\.test.*(altnames|does not match)|Hostname\/IP does not match/i);
    expect(checked).toEqual([]);
  });

  it('refuses a certificate no trusted CA signed', async () => {
    const { port } = await checkedAndInside({ tls: true });
    const outcome = await sendNotification(`https://callback.test:${port}/hook`, notification, {
      maxAttempts: 1,
      retryDelayMs: 10,
      allowList,
      resolve: async () => [{ address: CHECKED, family: 4 }],
    });
    expect(outcome).toMatchObject({ delivered: false });
    expect(outcome.error).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });
});

describe('the allow-list and the local receiver', () => {
  it('admits a listed loopback receiver over http, and only that one', async () => {
    const local = await receiver(INSIDE);
    const admitted = await sendNotification(`http://127.0.0.1:${local.port}/done`, notification, {
      maxAttempts: 1,
      retryDelayMs: 10,
      allowList: parseAllowList('127.0.0.1').allowList,
    });
    expect(admitted).toEqual({ delivered: true, attempts: 1, status: 204 });
    const refused = await sendNotification(`http://127.0.0.1:${local.port}/done`, notification, {
      maxAttempts: 1,
      retryDelayMs: 10,
    });
    expect(refused).toMatchObject({ delivered: false, refused: true, attempts: 0 });
    expect(local.hits).toHaveLength(1);
  });
});

describe('an IPv6 literal receiver', () => {
  it('is reached through the pinned lookup (the URL keeps the brackets in its host)', async () => {
    const local = await receiver('::1');
    const outcome = await sendNotification(`http://[::1]:${local.port}/done`, notification, {
      maxAttempts: 1,
      retryDelayMs: 10,
      allowList: parseAllowList('::1').allowList,
    });
    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 204 });
    expect(local.hits).toHaveLength(1);
  });
});

describe('what the receiver answers', () => {
  const local = parseAllowList('127.0.0.1').allowList;

  it('a redirect is final: the signed body is not sent where the Location points', async () => {
    const elsewhere = await receiver(INSIDE);
    const redirecting = await receiver(INSIDE, {
      handler: (req, res) =>
        req
          .resume()
          .on('end', () =>
            res.writeHead(307, { location: `http://127.0.0.1:${elsewhere.port}/stolen` }).end(),
          ),
    });
    const outcome = await sendNotification(`http://127.0.0.1:${redirecting.port}/hook`, notification, {
      maxAttempts: 3,
      retryDelayMs: 10,
      allowList: local,
    });
    expect(outcome).toMatchObject({ delivered: false, attempts: 1, status: 307 });
    expect(elsewhere.hits).toEqual([]);
  });

  it('an endless response body is not read: the send ends and the receiver sees the connection close', async () => {
    let closed!: () => void;
    const receiverClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const endless = await receiver(INSIDE, {
      handler: (req, res) =>
        req.resume().on('end', () => {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const chunk = Buffer.alloc(64 * 1024, 120);
          const pump = () => {
            while (!res.destroyed && res.write(chunk));
          };
          res.on('drain', pump);
          res.on('close', closed);
          pump();
        }),
    });
    const outcome = await sendNotification(`http://127.0.0.1:${endless.port}/hook`, notification, {
      maxAttempts: 1,
      retryDelayMs: 10,
      allowList: local,
    });
    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 200 });
    await receiverClosed;
  });

  it('a receiver that never answers times out', async () => {
    const silent = await receiver(INSIDE, { handler: (req) => req.resume() });
    const outcome = await sendNotification(`http://127.0.0.1:${silent.port}/hook`, notification, {
      maxAttempts: 1,
      retryDelayMs: 10,
      timeoutMs: 300,
      allowList: local,
    });
    expect(outcome).toMatchObject({ delivered: false, attempts: 1 });
    expect(outcome.error).toMatch(/did not answer within 300 ms/);
  });
});

afterAll(() => {
  for (const server of open) server.close();
});
