/**
 * Unit tests of `shared/auth/tokenCredential.ts`: AppTokenCredential; createTokenCredential.
 */
import { describe, expect, it, vi } from 'vitest';
import { AppTokenCredential, createTokenCredential } from '../../../shared/auth/tokenCredential.js';
import { loadSettings } from '../../../shared/config.js';

const GEM = 'https://gem.core.orbis.tomtom.com/.default';

const token = (value: string) => ({ token: value, expiresOnTimestamp: Date.now() + 3_600_000 });

describe('AppTokenCredential', () => {
  it('passes getToken through to the credential it wraps', async () => {
    const getToken = vi.fn(async () => token('t-1'));
    const credential = new AppTokenCredential('managed-identity', { getToken });
    expect((await credential.getToken(GEM, { tenantId: 'x' }))?.token).toBe('t-1');
    expect(getToken).toHaveBeenCalledWith(GEM, { tenantId: 'x' });
  });

  it('a developer sign-in can give a new token: requestNewToken says so and bumps the generation', () => {
    const credential = new AppTokenCredential('developer', { getToken: async () => token('t') });
    expect(credential.canIssueNewToken).toBe(true);
    expect(credential.requestNewToken()).toBe(true);
    expect(credential.requestNewToken()).toBe(true);
    expect(credential.generation).toBe(2);
  });

  it('a managed identity cannot: requestNewToken says so and changes nothing', () => {
    const credential = new AppTokenCredential('managed-identity', { getToken: async () => token('t') });
    expect(credential.canIssueNewToken).toBe(false);
    expect(credential.requestNewToken()).toBe(false);
    expect(credential.generation).toBe(0);
  });
});

describe('createTokenCredential', () => {
  const base = { TOMTOM_API_KEY: 'k', AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

  it('uses the managed identity when the platform provides an identity endpoint', () => {
    const settings = loadSettings({ ...base, IDENTITY_ENDPOINT: 'http://127.0.0.1:1/msi/token' });
    expect(createTokenCredential(settings.auth).kind).toBe('managed-identity');
  });

  it('uses the developer chain otherwise', () => {
    expect(createTokenCredential(loadSettings(base).auth).kind).toBe('developer');
  });
});
