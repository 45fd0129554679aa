/**
 * The server-side staging path's own rules, with the real storage SDK over a fake transport (the HttpClient
 * under the SDK's pipeline) and a fake clock: the SAS it mints (read-only, one blob, start in the past,
 * minutes long), one delegation key for many blocks and a new one when it runs low, the service URL of host-
 * and path-style endpoints, and errors that never carry the SAS. The paths against real services are in
 * test/contract/staging/staging.test.ts.
 */
import { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/core-auth';
import { createHttpHeaders } from '@azure/core-rest-pipeline';
import {
  BlobClient,
  BlobServiceClient,
  BlockBlobClient,
  ContainerClient,
  type HttpOperationResponse,
  type IHttpClient,
  StorageSharedKeyCredential,
  type WebResource,
} from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { stageInput } from '../../../shared/staging/copy.js';
import { sourceIdentity } from '../../../shared/staging/identity.js';
import {
  CopyCallError,
  ServerSideUnavailable,
  SourceReadUrls,
  serverSideCopy,
  serviceUrlOf,
} from '../../../shared/staging/serverSide.js';

const token: TokenCredential = {
  getToken: async () => ({ token: 'header.payload.signature', expiresOnTimestamp: Date.now() + 3_600_000 }),
};
const KEY_VALUE = Buffer.alloc(32, 7).toString('base64');
const MINUTE = 60_000;

type Reply = { status: number; headers?: Record<string, string>; body?: string; stream?: Buffer };

/**
 * Answers each request with `reply(request)` and records it. The storage SDK takes a core-http style client
 * (IHttpClient) and adapts it; the adapter reads the response headers through `toJson` only.
 */
function fakeTransport(reply: (request: WebResource) => Reply): { client: IHttpClient; seen: WebResource[] } {
  const seen: WebResource[] = [];
  const client: IHttpClient = {
    async sendRequest(request) {
      seen.push(request);
      const r = reply(request);
      const headers = createHttpHeaders({ 'x-ms-request-id': 'r1', ...r.headers });
      const compatHeaders = Object.assign(headers, {
        toJson: (options?: { preserveCase?: boolean }) => headers.toJSON(options),
      }) as unknown as HttpOperationResponse['headers'];
      const body = r.stream
        ? { readableStreamBody: Readable.from([r.stream]) }
        : { bodyAsText: r.body ?? '' };
      return { request, status: r.status, headers: compatHeaders, ...body };
    },
  };
  return { client, seen };
}

function delegationKeyReply(request: WebResource): Reply {
  const body = String(request.body ?? '');
  const start = /<Start>(.*?)<\/Start>/.exec(body)?.[1] ?? '';
  const expiry = /<Expiry>(.*?)<\/Expiry>/.exec(body)?.[1] ?? '';
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="utf-8"?><UserDelegationKey><SignedOid>oid-1</SignedOid><SignedTid>tid-1</SignedTid><SignedStart>${start}</SignedStart><SignedExpiry>${expiry}</SignedExpiry><SignedService>b</SignedService><SignedVersion>2025-01-05</SignedVersion><Value>${KEY_VALUE}</Value></UserDelegationKey>`,
  };
}

const isKeyRequest = (r: WebResource) => r.url.includes('comp=userdelegationkey');

const inboxAccount = 'https://inboxacct.blob.core.windows.net';
const fakeOptions = (client: IHttpClient) => ({ httpClient: client, retryOptions: { maxTries: 1 } });
const sourceWith = (client: IHttpClient) =>
  new BlobClient(`${inboxAccount}/inbox/run%201/roads.parquet`, token, fakeOptions(client));
const serviceWith = (client: IHttpClient) => new BlobServiceClient(inboxAccount, token, fakeOptions(client));
const readUrls = (client: IHttpClient, now?: () => Date) =>
  new SourceReadUrls(sourceWith(client), { service: serviceWith(client), now });

describe('SourceReadUrls', () => {
  it('mints a read-only SAS for the one blob, started 5 minutes back, 15 minutes long', async () => {
    const { client, seen } = fakeTransport(delegationKeyReply);
    const now = new Date('2026-03-01T10:00:00Z');
    const urls = readUrls(client, () => now);
    const { url, signature } = await urls.next();
    const sas = new URL(url).searchParams;
    expect(url.startsWith('https://inboxacct.blob.core.windows.net/inbox/run%201/roads.parquet?')).toBe(true);
    expect(sas.get('sp')).toBe('r');
    expect(sas.get('sr')).toBe('b');
    expect(sas.get('spr')).toBe('https');
    expect(sas.get('st')).toBe('2026-03-01T09:55:00Z');
    expect(sas.get('se')).toBe('2026-03-01T10:15:00Z');
    expect(sas.get('skoid')).toBe('oid-1');
    expect(sas.get('sig')).toBe(signature);
    expect(seen.filter(isKeyRequest)).toHaveLength(1);
    expect(seen[0]!.url).toBe(
      'https://inboxacct.blob.core.windows.net/?restype=service&comp=userdelegationkey',
    );
  });

  it('reuses one delegation key for many SAS and asks for a new one when it has less than a SAS life left', async () => {
    const { client, seen } = fakeTransport(delegationKeyReply);
    let now = new Date('2026-03-01T10:00:00Z').getTime();
    const urls = readUrls(client, () => new Date(now));
    for (let i = 0; i < 5; i++) await urls.next();
    expect(seen.filter(isKeyRequest)).toHaveLength(1);
    now += 44 * MINUTE; // key expires at 11:00; 16 minutes left is still more than a SAS life
    await urls.next();
    expect(seen.filter(isKeyRequest)).toHaveLength(1);
    now += 2 * MINUTE;
    await urls.next();
    expect(seen.filter(isKeyRequest)).toHaveLength(2);
  });

  it('refuses an account-key or anonymous source: only an Entra token gets a user delegation key', () => {
    const key = new StorageSharedKeyCredential('inboxacct', Buffer.alloc(16).toString('base64'));
    const source = new BlobClient('https://inboxacct.blob.core.windows.net/inbox/roads.parquet', key);
    expect(() => new SourceReadUrls(source)).toThrow(ServerSideUnavailable);
    expect(() => new SourceReadUrls(new BlobClient(source.url))).toThrow(/only an Entra token/);
  });

  it('reports a refused delegation key by step, status and error code', async () => {
    const { client } = fakeTransport(() => ({
      status: 403,
      headers: { 'x-ms-error-code': 'AuthorizationPermissionMismatch', 'content-type': 'application/xml' },
      body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.</Message></Error>',
    }));
    const err = await readUrls(client)
      .next()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyCallError);
    expect(err).toMatchObject({
      step: 'delegation-key',
      statusCode: 403,
      details: { errorCode: 'AuthorizationPermissionMismatch' },
    });
  });
});

describe('serviceUrlOf', () => {
  it('tells host-style endpoints from path-style ones', () => {
    expect(serviceUrlOf(new BlobClient('https://acct.blob.core.windows.net/c/a/b.parquet'))).toBe(
      'https://acct.blob.core.windows.net',
    );
    expect(serviceUrlOf(new BlobClient('https://127.0.0.1:10000/devstoreaccount1/c/b.parquet'))).toBe(
      'https://127.0.0.1:10000/devstoreaccount1',
    );
  });
});

describe('serverSideCopy', () => {
  const target = (client: IHttpClient) =>
    new BlockBlobClient(
      'https://pdgacct.blob.core.windows.net/default/roads.abc.parquet',
      token,
      fakeOptions(client),
    );

  it('keeps the SAS out of the error when the PDG storage refuses a block, even if the service echoes it', async () => {
    const { client } = fakeTransport((request) => {
      if (isKeyRequest(request)) return delegationKeyReply(request);
      const echoed = request.headers.get('x-ms-copy-source') ?? '';
      return {
        status: 403,
        headers: { 'x-ms-error-code': 'CannotVerifyCopySource', 'content-type': 'application/xml' },
        body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>CannotVerifyCopySource</Code><Message>Source ${echoed} refused</Message></Error>`,
      };
    });
    const err = (await serverSideCopy({
      source: sourceWith(client),
      sourceService: serviceWith(client),
      sourceEtag: '"0x1"',
      size: 10,
      target: target(client),
      contentId: 'a'.repeat(64),
      metadata: {},
      contentType: 'application/octet-stream',
    }).catch((e: unknown) => e)) as CopyCallError;
    expect(err).toBeInstanceOf(CopyCallError);
    expect(err).toMatchObject({ step: 'stage-block', statusCode: 403 });
    expect(JSON.stringify({ ...err, message: err.message })).not.toMatch(
      /sig=(?!\[redacted\])|skoid|request/,
    );
    expect(err.cause).toBeUndefined();
  });

  it('refuses to commit when the source has a new etag after the last block', async () => {
    const { client, seen } = fakeTransport((request) => {
      if (isKeyRequest(request)) return delegationKeyReply(request);
      if (request.method === 'HEAD')
        return { status: 200, headers: { etag: '"0x2"', 'content-length': '10' } };
      return { status: 201 };
    });
    const err = await serverSideCopy({
      source: sourceWith(client),
      sourceService: serviceWith(client),
      sourceEtag: '"0x1"',
      size: 10,
      target: target(client),
      contentId: 'b'.repeat(64),
      metadata: {},
      contentType: 'application/octet-stream',
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SOURCE_CHANGED' });
    expect(seen.some((r) => r.url.includes('comp=blocklist'))).toBe(false);
    expect(seen.filter((r) => r.url.includes('comp=block&'))).toHaveLength(1);
  });
});

