/**
 * Storage connections as the Functions host and its extensions resolve them: a connection name (a binding's
 * `connection`, host.json's `storageProvider.connectionName`, default `AzureWebJobsStorage`) is looked up as
 * `AzureWebJobs<name>`, then `<name>`. A value is a connection string; otherwise the settings under it
 * (`<name>__blobServiceUri`, `__tableServiceUri`, `__queueServiceUri`, `__accountName`, `__credential`,
 * `__clientId`, …) describe an identity-based connection, reached with a token credential as the real host does
 * with managed identity. Sources followed:
 *  - Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Extensions/IConfigurationExtensions.cs
 *    (GetWebJobsConnectionSection: the prefixed name first, then the name as given)
 *  - Azure/azure-functions-host src/WebJobs.Script/StorageProvider/StorageClientProvider.cs,
 *    BlobServiceClientProvider.cs, TableServiceClientProvider.cs and StorageServiceUriOptions.cs
 *    (a connection string wins; else blobServiceUri / tableServiceUri, else accountName on core.windows.net)
 *  - Azure/azure-functions-durable-extension src/WebJobs.Extensions.DurableTask/AzureStorageAccountProvider.cs
 *    (the task hub's connection: a string, or accountName / blob / queue / table service URIs + a credential)
 *  - Azure/azure-sdk-for-net sdk/extensions/Microsoft.Extensions.Azure/src/Internal/ClientFactory.cs
 *    (CreateCredential: credential=managedidentity → ManagedIdentityCredential(clientId); tenantId + clientId +
 *    clientSecret → ClientSecretCredential; otherwise the default credential chain)
 * Setting names are matched case-insensitively and `:` equals `__`, as .NET configuration does.
 */
