// The one door every match comes through (functions/startMatch.ts) against Azurite: once retention has
// archived an upload's file and purged its match, that upload never starts a match again (a sweep that
// listed the file just before, a late Event Grid delivery), while a new upload under the same name does.
import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import type { DurableClient } from 'durable-functions';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { normaliseEtag } from '../../../shared/etag.js';
import { archiveBlobName, archiveInboxFile, META_ARCHIVED_ETAG } from '../../../shared/workflow/archive.js';

const stack = inject('stack');
const archiveName = `archive-start-${Date.now().toString(36)}`;
const service = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
const inbox = service.getContainerClient(stack.inboxContainer);
const archive = service.getContainerClient(archiveName);
let startMatch: typeof import('../../../functions/startMatch.js').startMatch;

beforeAll(async () => {
  vi.stubEnv('AzureWebJobsStorage', stack.storageConnectionString);
  vi.stubEnv('TOMTOM_API_KEY', 'contract-key-0123456789');
  vi.stubEnv('INBOX_CONTAINER', stack.inboxContainer);
  vi.stubEnv('ARCHIVE_CONTAINER', archiveName);
  vi.stubEnv('DEFAULT_STORAGE_ID', 'storage-001');
  vi.stubEnv('DEFAULT_OVERTURE_RELEASE', '2026-01-21.0');
  await inbox.createIfNotExists();
  await archive.createIfNotExists();
  ({ startMatch } = await import('../../../functions/startMatch.js'));
});

/** A task hub with no instances (the match was purged) that records what is started. */
function emptyTaskHub() {
  const started: string[] = [];
  const client = {
    async getStatus() {
      throw new Error('DurableClient error: Durable Functions extension replied with HTTP 404 response.');
    },
    async startNew(_name: string, options: { instanceId: string }) {
      started.push(options.instanceId);
      return options.instanceId;
    },
  };
  return { started, client: client as unknown as DurableClient };
}

async function upload(name: string) {
  const response = await inbox.getBlockBlobClient(name).upload('PAR1', 4);
  return normaliseEtag(response.etag ?? '');
}

describe('startMatch after retention', () => {
  it('starts nothing for an archived upload, and a new match for a new upload of the same name', async () => {
    const name = `contract/${randomUUID()}.parquet`;
    const etag = await upload(name);
    const options = (inboxEtag: string) => ({
      trigger: 'sweep' as const,
      requestedAt: new Date(),
      inboxEtag,
    });

    // Archived by a retention run that was interrupted before removing the inbox file: both copies exist.
    const file = { container: stack.inboxContainer, blobName: name, etag };
    const copy = await archive
      .getBlobClient(archiveBlobName(file))
      .beginCopyFromURL(inbox.getBlobClient(name).url, { metadata: { [META_ARCHIVED_ETAG]: etag } });
    await copy.pollUntilDone();
    const hub = emptyTaskHub();
    const outcome = await startMatch(hub.client, { inboxBlob: name }, options(etag));
    expect(outcome).toMatchObject({ kind: 'existing', runtimeStatus: 'Archived' });
    expect(hub.started).toEqual([]);

    // The archive run finishes; the same upload still starts nothing.
    expect(await archiveInboxFile(inbox, archive, file)).toBe('already-archived');
    expect(await startMatch(hub.client, { inboxBlob: name }, options(etag))).toMatchObject({
      kind: 'existing',
    });

    const newEtag = await upload(name);
    const fresh = await startMatch(hub.client, { inboxBlob: name }, options(newEtag));
    expect(fresh.kind).toBe('started');
    expect(hub.started).toHaveLength(1);
  });

  it('lets a deliberate re-run with an idempotency key through', async () => {
    const name = `contract/${randomUUID()}.parquet`;
    const etag = await upload(name);
    await archiveInboxFile(inbox, archive, { container: stack.inboxContainer, blobName: name, etag });
    const hub = emptyTaskHub();
    const outcome = await startMatch(
      hub.client,
      { inboxBlob: name, idempotencyKey: 'rerun-1' },
      { trigger: 'http', requestedAt: new Date(), inboxEtag: etag },
    );
    expect(outcome.kind).toBe('started');
  });
});
