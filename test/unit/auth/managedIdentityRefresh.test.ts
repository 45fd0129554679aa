import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenCredential } from '../../../shared/auth/tokenCredential.js';
import { loadSettings } from '../../../shared/config.js';

// App Service managed-identity protocol, as the platform serves it at IDENTITY_ENDPOINT.
let issued = 0;
const server = createServer((request, response) => {
  issued += 1;
  const resource = new URL(request.url ?? '/', 'http://x').searchParams.get('resource');
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(
    JSON.stringify({
      access_token: `mi-token-${issued}`,
      expires_on: String(Math.floor(Date.now() / 1000) + 3600),
      resource,
      token_type: 'Bearer',
    }),
  );
});

describe('forced refresh of a real ManagedIdentityCredential', () => {
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

  it('bypasses MSAL’s process-wide cache, and the fresh token replaces the cached one', async () => {
    const settings = loadSettings({
      TOMTOM_API_KEY: 'k',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT,
    });
    expect(settings.auth.tokenCredential).toBe('managed-identity');
    const credential = createTokenCredential(settings.auth);
    const scope = settings.auth.gemTokenScope;

    const first = await credential.getToken(scope);
    expect((await credential.getToken(scope))?.token).toBe(first?.token);
    expect(issued).toBe(1);

    credential.forceRefresh();
    const refreshed = await credential.getToken(scope);
    expect(issued).toBe(2);
    expect(refreshed?.token).not.toBe(first?.token);

    // Back on the ordinary path, MSAL's cache now holds the refreshed token.
    expect((await createTokenCredential(settings.auth).getToken(scope))?.token).toBe(refreshed?.token);
    expect(issued).toBe(2);
  });
});