import type { TokenCredential } from '@azure/core-auth';
import { TableClient } from '@azure/data-tables';
import { ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';

type Environment = Record<string, string | undefined>;

export type StorageService = 'blob' | 'queue' | 'table';

export type StorageConnection =
  | {
      readonly kind: 'connection-string';
      /** The connection name as the binding or host.json gave it. */
      readonly name: string;
      /** The app setting that held the value. */
      readonly setting: string;
      readonly connectionString: string;
    }
  | {
      readonly kind: 'identity';
      readonly name: string;
      readonly setting: string;
      readonly serviceUris: Readonly<Partial<Record<StorageService, string>>>;
      readonly credential: TokenCredential;
      /** How the credential was chosen, for messages: never a secret. */
      readonly credentialKind: 'managed-identity' | 'client-secret' | 'default-chain';
    };

/** A connection that is missing, or that cannot reach the service asked for. */
export class StorageConnectionError extends Error {}

const DEFAULT_CONNECTION = 'AzureWebJobsStorage';
const PREFIX = 'AzureWebJobs';

/** `<setting>__<key>` (or `<setting>:<key>`) values under one setting, keys lower-cased; empty values skipped. */
function childSettings(env: Environment, setting: string): Map<string, string> {
  const children = new Map<string, string>();
  const prefixes = [`${setting}__`, `${setting}:`].map((p) => p.toLowerCase());
  for (const [name, value] of Object.entries(env)) {
    if (!value?.trim()) continue;
    const lower = name.toLowerCase();
    const prefix = prefixes.find((p) => lower.startsWith(p));
    if (prefix) children.set(lower.slice(prefix.length).replaceAll('__', ':'), value.trim());
  }
  return children;
}

function settingValue(env: Environment, setting: string): string | undefined {
  const exact = env[setting];
  if (exact !== undefined) return exact.trim() || undefined;
  const lower = setting.toLowerCase();
  const match = Object.keys(env).find((name) => name.toLowerCase() === lower);
  return match === undefined ? undefined : env[match]?.trim() || undefined;
}

/** One credential per connection and process, like the durable extension's cache, so token caches are shared. */
const credentials = new Map<string, TokenCredential>();

function credentialFor(
  setting: string,
  children: Map<string, string>,
): { credential: TokenCredential; credentialKind: 'managed-identity' | 'client-secret' | 'default-chain' } {
  const clientId = children.get('clientid');
  const tenantId = children.get('tenantid');
  const clientSecret = children.get('clientsecret');
  const credentialKind =
    children.get('credential')?.toLowerCase() === 'managedidentity'
      ? 'managed-identity'
      : tenantId && clientId && clientSecret
        ? 'client-secret'
        : 'default-chain';
  const key = `${setting.toLowerCase()}|${credentialKind}|${clientId ?? ''}|${tenantId ?? ''}`;
  let credential = credentials.get(key);
  if (!credential) {
    credential =
      credentialKind === 'managed-identity'
        ? new ManagedIdentityCredential(clientId ? { clientId } : {})
        : credentialKind === 'client-secret'
          ? new ClientSecretCredential(tenantId!, clientId!, clientSecret!)
          : new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
    credentials.set(key, credential);
  }
  return { credential, credentialKind };
}

function serviceUrisOf(children: Map<string, string>): Partial<Record<StorageService, string>> {
  const accountName = children.get('accountname');
  const uris: Partial<Record<StorageService, string>> = {};
  for (const service of ['blob', 'queue', 'table'] as const) {
    const explicit =
      children.get(`${service}serviceuri`) ?? (service === 'blob' ? children.get('serviceuri') : undefined);
    const uri = explicit ?? (accountName ? `https://${accountName}.${service}.core.windows.net` : undefined);
    if (uri) uris[service] = uri;
  }
  return uris;
}

/**
 * Resolves a connection name from the app settings. `user` names what asked (e.g. `blob function "x"`) in
 * the error when the connection is not configured at all.
 */
export function resolveStorageConnection(
  env: Environment,
  connectionName: unknown = DEFAULT_CONNECTION,
  user = 'The app',
): StorageConnection {
  const name =
    typeof connectionName === 'string' && connectionName.trim() !== ''
      ? connectionName.trim()
      : DEFAULT_CONNECTION;
  for (const setting of [`${PREFIX}${name}`, name]) {
    const connectionString = settingValue(env, setting);
    if (connectionString) return { kind: 'connection-string', name, setting, connectionString };
    const children = childSettings(env, setting);
    if (children.size === 0) continue;
    return {
      kind: 'identity',
      name,
      setting,
      serviceUris: serviceUrisOf(children),
      ...credentialFor(setting, children),
    };
  }
  throw new StorageConnectionError(
    `${user} uses the storage connection "${name}", but no app setting defines it: set "${name}" to a ` +
      `connection string, or "${name}__blobServiceUri" / "__tableServiceUri" / "__queueServiceUri" with ` +
      `"${name}__credential" = managedidentity (and "${name}__clientId" for a user-assigned identity).`,
  );
}

function serviceUri(connection: StorageConnection & { kind: 'identity' }, service: StorageService): string {
  const uri = connection.serviceUris[service];
  if (!uri) {
    throw new StorageConnectionError(
      `The identity-based storage connection "${connection.name}" has no ${service} endpoint: set ` +
        `"${connection.setting}__${service}ServiceUri" (or "${connection.setting}__accountName").`,
    );
  }
  return uri.replace(/\/+$/, '');
}

export function blobServiceClientFor(connection: StorageConnection): BlobServiceClient {
  return connection.kind === 'connection-string'
    ? BlobServiceClient.fromConnectionString(connection.connectionString)
    : new BlobServiceClient(serviceUri(connection, 'blob'), connection.credential);
}

export function tableClientFor(connection: StorageConnection, tableName: string): TableClient {
  if (connection.kind === 'identity') {
    return new TableClient(serviceUri(connection, 'table'), tableName, connection.credential);
  }
  // data-tables refuses plain http (Azurite's default) unless told; the blob client needs no such flag.
  const cs = connection.connectionString;
  const endpoint = /TableEndpoint=([^;]+)/i.exec(cs)?.[1] ?? '';
  const useHttp = endpoint.startsWith('http:') || /DefaultEndpointsProtocol=http(;|$)/.test(cs);
  return TableClient.fromConnectionString(cs, tableName, { allowInsecureConnection: useHttp });
}
