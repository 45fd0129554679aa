/**
 * Key Vault through @azure/keyvault-secrets with the app's credential: the 401 challenge, then the bearer
 * token from the managed identity. `disableChallengeResourceVerification` is the one option the app sets
 * locally (KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION), because 127.0.0.1 is not under vault.azure.net.
 */
import { randomBytes } from 'node:crypto';
import { DefaultAzureCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { describe, expect, inject, it } from 'vitest';

const stack = inject('stack');

function client() {
  expect(process.env.KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION).toBe('true');
  return new SecretClient(stack.keyVaultUrl, new DefaultAzureCredential(), {
    disableChallengeResourceVerification: true,
  });
}

describe('Key Vault stand-in', () => {
  it('serves the TomTom API key under the configured secret name', async () => {
    expect(process.env.TOMTOM_API_KEY_SECRET_NAME).toBe('tomtom-api-key');
    const secret = await client().getSecret('tomtom-api-key');
    expect(secret.value).toBe(stack.apiKey);
    expect(secret.properties.id).toMatch(
      new RegExp(`^${stack.keyVaultUrl}/secrets/tomtom-api-key/[0-9a-f]{32}$`),
    );
  });

  it('makes a new version current and keeps the old one readable by id', async () => {
    // A secret of its own: rotating tomtom-api-key would disturb end-to-end tests running in parallel.
    const name = `contract-rotation-${randomBytes(4).toString('hex')}`;
    const kv = client();
    const first = await kv.setSecret(name, 'value-one');
    const second = await kv.setSecret(name, 'value-two', {
      contentType: 'text/plain',
      tags: { rotated: 'yes' },
    });
    expect(second.properties.version).not.toBe(first.properties.version);
    const current = await kv.getSecret(name);
    expect(current.value).toBe('value-two');
    expect(current.properties.contentType).toBe('text/plain');
    expect(current.properties.tags).toEqual({ rotated: 'yes' });
    const old = await kv.getSecret(name, { version: first.properties.version! });
    expect(old.value).toBe('value-one');
  });

  it('answers a missing secret with 404 SecretNotFound', async () => {
    await expect(client().getSecret('no-such-secret')).rejects.toMatchObject({
      statusCode: 404,
      code: 'SecretNotFound',
    });
  });

  it('challenges an unauthenticated request with the tenant and the vault resource', async () => {
    const res = await fetch(`${stack.keyVaultUrl}/secrets/tomtom-api-key/?api-version=2026-04-01`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer authorization="https://login.microsoftonline.com/${stack.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(await res.text()).not.toContain(stack.apiKey);
  });

  it('refuses a token signed by someone else', async () => {
    const forged = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ aud: 'https://vault.azure.net', exp: Math.floor(Date.now() / 1000) + 3600 }),
    ).toString('base64url')}.`;
    const res = await fetch(`${stack.keyVaultUrl}/secrets/tomtom-api-key?api-version=2026-04-01`, {
      headers: { authorization: `Bearer ${forged}` },
    });
    expect(res.status).toBe(401);
  });
});
