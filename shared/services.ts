/**
 * The composition root: one set of clients per process, built from settings. A Functions worker reuses its
 * process across invocations, so credentials (with their token caches), the Key Vault client and the HTTP
 * pipelines are built once here instead of once per activity.
 */
import type { TokenCredential } from '@azure/core-auth';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { type ApiKeyProvider, getApiKeyProvider, getSecretClient } from './auth/apiKeyProvider.js';
import type { AppTokenCredential } from './auth/tokenCredential.js';
import { getTokenCredential } from './auth/tokenCredential.js';
import { getSettings, type Settings } from './config.js';
import { GemFlowError } from './errors.js';
import { pdgContainerClient } from './staging/pdgContainer.js';
import { createTomTomClient, type TomTomClient } from './tomtom/client.js';
import type { UnwrappedStorageCredentials } from './tomtom/models.js';

export interface Services {
  readonly settings: Settings;
  readonly tomtom: TomTomClient;
  readonly apiKeys: ApiKeyProvider;
  readonly credential: AppTokenCredential;
  readonly appBlobs: BlobServiceClient;
  readonly inbox: ContainerClient;
  readonly outbox: ContainerClient;
  /** Inbox files whose match retention purged (shared/workflow/archive.ts). */
  readonly archive: ContainerClient;
  /** The PDG `default` container, reached as the service principal a Vault unwrap returned. */
  pdgContainer(credentials: UnwrappedStorageCredentials): ContainerClient;
  /** The HMAC secret for callbacks, from settings or Key Vault; cached like the API key. */
  notifySigningSecret(): Promise<string>;
}

export class NotifySecretUnavailableError extends GemFlowError {
  readonly code = 'NotifySecretUnavailable';
}

let services: Services | undefined;

export function getServices(): Services {
  services ??= createServices(getSettings());
  return services;
}

export function createServices(settings: Settings): Services {
  const credential = getTokenCredential(settings);
  const apiKeys = getApiKeyProvider(settings);
  const tomtom = createTomTomClient({ settings, apiKeyProvider: apiKeys, credential });
  const appBlobs = appBlobServiceClient(settings, credential);
  const { authorityHost, disableInstanceDiscovery } = settings.auth.servicePrincipal;
  let signingSecret: Promise<string> | undefined;

  return {
    settings,
    tomtom,
    apiKeys,
    credential,
    appBlobs,
    inbox: appBlobs.getContainerClient(settings.storage.inboxContainer),
    outbox: appBlobs.getContainerClient(settings.storage.outboxContainer),
    archive: appBlobs.getContainerClient(settings.storage.archiveContainer),
    pdgContainer(credentials) {
      return pdgContainerClient({
        containerUrl: credentials.containerUrl,
        tenantId: credentials.tenantId,
        clientId: credentials.clientId,
        clientSecret: credentials.clientSecret,
        ...(authorityHost ? { authorityHost } : {}),
        disableInstanceDiscovery,
      });
    },
    notifySigningSecret() {
      signingSecret ??= readSigningSecret(settings, credential).catch((error: unknown) => {
        signingSecret = undefined; // a failed read is not cached
        throw error;
      });
      return signingSecret;
    },
  };
}

function appBlobServiceClient(settings: Settings, credential: TokenCredential): BlobServiceClient {
  const storage = settings.storage;
  if (storage.kind === 'connection-string') {
    return BlobServiceClient.fromConnectionString(storage.connectionString.reveal());
  }
  return new BlobServiceClient(storage.blobServiceUri, credential);
}

async function readSigningSecret(settings: Settings, credential: TokenCredential): Promise<string> {
  const source = settings.notify.signingSecret;
  switch (source.source) {
    case 'environment':
      return source.secret.reveal();
    case 'key-vault': {
      const keyVault = settings.auth.keyVault ?? {
        url: source.vaultUrl,
        disableChallengeResourceVerification: false,
      };
      const secret = await getSecretClient(keyVault, credential).getSecret(source.secretName);
      if (!secret.value) {
        throw new NotifySecretUnavailableError(`Key Vault secret "${source.secretName}" has no value.`, {
          remedy: 'Set the callback signing secret in Key Vault (see the README, "Deploy").',
        });
      }
      return secret.value;
    }
    case 'none':
      throw new NotifySecretUnavailableError('No signing secret is configured for callbacks.', {
        remedy:
          'Set NOTIFY_SIGNING_SECRET_NAME (Key Vault) or, for local development, NOTIFY_SIGNING_SECRET.',
      });
  }
}
