/**
 * The PDG data plane: TomTom's `default` blob container, reached as the service principal that a Vault
 * unwrap returns (gem-api.md §3.4, §7). This is the SDK equivalent of `az login --service-principal` +
 * `az storage blob … --auth-mode login`.
 */
import { ClientSecretCredential } from '@azure/identity';
import { ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { StagingError } from './errors.js';

/** What the Vault unwrap yields (data.url, data.tenant_id, data.credentials), plus authority settings. */
export interface PdgContainerAccess {
  /** `https://<account>.blob.core.windows.net/default/` (data.url). */
  containerUrl: string;
  /** data.tenant_id; TomTom documents it as nullable. */
  tenantId: string | null;
  clientId: string;
  clientSecret: string;
  /** Entra authority, e.g. a sovereign cloud or the local identity stand-in. Default: public cloud. */
  authorityHost?: string;
  /** Needed for any authority MSAL does not know (the local stand-in); see azure-standins-service-principal.md §1. */
  disableInstanceDiscovery?: boolean;
}

export interface PdgContainerOptions {
  /**
   * Tenant to use when the unwrap has `tenant_id: null`. Client-credential tokens need a concrete tenant
   * ('organizations'/'common' are rejected by Entra for this grant), so without one this fails clearly
   * rather than guessing.
   */
  fallbackTenantId?: string;
  /** Storage pipeline options (retries, user agent); passed to ContainerClient. */
  pipeline?: StoragePipelineOptions;
}

/** A ContainerClient for the PDG container, authenticated as the unwrapped service principal. */
export function pdgContainerClient(
  access: PdgContainerAccess,
  options: PdgContainerOptions = {},
): ContainerClient {
  const tenantId = access.tenantId ?? options.fallbackTenantId;
  if (!tenantId) {
    throw new StagingError(
      'PDG_TENANT_MISSING',
      'The PDG credentials carry no tenant id (tenant_id was null).',
      {
        remedy: 'Set the TomTom PDG tenant id in the app settings so it can be used as the fallback tenant.',
      },
    );
  }
  let url: URL;
  try {
    url = new URL(access.containerUrl);
  } catch (cause) {
    throw new StagingError('STAGING_FAILED', 'The PDG container URL from the credentials is not a URL.', {
      cause,
      remedy:
        'Request fresh PDG credentials; data.url should look like https://<account>.blob.core.windows.net/default/.',
    });
  }
  const credential = new ClientSecretCredential(tenantId, access.clientId, access.clientSecret, {
    ...(access.authorityHost ? { authorityHost: access.authorityHost } : {}),
    ...(access.disableInstanceDiscovery ? { disableInstanceDiscovery: true } : {}),
  });
  // data.url ends in '/default/'; ContainerClient parses the container name from the path either way,
  // the trailing slash is dropped so blob URLs do not get a double slash.
  const containerUrl = url.toString().replace(/\/+$/, '');
  return new ContainerClient(containerUrl, credential, options.pipeline);
}
