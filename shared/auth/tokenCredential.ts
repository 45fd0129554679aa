import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import {
  AzureCliCredential,
  AzureDeveloperCliCredential,
  ChainedTokenCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import { ManagedIdentityApplication } from '@azure/msal-node';
import type { Settings } from '../config.js';

/** Fetches a token without consulting any cache. */
export type UncachedTokenFetcher = (
  scopes: string[],
  options?: GetTokenOptions,
) => Promise<AccessToken | null>;

export interface RefreshableTokenCredentialOptions {
  /**
   * Used for the first token of each scope after `forceRefresh()`. Without it the inner credential is asked
   * again, which is all a credential with no cache of its own needs.
   */
  readonly fetchUncached?: UncachedTokenFetcher;
}

/**
 * A credential whose cached tokens can be declared stale, for when a service refuses a token that every
 * cache still considers valid (revoked, or issued before a role assignment took effect).
 *
 * `forceRefresh()` marks every scope fetched so far as stale and bumps `generation`. The next `getToken` per
 * stale scope goes to `fetchUncached` (concurrent callers share that one fetch); later calls go back to the
 * inner credential. Pipelines watch `generation` to drop the token their own token cycler holds (see
 * `refreshableBearerTokenPolicy`): both caches have to be bypassed for a refresh to reach the identity
 * provider.
 */
export class RefreshableTokenCredential implements TokenCredential {
  readonly #inner: TokenCredential;
  readonly #fetchUncached: UncachedTokenFetcher;
  readonly #scopesSeen = new Set<string>();
  readonly #staleScopes = new Set<string>();
  readonly #uncachedFetches = new Map<string, Promise<AccessToken | null>>();
  #generation = 0;

  constructor(inner: TokenCredential, options: RefreshableTokenCredentialOptions = {}) {
    this.#inner = inner;
    this.#fetchUncached =
      options.fetchUncached ?? ((scopes, getTokenOptions) => inner.getToken(scopes, getTokenOptions));
  }

  /** Increases with every `forceRefresh()`. */
  get generation(): number {
    return this.#generation;
  }

  forceRefresh(): void {
    for (const scope of this.#scopesSeen) this.#staleScopes.add(scope);
    this.#generation += 1;
  }

  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const scopeList = Array.isArray(scopes) ? scopes : [scopes];
    const key = scopeList.join(' ');
    this.#scopesSeen.add(key);
    const pending = this.#uncachedFetches.get(key);
    if (pending) return pending;
    if (!this.#staleScopes.has(key)) return this.#inner.getToken(scopeList, options);

    this.#staleScopes.delete(key);
    const fetch = this.#fetchUncached(scopeList, options)
      .catch((error: unknown) => {
        // Still stale: the next caller must try to bypass the caches again.
        this.#staleScopes.add(key);
        throw error;
      })
      .finally(() => this.#uncachedFetches.delete(key));
    this.#uncachedFetches.set(key, fetch);
    return fetch;
  }
}

/**
 * `@azure/identity`'s `ManagedIdentityCredential` never passes `forceRefresh` (nor claims) to MSAL, and MSAL
 * keeps managed-identity tokens in a process-wide static cache until 5 minutes before expiry. This asks MSAL
 * directly with `forceRefresh: true`; MSAL writes the new token into that same shared cache, so every other
 * client in the process (Key Vault, storage) picks it up too.
 */
export function createManagedIdentityUncachedFetcher(clientId: string | undefined): UncachedTokenFetcher {
  const application = new ManagedIdentityApplication(
    clientId ? { managedIdentityIdParams: { userAssignedClientId: clientId } } : {},
  );
  return async (scopes) => {
    if (scopes.length !== 1) throw new Error('Managed identity tokens are issued for exactly one scope.');
    const result = await application.acquireToken({
      resource: scopes[0]!.replace(/\/\.default$/, ''),
      forceRefresh: true,
    });
    return {
      token: result.accessToken,
      expiresOnTimestamp: result.expiresOn?.getTime() ?? Date.now(),
      refreshAfterTimestamp: result.refreshOn?.getTime(),
      tokenType: 'Bearer',
    };
  };
}

/** Builds the credential chosen by `TOKEN_CREDENTIAL`. Prefer `getTokenCredential`, which shares one. */
export function createTokenCredential(auth: Settings['auth']): RefreshableTokenCredential {
  if (auth.tokenCredential === 'managed-identity') {
    const clientId = auth.managedIdentityClientId;
    return new RefreshableTokenCredential(new ManagedIdentityCredential(clientId ? { clientId } : {}), {
      fetchUncached: createManagedIdentityUncachedFetcher(clientId),
    });
  }
  // TomTom documents `az login` + `az account get-access-token`; azd is the other common developer sign-in.
  // Deterministic chain: no environment or managed-identity fallbacks that could silently pick another identity.
  return new RefreshableTokenCredential(
    new ChainedTokenCredential(new AzureCliCredential(), new AzureDeveloperCliCredential()),
  );
}

let processCredential: RefreshableTokenCredential | undefined;

/**
 * The process-wide token credential. One instance per process keeps MSAL's and the pipelines' token caches
 * effective across function invocations.
 */
export function getTokenCredential(settings: Settings): RefreshableTokenCredential {
  processCredential ??= createTokenCredential(settings.auth);
  return processCredential;
}
