// Storage connections resolved as the Functions host resolves them (local/host/connections.ts cites the
// sources: IConfigurationExtensions.cs, the host's StorageProvider/*, the durable extension's
// AzureStorageAccountProvider.cs, Microsoft.Extensions.Azure ClientFactory.cs). Identity-based settings reach
// Azurite with a managed-identity token from the identity stand-in, as the real host reaches storage in Azure.
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import {
  blobServiceClientFor,
  resolveStorageConnection,
  StorageConnectionError,
  tableClientFor,
} from '../../../local/host/connections.js';
import { DurableStore } from '../../../local/host/durable/store.js';
import { APP_IDENTITY_CLIENT_ID } from '../../../local/standins/stack.js';

const stack = inject('stack');

/** The Bicep's identity-based settings, pointing at this stack's Azurite. */
function identitySettings(clientId = APP_IDENTITY_CLIENT_ID): Record<string, string> {
  return {
    AzureWebJobsStorage__blobServiceUri: `${stack.blobUrl}/`,
    AzureWebJobsStorage__queueServiceUri: `${stack.queueUrl}/`,
    AzureWebJobsStorage__tableServiceUri: `${stack.tableUrl}/`,
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: clientId,
  };
}

async function miTokenRequests(): Promise<number> {
  const url = new URL('/_admin/counts', stack.identityEndpoint);
  const counts = (await (await fetch(url)).json()) as Record<string, number>;
  return counts.mi ?? 0;
}

describe('resolving a connection name', () => {
  it('reads a connection string under the AzureWebJobs-prefixed name first, then the name itself', () => {
    const both = resolveStorageConnection({ AzureWebJobsMine: 'prefixed', Mine: 'plain' }, 'Mine');
    expect(both).toMatchObject({ kind: 'connection-string', setting: 'AzureWebJobsMine' });
    const plain = resolveStorageConnection({ Mine: 'plain' }, 'Mine');
    expect(plain).toMatchObject({ kind: 'connection-string', setting: 'Mine', connectionString: 'plain' });
  });

  it('defaults to AzureWebJobsStorage and prefers a connection string over identity settings', () => {
    const connection = resolveStorageConnection({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      ...identitySettings(),
    });
    expect(connection).toMatchObject({ kind: 'connection-string', name: 'AzureWebJobsStorage' });
  });

  it('reads identity settings case-insensitively, with __ or :, and derives URIs from accountName', () => {
    const connection = resolveStorageConnection(
      { 'MYSTORE:AccountName': 'stgemflow', mystore__CREDENTIAL: 'ManagedIdentity' },
      'MyStore',
    );
    expect(connection).toMatchObject({
      kind: 'identity',
      credentialKind: 'managed-identity',
      serviceUris: {
        blob: 'https://stgemflow.blob.core.windows.net',
        queue: 'https://stgemflow.queue.core.windows.net',
        table: 'https://stgemflow.table.core.windows.net',
      },
    });
  });

  it('names the settings to add when the connection is not defined, and the missing endpoint', () => {
    expect(() => resolveStorageConnection({}, 'Missing', 'Blob function "x"')).toThrow(
      /Blob function "x" uses the storage connection "Missing".*Missing__blobServiceUri/s,
    );
    const blobOnly = resolveStorageConnection({
      AzureWebJobsStorage__blobServiceUri: 'https://a.blob.core.windows.net',
    });
    expect(() => tableClientFor(blobOnly, 'x')).toThrow(StorageConnectionError);
    expect(() => tableClientFor(blobOnly, 'x')).toThrow(/AzureWebJobsStorage__tableServiceUri/);
  });
});

describe('identity-based connections against Azurite', () => {
  it('reach blobs and tables with a managed-identity token, and the durable store opens its table', async () => {
    const before = await miTokenRequests();
    const connection = resolveStorageConnection(identitySettings());
    expect(connection.kind).toBe('identity');

    const container = blobServiceClientFor(connection).getContainerClient(`conn-${randomUUID().slice(0, 8)}`);
    await container.create();
    await container.getBlockBlobClient('probe.txt').uploadData(Buffer.from('via identity'));
    expect((await container.getBlobClient('probe.txt').downloadToBuffer()).toString()).toBe('via identity');
    await container.delete();

    const hub = `conn${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    const store = await DurableStore.open(connection, hub);
    expect(await store.listRecords()).toEqual([]);
    await tableClientFor(connection, `${hub}Instances`).deleteTable();

    // The token came from the managed-identity endpoint (this test file runs in its own process, so MSAL's
    // process-wide cache held no storage token before).
    expect(await miTokenRequests()).toBeGreaterThan(before);
  });

  it('fails when the identity is unknown to the endpoint: no key is used behind its back', async () => {
    const connection = resolveStorageConnection(identitySettings(randomUUID()));
    const container = blobServiceClientFor(connection).getContainerClient('inbox');
    await expect(container.exists()).rejects.toThrow();
  });
});
