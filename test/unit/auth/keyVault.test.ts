/**
 * Unit tests of `shared/auth/apiKeyProvider.ts`: API key from Key Vault through the real SecretClient.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKeyProvider } from '../../../shared/auth/apiKeyProvider.js';
import { loadSettings } from '../../../shared/config.js';

/** A minimal Key Vault: the 401 challenge, then secrets by name (latest version) for a bearer token. */
function startKeyVault(certificate: { key: string; cert: string }) {
  const versions = new Map<string, { version: string; value: string }[]>();
  const requests: { path: string; authorized: boolean }[] = [];
  const server: Server = createServer(certificate, (request, response) => {
    const url = new URL(request.url ?? '/', 'https://vault');
    const authorized = request.headers.authorization === 'Bearer static-vault-token';
    requests.push({ path: url.pathname, authorized });
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    if (!authorized) {
      return reply(
        401,
        { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
        {
          'www-authenticate':
            'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"',
        },
      );
    }
    const name = url.pathname.match(/^\/secrets\/([\w-]+)\/?$/)?.[1];
    const latest = name ? versions.get(name)?.at(-1) : undefined;
    if (!name || !latest) return reply(404, { error: { code: 'SecretNotFound', message: 'not found' } });
    const { port } = server.address() as AddressInfo;
    return reply(200, {
      value: latest.value,
      id: `https://127.0.0.1:${port}/secrets/${name}/${latest.version}`,
      attributes: { enabled: true },
    });
  });
  const setSecret = (name: string, value: string) =>
    versions.set(name, [...(versions.get(name) ?? []), { version: randomUUID().replaceAll('-', ''), value }]);
  return { server, requests, setSecret };
}

describe('API key from Key Vault through the real SecretClient', () => {
  let vault: ReturnType<typeof startKeyVault>;
  let vaultUrl: string;

  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
    });
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), pems.cert]);
    vault = startKeyVault({ key: pems.private, cert: pems.cert });
    vault.server.listen(0, '127.0.0.1');
    await once(vault.server, 'listening');
    vaultUrl = `https://127.0.0.1:${(vault.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    vault.server.closeAllConnections();
    vault.server.close();
    await once(vault.server, 'close');
  });

  it('answers the challenge, reads the secret, and picks up a new version after invalidate()', async () => {
    vault.setSecret('tomtom-api-key', 'first-key-version');
    const settings = loadSettings({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      KEY_VAULT_URL: vaultUrl,
      KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION: 'true',
    });
    const credential = {
      getToken: async () => ({ token: 'static-vault-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    const provider = createApiKeyProvider(settings, { credential });

    expect(await provider.getApiKey()).toBe('first-key-version');
    expect(vault.requests.map((request) => request.authorized)).toEqual([false, true]);

    vault.setSecret('tomtom-api-key', 'rotated-key-version');
    expect(await provider.getApiKey()).toBe('first-key-version');
    provider.invalidate();
    expect(await provider.getApiKey()).toBe('rotated-key-version');
    // One client per process: the challenge is answered once, later reads go straight to the secret.
    expect(vault.requests.map((request) => request.authorized)).toEqual([false, true, true]);
  });
});
