import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { describe, expect, it, vi } from 'vitest';
import { RefreshableTokenCredential } from '../../../shared/auth/tokenCredential.js';

const GEM = ['https://gem.core.orbis.tomtom.com/.default'];
const VAULT = ['https://vault.azure.net/.default'];

/** Like MSAL: hands out the same cached token until told to skip the cache. */
function cachingFake() {
  let issued = 0;
  const cache = new Map<string, AccessToken>();
  const mint = (scopes: string[]): AccessToken => {
    issued += 1;
    const token = { token: `${scopes[0]}#${issued}`, expiresOnTimestamp: Date.now() + 3_600_000 };
    cache.set(scopes.join(' '), token);
    return token;
  };
  const inner: TokenCredential = {
    getToken: vi.fn(async (scopes: string | string[]) => {
      const list = Array.isArray(scopes) ? scopes : [scopes];
      return cache.get(list.join(' ')) ?? mint(list);
    }),
  };
  const fetchUncached = vi.fn(async (scopes: string[]) => mint(scopes));
  return { inner, fetchUncached };
}

describe('RefreshableTokenCredential', () => {
  it('serves tokens from the inner credential until a refresh is forced', async () => {
    const { inner, fetchUncached } = cachingFake();
    const credential = new RefreshableTokenCredential(inner, { fetchUncached });
    const first = await credential.getToken(GEM);
    expect((await credential.getToken(GEM))?.token).toBe(first?.token);
    expect(fetchUncached).not.toHaveBeenCalled();
  });

  it('bypasses the inner cache once per stale scope after forceRefresh, then uses it again', async () => {
    const { inner, fetchUncached } = cachingFake();
    const credential = new RefreshableTokenCredential(inner, { fetchUncached });
    const stale = await credential.getToken(GEM);
    await credential.getToken(VAULT);

    credential.forceRefresh();
    const fresh = await credential.getToken(GEM);
    expect(fresh?.token).not.toBe(stale?.token);
    expect(fetchUncached).toHaveBeenCalledTimes(1);
    // The refreshed token is what the (shared) cache now holds.
    expect((await credential.getToken(GEM))?.token).toBe(fresh?.token);
    expect(fetchUncached).toHaveBeenCalledTimes(1);
    // Other scopes fetched before the refresh are stale too.
    await credential.getToken(VAULT);
    expect(fetchUncached).toHaveBeenCalledTimes(2);
  });

  it('shares one uncached fetch between concurrent callers', async () => {
    const { inner, fetchUncached } = cachingFake();
    const credential = new RefreshableTokenCredential(inner, { fetchUncached });
    await credential.getToken(GEM);
    credential.forceRefresh();
    const tokens = await Promise.all([
      credential.getToken(GEM),
      credential.getToken(GEM),
      credential.getToken(GEM),
    ]);
    expect(new Set(tokens.map((token) => token?.token)).size).toBe(1);
    expect(fetchUncached).toHaveBeenCalledTimes(1);
  });

  it('keeps the scope stale when the uncached fetch fails', async () => {
    const { inner, fetchUncached } = cachingFake();
    const credential = new RefreshableTokenCredential(inner, { fetchUncached });
    await credential.getToken(GEM);
    credential.forceRefresh();
    fetchUncached.mockRejectedValueOnce(new Error('identity endpoint down'));
    await expect(credential.getToken(GEM)).rejects.toThrow('identity endpoint down');
    await credential.getToken(GEM);
    expect(fetchUncached).toHaveBeenCalledTimes(2);
  });

  it('counts generations so pipelines know to drop their own cached token', () => {
    const credential = new RefreshableTokenCredential(cachingFake().inner);
    expect(credential.generation).toBe(0);
    credential.forceRefresh();
    credential.forceRefresh();
    expect(credential.generation).toBe(2);
  });

  it('asks the inner credential again when no uncached fetcher is given', async () => {
    const inner = { getToken: vi.fn(async () => ({ token: 't', expiresOnTimestamp: Date.now() + 60_000 })) };
    const credential = new RefreshableTokenCredential(inner);
    await credential.getToken(GEM);
    credential.forceRefresh();
    await credential.getToken(GEM);
    expect(inner.getToken).toHaveBeenCalledTimes(2);
  });
});
