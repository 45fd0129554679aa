/**
 * The TomTom API key: from `TOMTOM_API_KEY` for development, otherwise from Key Vault through one
 * `SecretClient` per vault per process. A Key Vault key is cached for `API_KEY_CACHE_TTL_SECONDS` so a
 * rotation takes effect without a restart, with one shared in-flight read and `invalidate()` for a key TomTom
 * refused. The key travels as a `SecretValue`, so it never prints.
 */
import type { TokenCredential } from '@azure/core-auth';
import { isRestError } from '@azure/core-rest-pipeline';
import { SecretClient } from '@azure/keyvault-secrets';
import type { Settings } from '../config.js';
import { GemFlowError } from '../errors.js';
import { getTokenCredential } from './tokenCredential.js';

export interface ApiKeyProvider {
  /** The current TomTom API key; cached, concurrent callers share one read. */
  getApiKey(): Promise<string>;
  /** Forget the cached key so the next `getApiKey()` reads it again (e.g. after TomTom refused it). */
  invalidate(): void;
}

/** The part of `SecretClient` the provider uses, so tests can pass a fake. */
export interface SecretReader {
  getSecret(name: string): Promise<{ value?: string }>;
}

export interface ApiKeyProviderDependencies {
  /** Defaults to the process-wide `SecretClient` for the configured vault. */
  readonly secretClient?: SecretReader;
  /** Defaults to the process-wide token credential; used only to build the default `SecretClient`. */
  readonly credential?: TokenCredential;
  /** Milliseconds since the epoch; injectable so cache expiry can be tested without waiting. */
  readonly now?: () => number;
}

export class ApiKeyUnavailableError extends GemFlowError {
  readonly code = 'ApiKeyUnavailable';
  readonly status: number | undefined;

  constructor(message: string, options: { status?: number; cause?: unknown; remedy: string }) {
    super(message, options);
    this.status = options.status;
  }
}

const secretClients = new Map<string, SecretClient>();

/**
 * One `SecretClient` per vault per process: each new client pays the Key Vault authentication challenge
 * round-trip again, and the token it caches is per client.
 */
export function getSecretClient(
  keyVault: NonNullable<Settings['auth']['keyVault']>,
  credential: TokenCredential,
): SecretClient {
  let client = secretClients.get(keyVault.url);
  if (!client) {
    client = new SecretClient(keyVault.url, credential, {
      disableChallengeResourceVerification: keyVault.disableChallengeResourceVerification,
    });
    secretClients.set(keyVault.url, client);
  }
  return client;
}

function describeKeyVaultFailure(
  error: unknown,
  vaultUrl: string,
  secretName: string,
): ApiKeyUnavailableError {
  const status = isRestError(error) ? error.statusCode : undefined;
  const where = `secret "${secretName}" in Key Vault ${vaultUrl}`;
  if (status === 404) {
    return new ApiKeyUnavailableError(`The TomTom API key ${where} does not exist.`, {
      status,
      cause: error,
      remedy: 'Create the secret, or point TOMTOM_API_KEY_SECRET_NAME at the secret that holds the key.',
    });
  }
  if (status === 401 || status === 403) {
    return new ApiKeyUnavailableError(`The app's identity may not read the ${where} (HTTP ${status}).`, {
      status,
      cause: error,
      remedy:
        'Grant the identity (AZURE_CLIENT_ID, or the system-assigned identity) the "Key Vault Secrets User" role on the vault.',
    });
  }
  return new ApiKeyUnavailableError(
    `Reading the TomTom API key from ${where} failed${status ? ` (HTTP ${status})` : ''}.`,
    {
      status,
      cause: error,
      remedy: 'Check KEY_VAULT_URL, network access to the vault, and that the app has a managed identity.',
    },
  );
}

function keyVaultReader(
  settings: Settings,
  source: { vaultUrl: string; secretName: string },
  deps: ApiKeyProviderDependencies,
): () => Promise<string> {
  const secretClient =
    deps.secretClient ??
    getSecretClient(
      settings.auth.keyVault ?? { url: source.vaultUrl, disableChallengeResourceVerification: false },
      deps.credential ?? getTokenCredential(settings),
    );
  return async () => {
    let value: string | undefined;
    try {
      value = (await secretClient.getSecret(source.secretName)).value;
    } catch (error) {
      throw describeKeyVaultFailure(error, source.vaultUrl, source.secretName);
    }
    if (!value?.trim()) {
      throw new ApiKeyUnavailableError(`Key Vault secret "${source.secretName}" is empty.`, {
        remedy: 'Store the TomTom API key (from my.tomtom.com → Keys) as the secret value.',
      });
    }
    return value.trim();
  };
}

/**
 * API key from `TOMTOM_API_KEY` or from Key Vault. A Key Vault key is cached for `API_KEY_CACHE_TTL_SECONDS`
 * so rotation takes effect without a restart; failures are not cached.
 */
export function createApiKeyProvider(
  settings: Settings,
  deps: ApiKeyProviderDependencies = {},
): ApiKeyProvider {
  const source = settings.auth.apiKey;
  if (source.source === 'environment') {
    const apiKey = source.apiKey;
    return { getApiKey: async () => apiKey.reveal(), invalidate: () => {} };
  }

  const readKey = keyVaultReader(settings, source, deps);
  const now = deps.now ?? Date.now;
  const ttlMs = settings.auth.apiKeyCacheTtlSeconds * 1000;
  let cached: { value: string; expiresAt: number } | undefined;
  let inFlight: Promise<string> | undefined;
  // A read that started before `invalidate()` must not repopulate the cache with the refused key.
  let generation = 0;

  return {
    getApiKey() {
      if (cached && now() < cached.expiresAt) return Promise.resolve(cached.value);
      if (inFlight) return inFlight;
      const startedIn = generation;
      const read = readKey()
        .then((value) => {
          if (startedIn === generation) cached = { value, expiresAt: now() + ttlMs };
          return value;
        })
        .finally(() => {
          if (inFlight === read) inFlight = undefined;
        });
      inFlight = read;
      return read;
    },
    invalidate() {
      generation += 1;
      cached = undefined;
      inFlight = undefined;
    },
  };
}

let processProvider: ApiKeyProvider | undefined;

/** The process-wide API key provider, so every client shares one cache. */
export function getApiKeyProvider(settings: Settings): ApiKeyProvider {
  processProvider ??= createApiKeyProvider(settings);
  return processProvider;
}
