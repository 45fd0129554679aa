// Archiving inbox files against Azurite (Copy Blob within one account, conditional delete): what retention
// does to an inbox file before it purges the match that read it.
import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { normaliseEtag } from '../../../shared/etag.js';
import {
  ArchiveError,
  archiveBlobName,
  archiveInboxFile,
  isArchived,
  META_ARCHIVED_ETAG,
  META_ARCHIVED_FROM,
} from '../../../shared/workflow/archive.js';
import { matchInstanceIdForBlob } from '../../../shared/workflow/ids.js';

const stack = inject('stack');
const service = BlobServiceClient.fromConnectionString(stack.storageConnectionString);
const inbox = service.getContainerClient(stack.inboxContainer);
const archive = service.getContainerClient(`archive-contract-${Date.now().toString(36)}`);

beforeAll(async () => {
  await inbox.createIfNotExists();
  await archive.createIfNotExists();
});

async function upload(name: string, text: string, metadata: Record<string, string> = {}) {
  const response = await inbox.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), { metadata });
  return { container: stack.inboxContainer, blobName: name, etag: normaliseEtag(response.etag ?? '') };
}

describe('archiveInboxFile', () => {
  it('moves the file under <match id>/<name> with its content and metadata, and says where it came from', async () => {
    const name = `contract/${randomUUID()}/roads.parquet`;
    const file = await upload(name, 'PAR1 some bytes PAR1', { storageid: 'storage-001' });
    expect(archiveBlobName(file)).toBe(`${matchInstanceIdForBlob(file.container, name, file.etag)}/${name}`);

    expect(await archiveInboxFile(inbox, archive, file)).toBe('archived');
    expect(await inbox.getBlobClient(name).exists()).toBe(false);
    const archived = archive.getBlobClient(archiveBlobName(file));
    expect((await archived.downloadToBuffer()).toString()).toBe('PAR1 some bytes PAR1');
    const { metadata } = await archived.getProperties();
    expect(metadata).toMatchObject({
      storageid: 'storage-001',
      [META_ARCHIVED_FROM]: `${stack.inboxContainer}/${name}`,
      [META_ARCHIVED_ETAG]: file.etag,
    });
    expect(await isArchived(archive, file)).toBe(true);
  });

  it('does no harm when repeated, and finishes a run that stopped between copy and delete', async () => {
    const name = `contract/${randomUUID()}.parquet`;
    const file = await upload(name, 'first');
    expect(await archiveInboxFile(inbox, archive, file)).toBe('archived');
    expect(await archiveInboxFile(inbox, archive, file)).toBe('already-archived');

    // A copy made, the inbox file left behind (a crash between the two steps).
    const other = await upload(`contract/${randomUUID()}.parquet`, 'second');
    await archive
      .getBlobClient(archiveBlobName(other))
      .beginCopyFromURL(inbox.getBlobClient(other.blobName).url, {
        metadata: { [META_ARCHIVED_ETAG]: other.etag },
      });
    expect(await archiveInboxFile(inbox, archive, other)).toBe('already-archived');
    expect(await inbox.getBlobClient(other.blobName).exists()).toBe(false);
  });

  it('leaves a newer upload under the same name alone: it is another match’s input', async () => {
    const name = `contract/${randomUUID()}.parquet`;
    const processed = await upload(name, 'old content');
    const newer = await upload(name, 'new content');
    expect(newer.etag).not.toBe(processed.etag);
    expect(await archiveInboxFile(inbox, archive, processed)).toBe('replaced');
    expect((await inbox.getBlobClient(name).downloadToBuffer()).toString()).toBe('new content');
    expect(await isArchived(archive, processed)).toBe(false);
    // The newer upload archives under its own id, next to nothing of the old one.
    expect(await archiveInboxFile(inbox, archive, newer)).toBe('archived');
    expect(archiveBlobName(newer)).not.toBe(archiveBlobName(processed));
  });

  it('reports a file deleted by someone as missing, and a missing archive container as a typed error', async () => {
    const file = await upload(`contract/${randomUUID()}.parquet`, 'gone soon');
    await inbox.getBlobClient(file.blobName).delete();
    expect(await archiveInboxFile(inbox, archive, file)).toBe('missing');

    const again = await upload(`contract/${randomUUID()}.parquet`, 'stays');
    const nowhere = service.getContainerClient(`no-such-archive-${Date.now().toString(36)}`);
    const error = await archiveInboxFile(inbox, nowhere, again).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as ArchiveError).remedy).toMatch(/next retention run tries again/);
    expect(await inbox.getBlobClient(again.blobName).exists()).toBe(true);
  });
});
