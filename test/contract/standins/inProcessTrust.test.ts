/**
 * Stand-ins started inside this worker with a certificate the worker was NOT launched with (it is not in
 * NODE_EXTRA_CA_CERTS). Trust then comes only from `trustInProcess` (tls.setDefaultCACertificates), which is
 * how `npm start` and any single-process script reach the stack. Also covers what only an in-process
 * instance exposes: request counts, issueToken, Key Vault token verification.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdentityStandIn, startIdentity } from '../../../local/standins/identity.js';
import { type KeyVaultStandIn, startKeyVault } from '../../../local/standins/keyvault.js';
import { ensureTls, type StackTls, trustInProcess } from '../../../local/standins/tls.js';

const TENANT = '0a0a0a0a-1111-4222-8333-444444444444';
const SP = { tenantId: TENANT, clientId: 'in-process-app', clientSecret: 'in-process-secret' };

let dir: string;
let tls: StackTls;
let identity: IdentityStandIn;
let keyVault: KeyVaultStandIn;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gemflow-trust-'));
  tls = await ensureTls({ dir });
  identity = await startIdentity({ tls, tenantId: TENANT, servicePrincipals: [SP] });
  keyVault = await startKeyVault({
    tls,
    jwks: identity.jwks,
    tenantId: TENANT,
    secrets: { greeting: 'hello' },
  });
});

afterAll(async () => {
  await Promise.all([identity?.close(), keyVault?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** A credential that hands out a fixed token, to present exactly the token a test minted. */
function staticCredential(token: string) {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) };
}

describe('in-process trust via tls.setDefaultCACertificates', () => {
  it('is needed: before trustInProcess the fresh certificate is rejected', async () => {
    expect(tls.reused).toBe(false);
    await expect(fetch(`${identity.url}/${TENANT}/v2.0/.well-known/openid-configuration`)).rejects.toThrow();
  });

  it('is enough: afterwards the Azure SDK clients in this process connect', async () => {
    trustInProcess(tls.cert);
    trustInProcess(tls.cert); // idempotent
    const credential = new ClientSecretCredential(TENANT, SP.clientId, SP.clientSecret, {
      authorityHost: identity.authorityHost,
      disableInstanceDiscovery: true,
    });
    const kv = new SecretClient(keyVault.url, credential, { disableChallengeResourceVerification: true });
    expect((await kv.getSecret('greeting')).value).toBe('hello');
    expect(identity.counts()).toMatchObject({ 'openid-configuration': 1, token: 1 });
    expect(keyVault.counts()).toMatchObject({ challenge: 1, get: 1 });
  });
});

describe('Key Vault token verification', () => {
  const get = (token: string) =>
    new SecretClient(keyVault.url, staticCredential(token), {
      disableChallengeResourceVerification: true,
    }).getSecret('greeting');

  it('accepts a vault token minted by issueToken', async () => {
    const token = await identity.issueToken({ aud: 'https://vault.azure.net', oid: 'tester' });
    expect((await get(token)).value).toBe('hello');
  });

  it('rejects an expired token with 401', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const token = await identity.issueToken({
      aud: 'https://vault.azure.net',
      exp: past,
      nbf: past - 60,
      iat: past - 60,
    });
    await expect(get(token)).rejects.toMatchObject({ statusCode: 401 });
    expect(keyVault.counts().unauthorized).toBeGreaterThan(0);
  });

  it('rejects a token for another audience with 401', async () => {
    const token = await identity.issueToken({ aud: 'https://storage.azure.com' });
    await expect(get(token)).rejects.toMatchObject({ statusCode: 401 });
  });

  it('enforces allowedObjectIds with 403 ForbiddenByRbac', async () => {
    const restricted = await startKeyVault({
      tls,
      jwks: identity.jwks,
      tenantId: TENANT,
      secrets: { greeting: 'hello' },
      allowedObjectIds: ['allowed-oid'],
    });
    try {
      const read = async (oid: string) =>
        new SecretClient(
          restricted.url,
          staticCredential(await identity.issueToken({ aud: 'https://vault.azure.net', oid })),
          { disableChallengeResourceVerification: true },
        ).getSecret('greeting');
      expect((await read('allowed-oid')).value).toBe('hello');
      await expect(read('someone-else')).rejects.toMatchObject({ statusCode: 403 });
    } finally {
      await restricted.close();
    }
  });
});

describe('identity stand-in', () => {
  it('refuses a token lifetime MSAL would not cache', async () => {
    await expect(startIdentity({ tls, tokenLifetimeSec: 120 })).rejects.toThrow(/below 600/);
  });

  it('serves its JWKS over https and exposes the same set', async () => {
    const res = await fetch(`${identity.url}/${TENANT}/discovery/v2.0/keys`);
    expect(await res.json()).toEqual(identity.jwks);
    expect(identity.jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
  });

  it('rejects a request without a /.default scope', async () => {
    const res = await fetch(`${identity.url}/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        ...SP,
        client_id: SP.clientId,
        client_secret: SP.clientSecret,
        grant_type: 'client_credentials',
        scope: 'https://storage.azure.com',
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('keeps no secrets or tokens in its request log', async () => {
    const log = JSON.stringify(identity.requests());
    expect(log).not.toContain(SP.clientSecret);
    expect(log).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });
});
