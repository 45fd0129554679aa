// A real ManagedIdentityCredential against an endpoint that behaves like the App Service / Functions one:
// it keeps serving the token it cached for a resource (the platform's back-end cache, about 24 hours, and
// "currently not possible to force a managed identity's token to be refreshed before its expiration":
// https://learn.microsoft.com/azure/app-service/overview-managed-identity#configure-target-resource).
// When TomTom refuses that token, the client must not pretend a resend could help.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyProvider } from '../../../shared/auth/apiKeyProvider.js';
import { createTokenCredential } from '../../../shared/auth/tokenCredential.js';
import { loadSettings } from '../../../shared/config.js';
import { createTomTomClient } from '../../../shared/tomtom/client.js';
import { InvalidAccessTokenError } from '../../../shared/tomtom/errors.js';
import { scriptedHttpClient } from '../tomtom/fakes.js';

let endpointRequests = 0;
const cachedByResource = new Map<string, string>();
const server = createServer((request, response) => {
  endpointRequests += 1;
  const resource = new URL(request.url ?? '/', 'http://x').searchParams.get('resource') ?? '';
  const accessToken = cachedByResource.get(resource) ?? `mi-token-${cachedByResource.size + 1}`;
  cachedByResource.set(resource, accessToken);
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(
    JSON.stringify({
      access_token: accessToken,
      expires_on: String(Math.floor(Date.now() / 1000) + 24 * 3600),
      resource,
      token_type: 'Bearer',
    }),
  );
});

const invalidToken = { detailedError: { code: 'Unauthorized', message: 'Invalid authorization token' } };

describe('a managed-identity token refused by TomTom', () => {
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // MSAL reads the platform variables itself, so the test sets them (and removes them afterwards).
    process.env.IDENTITY_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`;
    process.env.IDENTITY_HEADER = 'local-identity-header';
  });

  afterAll(async () => {
    delete process.env.IDENTITY_ENDPOINT;
    delete process.env.IDENTITY_HEADER;
    server.close();
    await once(server, 'close');
  });

  it('is sent once, not again with the same key, and the error says what clears it', async () => {
    const settings = loadSettings({
      TOMTOM_API_KEY: 'tt-key-0123456789',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT,
    });
    const credential = createTokenCredential(settings.auth);
    expect(credential.kind).toBe('managed-identity');
    const { httpClient, sent } = scriptedHttpClient({ status: 401, body: invalidToken });
    const client = createTomTomClient({
      settings,
      apiKeyProvider: createApiKeyProvider(settings),
      credential,
      httpClient,
    });

    const error = await client.listStorages().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(InvalidAccessTokenError);
    expect(error?.message).toMatch(/up to about 24 hours/);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.authorization).toBe('Bearer mi-token-1');
    expect(endpointRequests).toBe(1);

    // A later call carries the same token: nothing in the process could have obtained another one.
    await client.listStorages().catch(() => undefined);
    expect(sent.map((request) => request.headers.authorization)).toEqual([
      'Bearer mi-token-1',
      'Bearer mi-token-1',
    ]);
  });
});