describe('sourceIdentity', () => {
  const blob = new BlobClient('https://acct.blob.core.windows.net/inbox/roads.parquet');
  it('is the recorded sha256 when its size matches, and the source version otherwise', () => {
    const sha = 'c'.repeat(64);
    const recorded = sourceIdentity(blob, {
      etag: '"0x1"',
      contentLength: 5,
      metadata: { sha256: sha, sha256size: '5' },
    });
    expect(recorded).toMatchObject({ contentId: sha, sha256: sha, basis: 'recorded-sha256' });
    const stale = sourceIdentity(blob, {
      etag: '"0x1"',
      contentLength: 6,
      metadata: { sha256: sha, sha256size: '5' },
    });
    expect(stale).toMatchObject({ sha256: null, basis: 'source-version' });
    expect(stale.contentId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with the etag, the length and the blob, and ignores how the etag is quoted', () => {
    const id = (etag: string, contentLength = 5, b = blob) =>
      sourceIdentity(b, { etag, contentLength }).contentId;
    expect(id('"0x1"')).toBe(id('0x1'));
    expect(id('"0x1"')).not.toBe(id('"0x2"'));
    expect(id('"0x1"')).not.toBe(id('"0x1"', 6));
    expect(id('"0x1"')).not.toBe(
      id('"0x1"', 5, new BlobClient('https://acct.blob.core.windows.net/inbox/other.parquet')),
    );
  });
});

describe('stageInput: the fallback is decided from the real error', () => {
  const bytes = Buffer.from('id,geometry\n1,LINESTRING (0 0, 1 1)\n');
  /** A source account that answers the delegation key with `keyReply`, and a PDG account that takes blocks. */
  function accounts(keyReply: Reply) {
    return fakeTransport((request) => {
      const url = new URL(request.url);
      if (isKeyRequest(request)) return keyReply;
      if (url.hostname.startsWith('inboxacct')) {
        const headers = { etag: '"0x1"', 'content-length': String(bytes.byteLength) };
        if (request.method === 'HEAD') return { status: 200, headers };
        return { status: 200, headers, stream: bytes };
      }
      if (request.method === 'HEAD') return { status: url.search ? 200 : 404, headers: { etag: '"0x9"' } };
      return { status: url.searchParams.get('comp') === 'metadata' ? 200 : 201, headers: { etag: '"0x9"' } };
    });
  }
  const stage = (client: IHttpClient) =>
    stageInput({
      source: sourceWith(client),
      sourceService: serviceWith(client),
      target: new ContainerClient(
        'https://pdgacct.blob.core.windows.net/default',
        token,
        fakeOptions(client),
      ),
    });
  const refusal = (status: number, code: string): Reply => ({
    status,
    headers: { 'x-ms-error-code': code, 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>no</Message></Error>`,
  });

  it('streams when the source account refuses a user delegation key (no Storage Blob Delegator role)', async () => {
    const { client, seen } = accounts(refusal(403, 'AuthorizationPermissionMismatch'));
    const staged = await stage(client);
    expect(staged).toMatchObject({ method: 'streamed', bytesThroughApp: bytes.byteLength });
    expect(staged.fallbackReason).toBe(
      'getting a user delegation key from the source account was refused (403 AuthorizationPermissionMismatch)',
    );
    expect(seen.some((r) => r.url.includes('comp=blocklist'))).toBe(true);
  });

  it('does not stream around a server fault: the activity retry repeats the whole attempt', async () => {
    const { client, seen } = accounts(refusal(503, 'ServerBusy'));
    const err = await stage(client).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TRANSIENT', retriable: true });
    expect(seen.some((r) => r.method === 'GET')).toBe(false);
  });
});
