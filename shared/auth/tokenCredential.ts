/**
 * The Entra bearer token every TomTom call carries: one credential per process — the app's managed identity
 * on Azure (user-assigned when `AZURE_CLIENT_ID` is set), the developer's `az` / `azd` sign-in locally — and
 * what asking it for a new token can and cannot achieve (below).
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import {
  AzureCliCredential,
  AzureDeveloperCliCredential,
  ChainedTokenCredential,
  ManagedIdentityCredential,
} from '@azure/identity';
import type { Settings, TokenCredentialKind } from '../config.js';

/**
 * The app's token credential, honest about what asking again can achieve.
 *
 * A pipeline keeps the token it got in its own token cycler until shortly before expiry. When a service
 * refuses that token, dropping it only helps if the credential can then give a *different* one:
 *
 * - The **developer** chain (`az` / `azd`) asks the CLI on every call, and the CLI returns the token of the
 *   latest sign-in: after `az login` again, a new request gets the new token. `requestNewToken()` bumps
 *   `generation`, and pipelines watching it drop their cycler's token (see `refreshableBearerTokenPolicy`).
 * - A **managed identity** cannot be made to issue a new token: on App Service and Functions "the back-end
 *   services for managed identities maintain a cache per resource URI for around 24 hours" and "it's
 *   currently not possible to force a managed identity's token to be refreshed before its expiration"
 *   (https://learn.microsoft.com/azure/app-service/overview-managed-identity#configure-target-resource).
 *   MSAL's `forceRefresh` only skips MSAL's in-process cache; the platform endpoint then answers with the
 *   token it cached, so `requestNewToken()` does nothing and says so.
 */
export class AppTokenCredential implements TokenCredential {
  readonly kind: TokenCredentialKind;
  readonly #inner: TokenCredential;
  #generation = 0;

  constructor(kind: TokenCredentialKind, inner: TokenCredential) {
    this.kind = kind;
    this.#inner = inner;
  }

  /** Whether asking again can return a token other than the one already handed out. */
  get canIssueNewToken(): boolean {
    return this.kind === 'developer';
  }

  /** Increases with every effective `requestNewToken()`. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Asks pipelines to drop their cached token so the next request fetches one from the credential again.
   * Returns false, and changes nothing, when the credential would hand out the same token anyway.
   */
  requestNewToken(): boolean {
    if (!this.canIssueNewToken) return false;
    this.#generation += 1;
    return true;
  }

  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    return this.#inner.getToken(scopes, options);
  }
}

/** Builds the credential chosen by `TOKEN_CREDENTIAL`. Prefer `getTokenCredential`, which shares one. */
export function createTokenCredential(auth: Settings['auth']): AppTokenCredential {
  if (auth.tokenCredential === 'managed-identity') {
    const clientId = auth.managedIdentityClientId;
    return new AppTokenCredential(
      'managed-identity',
      new ManagedIdentityCredential(clientId ? { clientId } : {}),
    );
  }
  // TomTom documents `az login` + `az account get-access-token`; azd is the other common developer sign-in.
  // Deterministic chain: no environment or managed-identity fallbacks that could silently pick another identity.
  return new AppTokenCredential(
    'developer',
    new ChainedTokenCredential(new AzureCliCredential(), new AzureDeveloperCliCredential()),
  );
}

let processCredential: AppTokenCredential | undefined;

/**
 * The process-wide token credential. One instance per process keeps MSAL's and the pipelines' token caches
 * effective across function invocations.
 */
export function getTokenCredential(settings: Settings): AppTokenCredential {
  processCredential ??= createTokenCredential(settings.auth);
  return processCredential;
}
