// What the inbox trigger reads from a BlobCreated event: Microsoft's documented sample
// (test/fixtures/eventgrid, "Azure Blob Storage as an Event Grid source") and the events it must ignore.
import { describe, expect, it } from 'vitest';
import { blobPathOfSubject, inboxUploadFromEvent } from '../../../shared/workflow/inboxEvent.js';
import { documentedBlobCreated } from '../../fixtures/eventgrid/sample.js';

describe('inboxUploadFromEvent', () => {
  it('reads the documented sample: container and name from the subject, bare etag, url and length from data', () => {
    expect(inboxUploadFromEvent(documentedBlobCreated(), 'test-container')).toEqual({
      kind: 'upload',
      upload: {
        container: 'test-container',
        name: 'new-file.txt',
        etag: '0x8D4BCC2E4835CD0',
        url: 'https://my-storage-account.blob.core.windows.net/testcontainer/new-file.txt',
        contentLength: 524288,
      },
    });
  });

  it('keeps folders and characters of the blob name as the subject carries them', () => {
    const event = {
      ...documentedBlobCreated(),
      subject: '/blobServices/default/containers/in/blobs/a/b c.parquet',
    };
    expect(inboxUploadFromEvent(event, 'in')).toMatchObject({
      upload: { container: 'in', name: 'a/b c.parquet' },
    });
    expect(blobPathOfSubject('/blobServices/default/containers/in/blobs/')).toBeUndefined();
  });

  it.each([
    [{ eventType: 'Microsoft.Storage.BlobDeleted' }, /its type is "Microsoft.Storage.BlobDeleted"/],
    [{ eventType: undefined }, /its type is undefined/],
    [
      { subject: '/blobServices/default/containers/other/blobs/x' },
      /container "other", not the inbox "test-container"/,
    ],
    [{ subject: '/subscriptions/x' }, /names no blob/],
    [{ data: { url: 'https://x' } }, /no data\.eTag/],
    [{ data: 'not an object' }, /no data\.eTag/],
  ])('ignores %j with the reason', (override, reason) => {
    const outcome = inboxUploadFromEvent({ ...documentedBlobCreated(), ...override }, 'test-container');
    expect(outcome.kind).toBe('ignored');
    expect(outcome.kind === 'ignored' && outcome.reason).toMatch(reason);
  });

  it('never trusts a content length that is not a whole, non-negative number', () => {
    for (const contentLength of [-1, 1.5, '524288', Number.MAX_VALUE]) {
      const event = documentedBlobCreated() as { data: Record<string, unknown> };
      event.data.contentLength = contentLength;
      const outcome = inboxUploadFromEvent(event, 'test-container');
      expect(outcome.kind === 'upload' && outcome.upload.contentLength).toBeUndefined();
    }
  });
});
