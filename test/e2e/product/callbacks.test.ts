// Where result callbacks may go, end to end through the unmodified app on the local host: targets inside the
// network are refused with a 400 when a match is requested, a callback named in blob metadata must be on the
// allow-list, a target that reaches `notify` by another path (an instance started through the Durable HTTP
// API) is refused there and the refusal shows in GET /api/matches/{id}, and the local loopback receiver works
// through the stack's allow-list (NOTIFY_ALLOWED_HOSTS=127.0.0.1).
//
// The refused targets used here are all on this machine (127.0.0.2, 127.0.0.1 without the allow-list, ::1,
// 0.0.0.0, localhost): a regression must never send traffic anywhere else. The same request-time rules are
// checked for 10.0.0.1, 169.254.169.254, fe80::1 and the rest in test/unit/api/schemas.test.ts through the
// function the handler calls.
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { SIGNATURE_HEADER, verifySignature } from '../../../shared/workflow/notify.js';
import {
  api,
  getMatch,
  readOutboxJson,
  rejectionReportName,
  uploadInbox,
  uploadPdgFile,
  useApp,
  waitForMatch,
  waitUntil,
} from '../harness.js';

const app = useApp({ name: 'callbacks', timeScale: 600 });
/** Counts TCP connections to 127.0.0.2:<port>, the stand-in for a target inside the network. */
let inside: { server: Server; port: number; connections: number };
/** The allow-listed receiver on 127.0.0.1. */
let receiver: { url: string; received: { headers: IncomingHttpHeaders; body: string }[]; close(): void };

beforeAll(async () => {
  const server = createTcpServer((socket) => {
    inside.connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  inside = { server, port: (server.address() as AddressInfo).port, connections: 0 };

  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const http = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  receiver = {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/hooks/gem`,
    received,
    close: () => http.close(),
  };
});

afterAll(async () => {
  inside?.server.close();
  receiver?.close();
});

interface ErrorBody {
  error: { code: string; details?: { field: string; reason: string }[] };
}

describe('at request time', () => {
  // 127.0.0.1 itself is on this stack's allow-list (its own receiver), so its neighbour 127.0.0.2 stands in.
  it.each([
    ['https://127.0.0.2/hook', /127\.0\.0\.2 is a loopback address/],
    ['https://[::1]/hook', /::1 is a loopback address/],
    ['https://0.0.0.0/hook', /0\.0\.0\.0 is the unspecified address/],
    ['https://2130706434/hook', /127\.0\.0\.2 is a loopback address/],
    ['https://0x7f000002/hook', /127\.0\.0\.2 is a loopback address/],
    ['https://0177.0.0.2/hook', /127\.0\.0\.2 is a loopback address/],
    ['https://localhost./hook', /localhost\. is a special-use name/],
    ['https://[::ffff:127.0.0.2]/hook', /IPv4-mapped/],
    ['http://127.0.0.2:8080/hook', /must use https \(http is accepted only for hosts listed/],
  ])('%s → 400 naming callbackUrl and the reason', async (callbackUrl, reason) => {
    const response = await api(app).post<ErrorBody>('/api/matches', {
      pdgFilename: 'never.parquet',
      callbackUrl,
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('ValidationFailed');
    expect(response.body.error.details).toEqual([
      { field: 'callbackUrl', reason: expect.stringMatching(reason) },
    ]);
    expect(inside.connections).toBe(0);
  });
});

describe('the local receiver, through the allow-list', () => {
  it('gets the signed callback of a match started over HTTP, and the status shows the delivery', async () => {
    await uploadPdgFile(app, 'cb-http.parquet', roadMatchingSample('valid', { rows: 12, seed: 21 }));
    const before = receiver.received.length;
    const started = await api(app).post('/api/matches', {
      pdgFilename: 'cb-http.parquet',
      callbackUrl: receiver.url,
    });
    expect(started.status).toBe(202);
    const status = await waitForMatch(app, started.body.id as string);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', outcome: 'succeeded' });
    expect(status.notification).toEqual({
      delivered: true,
      refused: false,
      attempts: 1,
      lastStatus: 204,
      error: null,
    });
    const [call] = receiver.received.slice(before);
    expect(call).toBeDefined();
    const signature = String(call!.headers[SIGNATURE_HEADER]);
    expect(
      verifySignature(call!.body, signature, app.stack.settings.NOTIFY_SIGNING_SECRET!, { now: new Date() }),
    ).toBe(true);
  });

  it('may be named in blob metadata, because the allow-list lists it', async () => {
    const before = receiver.received.length;
    const upload = await uploadInbox(
      app,
      'cb-meta.parquet',
      roadMatchingSample('valid', { rows: 12, seed: 22 }),
      {
        callbackurl: receiver.url,
      },
    );
    const status = await waitForMatch(app, upload.matchId);
    expect(status).toMatchObject({
      runtimeStatus: 'Completed',
      notification: { delivered: true, attempts: 1 },
    });
    expect(receiver.received.length).toBe(before + 1);
  });
});

describe('blob metadata naming a host the allow-list does not list', () => {
  // A public host the allow-list does not list is refused the same way (test/unit/functions/startMatch.test.ts);
  // only a target on this machine is used here, so that a regression sends nothing off it.
  it('is rejected with a report naming callbackUrl, and no match starts', async () => {
    const name = 'cb-meta-inside.parquet';
    const upload = await uploadInbox(app, name, roadMatchingSample('valid', { rows: 12, seed: 23 }), {
      callbackurl: `https://127.0.0.2:${inside.port}/hook`,
    });
    const reportName = rejectionReportName(app, upload);
    const report = await waitUntil(
      () =>
        readOutboxJson<{ kind: string; problems: { column: string; message: string }[] }>(app, reportName),
      `outbox/${reportName}`,
    );
    expect(report.kind).toBe('gem-flow.rejected-upload');
    expect(report.problems).toEqual([
      {
        rule: 'options',
        column: 'callbackUrl',
        message: expect.stringMatching(
          /blob metadata key callbackurl, which may name only a host listed in NOTIFY_ALLOWED_HOSTS/,
        ),
      },
    ]);
    expect(await getMatch(app, upload.matchId)).toBeUndefined();
    expect(inside.connections).toBe(0);
  });
});

