// isNotFound (shared/errors.ts) against the errors the real clients throw: a Storage RestError from
// @azure/storage-blob, and the DurableClient's error from durable-functions, each answered by a local server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound } from '../../shared/errors.js';

let server: Server;
let baseUrl: string;

/** Answers every request with the status in the path's first segment, and a body that mentions 404. */
beforeAll(async () => {
  server = createServer((req, res) => {
    const status = Number(/^\/(\d{3})\//.exec(req.url ?? '')?.[1] ?? 404);
    res
      .writeHead(status, { 'content-type': 'application/json', 'x-ms-error-code': 'Test' })
      .end(JSON.stringify({ message: 'the handler failed at line 404: instance not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function durableClient(status: number): df.DurableClient {
  const input = df.input.durableClient();
  const context = new InvocationContext({ options: { extraInputs: [input] } });
  const base = `${baseUrl}/${status}/runtime/webhooks/durabletask`;
  context.extraInputs.set(input, {
    taskHubName: 'hub',
    creationUrls: {},
    managementUrls: {},
    baseUrl: base,
    requiredQueryStringParameters: 'code=x',
    rpcBaseUrl: `${base}/`,
  });
  return df.getClient(context);
}

async function failureOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('the call did not fail');
}

function blob(status: number) {
  const account = 'devstoreaccount1';
  const key = Buffer.from('not-a-real-key').toString('base64');
  return BlobServiceClient.fromConnectionString(
    `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${key};BlobEndpoint=${baseUrl}/${status}/${account};`,
    { retryOptions: { maxTries: 1 } },
  )
    .getContainerClient('c')
    .getBlobClient('b');
}

describe('isNotFound', () => {
  it('is true for a Storage 404 and false for another status, whatever the message says', async () => {
    expect(isNotFound(await failureOf(() => blob(404).getProperties()))).toBe(true);
    expect(isNotFound(await failureOf(() => blob(404).downloadToBuffer()))).toBe(true);
    const serverError = await failureOf(() => blob(500).downloadToBuffer());
    expect((serverError as { statusCode?: number }).statusCode).toBe(500);
    expect(isNotFound(serverError)).toBe(false);
  });

  it("is true for the DurableClient's 404 and false for its other failures", async () => {
    const missing = await failureOf(() => durableClient(404).getStatus('no-such-instance'));
    expect(isNotFound(missing)).toBe(true);
    const failed = await failureOf(() => durableClient(500).getStatus('match-404'));
    expect(String(failed)).toMatch(/404/); // the instance id and the body both carry the digits
    expect(isNotFound(failed)).toBe(false);
  });

  it('is false for errors without a status: no answer, a plain error, a non-error', async () => {
    const refused = await failureOf(() =>
      BlobServiceClient.fromConnectionString(
        'DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/a;',
        { retryOptions: { maxTries: 1 } },
      )
        .getContainerClient('c')
        .getBlobClient('b')
        .getProperties(),
    );
    expect(isNotFound(refused)).toBe(false);
    expect(isNotFound(new Error('connect ECONNREFUSED 127.0.0.1:10404'))).toBe(false);
    expect(isNotFound(undefined)).toBe(false);
    expect(isNotFound('404')).toBe(false);
  });
});
