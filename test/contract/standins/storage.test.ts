/** The app's own storage account (AzureWebJobsStorage): SharedKey over HTTPS for blobs, tables and queues. */
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';

const stack = inject('stack');

describe('app storage connection string', () => {
  it('is exported to the worker environment as AzureWebJobsStorage with three https endpoints', () => {
    const cs = process.env.AzureWebJobsStorage;
    expect(cs).toBe(stack.storageConnectionString);
    expect(cs).toMatch(/BlobEndpoint=https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1;/);
    expect(cs).toMatch(/QueueEndpoint=https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1;/);
    expect(cs).toMatch(/TableEndpoint=https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1;/);
  });

  it('reaches the inbox and outbox containers and round-trips a blob', async () => {
    const service = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
    expect(await service.getContainerClient(stack.inboxContainer).exists()).toBe(true);
    const outbox = service.getContainerClient(stack.outboxContainer);
    expect(await outbox.exists()).toBe(true);
    const blob = outbox.getBlockBlobClient(`contract/shared-key-${Date.now()}.json`);
    await blob.upload('{"ok":true}', 11, { blobHTTPHeaders: { blobContentType: 'application/json' } });
    const props = await blob.getProperties();
    expect(props.contentType).toBe('application/json');
    expect((await blob.downloadToBuffer()).toString()).toBe('{"ok":true}');
    await blob.delete();
  });

  it('serves Azure Tables over https with the same connection string (durable history store)', async () => {
    const table = TableClient.fromConnectionString(stack.storageConnectionString, `contract${Date.now()}`);
    await table.createTable();
    await table.upsertEntity({ partitionKey: 'p', rowKey: 'r1', status: 'Running', attempt: 1 });
    await table.upsertEntity({ partitionKey: 'p', rowKey: 'r1', status: 'Completed', attempt: 2 }, 'Replace');
    const entity = await table.getEntity<{ status: string; attempt: number }>('p', 'r1');
    expect(entity.status).toBe('Completed');
    const rows = [];
    for await (const e of table.listEntities({ queryOptions: { filter: "PartitionKey eq 'p'" } }))
      rows.push(e);
    expect(rows).toHaveLength(1);
    await table.deleteTable();
  });

  it('keeps the PDG account separate from the app account', async () => {
    const pdg = stack.pdgStorages[0]!;
    const pdgService = BlobServiceClient.fromConnectionString(pdg.blobConnectionString);
    expect(await pdgService.getContainerClient('default').exists()).toBe(true);
    const appService = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
    expect(await appService.getContainerClient('default').exists()).toBe(false);
  });
});