/** Starts matchFile through the Durable HTTP API (system key), bypassing POST /api/matches and its checks. */
async function startByDurableApi(instanceId: string, filename: string, callbackUrl: string): Promise<void> {
  const input = {
    request: {
      source: { kind: 'pdg', filename },
      storageId: app.stack.info.pdgStorageId,
      jobType: 'ROAD_MATCHING',
      overtureRelease: '2026-01-21.0',
      callbackUrl,
      trigger: 'http',
      requestedAt: new Date().toISOString(),
    },
    policy: {
      initialIntervalSeconds: 30,
      maxIntervalSeconds: 600,
      backoffFactor: 1.5,
      deadlineHours: 48,
      pollsPerGeneration: 50,
      segmentsPerHour: 100_000,
      permanentErrorLimit: 3,
    },
  };
  const url = new URL(`/runtime/webhooks/durabletask/orchestrators/matchFile/${instanceId}`, app.baseUrl);
  url.searchParams.set('code', app.keys.systemKey);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  await response.arrayBuffer();
  expect(response.status).toBe(202);
}

describe('a target that reaches notify by another path', () => {
  it('is refused there: nothing connects, the match completes, and its status shows the refusal', async () => {
    await uploadPdgFile(app, 'cb-other-path.parquet', roadMatchingSample('valid', { rows: 12, seed: 24 }));
    await startByDurableApi(
      'cb-other-path',
      'cb-other-path.parquet',
      `https://127.0.0.2:${inside.port}/hook`,
    );
    const status = await waitForMatch(app, 'cb-other-path');
    expect(status).toMatchObject({ runtimeStatus: 'Completed', outcome: 'succeeded' });
    expect(status.notification).toEqual({
      delivered: false,
      refused: true,
      attempts: 0,
      lastStatus: null,
      error: expect.stringMatching(
        /^The callback URL must reach the public internet, but its host 127\.0\.0\.2 is a loopback address/,
      ),
    });
    expect(inside.connections).toBe(0);
  });

  it('a failed match shows its refused callback too (from its custom status)', async () => {
    await startByDurableApi('cb-failed', 'no-such-file.parquet', 'https://localhost/hook');
    const status = await waitForMatch(app, 'cb-failed');
    expect(status).toMatchObject({ runtimeStatus: 'Failed', phase: 'failed' });
    expect(status.notification).toMatchObject({
      delivered: false,
      refused: true,
      attempts: 0,
      error: expect.stringMatching(/localhost is a special-use name/),
    });
  });
});
