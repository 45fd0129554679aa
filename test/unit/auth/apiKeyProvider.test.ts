/**
 * Unit tests of `shared/auth/apiKeyProvider.ts`: createApiKeyProvider.
 */
import { RestError } from '@azure/core-rest-pipeline';
import { describe, expect, it, vi } from 'vitest';
import { ApiKeyUnavailableError, createApiKeyProvider } from '../../../shared/auth/apiKeyProvider.js';
import { loadSettings } from '../../../shared/config.js';

const vaultSettings = loadSettings({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  KEY_VAULT_URL: 'https://kv-gemflow.vault.azure.net',
  TOMTOM_API_KEY_SECRET_NAME: 'tomtom-key',
  API_KEY_CACHE_TTL_SECONDS: '60',
});

function fakeVault(...values: string[]) {
  let reads = 0;
  const getSecret = vi.fn(async (name: string) => {
    expect(name).toBe('tomtom-key');
    return { value: values[Math.min(reads++, values.length - 1)] };
  });
  return { getSecret };
}

describe('createApiKeyProvider', () => {
  it('returns the local key from TOMTOM_API_KEY', async () => {
    const provider = createApiKeyProvider(
      loadSettings({ TOMTOM_API_KEY: 'local-key', AzureWebJobsStorage: 'UseDevelopmentStorage=true' }),
    );
    expect(await provider.getApiKey()).toBe('local-key');
  });

  it('caches the Key Vault key for the TTL, then reads it again', async () => {
    let now = 1_000_000;
    const secretClient = fakeVault('key-v1', 'key-v2');
    const provider = createApiKeyProvider(vaultSettings, { secretClient, now: () => now });
    expect(await provider.getApiKey()).toBe('key-v1');
    now += 59_000;
    expect(await provider.getApiKey()).toBe('key-v1');
    expect(secretClient.getSecret).toHaveBeenCalledTimes(1);
    now += 2_000;
    expect(await provider.getApiKey()).toBe('key-v2');
    expect(secretClient.getSecret).toHaveBeenCalledTimes(2);
  });

  it('re-reads after invalidate()', async () => {
    const secretClient = fakeVault('key-v1', 'key-v2');
    const provider = createApiKeyProvider(vaultSettings, { secretClient, now: () => 0 });
    expect(await provider.getApiKey()).toBe('key-v1');
    provider.invalidate();
    expect(await provider.getApiKey()).toBe('key-v2');
  });

  it('shares one in-flight read between concurrent callers', async () => {
    const secretClient = fakeVault('key-v1');
    const provider = createApiKeyProvider(vaultSettings, { secretClient });
    const keys = await Promise.all([provider.getApiKey(), provider.getApiKey(), provider.getApiKey()]);
    expect(keys).toEqual(['key-v1', 'key-v1', 'key-v1']);
    expect(secretClient.getSecret).toHaveBeenCalledTimes(1);
  });

  it('does not let a read that began before invalidate() refill the cache', async () => {
    let release: (value: { value: string }) => void = () => {};
    const getSecret = vi
      .fn<(name: string) => Promise<{ value: string }>>()
      .mockImplementationOnce(() => new Promise((resolve) => (release = resolve)))
      .mockResolvedValue({ value: 'key-v2' });
    const provider = createApiKeyProvider(vaultSettings, { secretClient: { getSecret } });
    const early = provider.getApiKey();
    provider.invalidate();
    release({ value: 'key-v1' });
    expect(await early).toBe('key-v1');
    expect(await provider.getApiKey()).toBe('key-v2');
  });

  it('does not cache failures', async () => {
    const getSecret = vi
      .fn<(name: string) => Promise<{ value: string }>>()
      .mockRejectedValueOnce(new RestError('boom', { statusCode: 500 }))
      .mockResolvedValue({ value: 'key-v1' });
    const provider = createApiKeyProvider(vaultSettings, { secretClient: { getSecret } });
    await expect(provider.getApiKey()).rejects.toBeInstanceOf(ApiKeyUnavailableError);
    expect(await provider.getApiKey()).toBe('key-v1');
  });

  it.each([
    [404, 'does not exist', 'Create the secret'],
    [403, 'may not read', 'Key Vault Secrets User'],
  ])('explains a Key Vault %i', async (statusCode, summary, remedy) => {
    const getSecret = vi.fn().mockRejectedValue(new RestError('refused', { statusCode }));
    const provider = createApiKeyProvider(vaultSettings, { secretClient: { getSecret } });
    const error = await provider.getApiKey().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiKeyUnavailableError);
    expect((error as ApiKeyUnavailableError).status).toBe(statusCode);
    expect((error as Error).message).toContain(summary);
    expect((error as Error).message).toContain(remedy);
  });

  it('refuses an empty secret', async () => {
    const provider = createApiKeyProvider(vaultSettings, { secretClient: fakeVault('  ') });
    await expect(provider.getApiKey()).rejects.toThrow('is empty');
  });
});
