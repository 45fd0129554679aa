/**
 * The archive of processed inbox files. When retention purges a match from the task hub, the inbox file it
 * read moves to the archive container under `<match id>/<name>` (the id the upload's own match has, derived
 * from container, name and etag), so the inbox, and the sweep that lists it, hold only recent uploads, and
 * nothing is deleted: the archived copy keeps the content, the metadata and where it came from.
 *
 * A separate container rather than an `archive/` prefix or blob index tags: the sweep must stop listing old
 * files (a prefix would still be listed, and a tag query cannot ask for "not archived"), the inbox's Event
 * Grid subscription must not see the copies (its subject filter names the inbox container), and Azurite
 * supports Copy Blob within an account, which is all this needs. Copy Blob within one account completes
 * synchronously and its source may be authorized by the same Entra identity
 * (https://learn.microsoft.com/azure/storage/blobs/storage-blob-copy-async-javascript#copy-a-blob-from-a-source-within-azure).
 *
 * Every step is idempotent: a run interrupted between copy and delete finds the copy next time and finishes.
 */
import type { BlobClient, BlobGetPropertiesResponse, ContainerClient } from '@azure/storage-blob';
import { GemFlowError } from '../errors.js';
import { normaliseEtag } from '../etag.js';
import { matchInstanceIdForBlob } from './ids.js';

/** One version of one inbox file: what a match read. */
export interface InboxFileVersion {
  readonly container: string;
  readonly blobName: string;
  readonly etag: string;
}

export type ArchiveOutcome =
  /** Copied to the archive and removed from the inbox. */
  | 'archived'
  /** An earlier run copied it; the inbox copy is removed now if it was left behind. */
  | 'already-archived'
  /** The inbox holds a newer upload under that name (a match of its own); the processed version is gone. */
  | 'replaced'
  /** Neither in the inbox nor in the archive: deleted by someone; there is nothing to keep. */
  | 'missing';

/** Metadata on archived copies (lower case, as Azure returns metadata names). */
export const META_ARCHIVED_FROM = 'gemflowarchivedfrom';
export const META_ARCHIVED_ETAG = 'gemflowarchivedetag';

/** Azure's limit on blob names. */
const MAX_BLOB_NAME = 1024;

export class ArchiveError extends GemFlowError {
  readonly code = 'ArchiveFailed';
}

/** `<match id>/<name>`; a name too long for that keeps its end (the id alone is unique). */
export function archiveBlobName(file: InboxFileVersion): string {
  const id = matchInstanceIdForBlob(file.container, file.blobName, file.etag);
  const room = MAX_BLOB_NAME - id.length - 1;
  return `${id}/${file.blobName.length > room ? file.blobName.slice(-room) : file.blobName}`;
}

const statusOf = (error: unknown) => (error as { statusCode?: number })?.statusCode;

async function propertiesOf(blob: BlobClient): Promise<BlobGetPropertiesResponse | undefined> {
  try {
    return await blob.getProperties();
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

function isArchiveOf(properties: BlobGetPropertiesResponse | undefined, file: InboxFileVersion): boolean {
  return (
    properties !== undefined &&
    properties.copyStatus !== 'pending' &&
    properties.copyStatus !== 'failed' &&
    properties.copyStatus !== 'aborted' &&
    normaliseEtag(properties.metadata?.[META_ARCHIVED_ETAG] ?? '') === normaliseEtag(file.etag)
  );
}

/** True when this version of the file is in the archive (its match may have been purged). */
export async function isArchived(archive: ContainerClient, file: InboxFileVersion): Promise<boolean> {
  return isArchiveOf(await propertiesOf(archive.getBlobClient(archiveBlobName(file))), file);
}

/** Removes the inbox file if it is still this version; a newer upload under the name stays. */
async function removeFromInbox(source: BlobClient, etag: string): Promise<void> {
  try {
    await source.delete({ conditions: { ifMatch: `"${normaliseEtag(etag)}"` }, deleteSnapshots: 'include' });
  } catch (error) {
    if (statusOf(error) === 404 || statusOf(error) === 412) return;
    throw error;
  }
}

async function copyToArchive(
  source: BlobClient,
  target: BlobClient,
  file: InboxFileVersion,
  sourceProperties: BlobGetPropertiesResponse,
): Promise<'copied' | 'replaced'> {
  try {
    const poller = await target.beginCopyFromURL(source.url, {
      sourceConditions: { ifMatch: `"${normaliseEtag(file.etag)}"` },
      metadata: {
        ...sourceProperties.metadata,
        [META_ARCHIVED_FROM]: `${file.container}/${file.blobName}`.slice(0, 2048),
        [META_ARCHIVED_ETAG]: normaliseEtag(file.etag),
      },
    });
    const copied = await poller.pollUntilDone();
    if (copied.copyStatus !== 'success') {
      throw new Error(`the copy ended ${copied.copyStatus ?? 'without a status'}`);
    }
  } catch (error) {
    // A new upload between the check and the copy: the source condition refuses to copy the new content.
    if (statusOf(error) === 412) return 'replaced';
    throw error;
  }
  const archived = await target.getProperties();
  if (archived.contentLength !== sourceProperties.contentLength) {
    throw new Error(
      `the archived copy has ${archived.contentLength} bytes, the inbox file ${sourceProperties.contentLength}`,
    );
  }
  return 'copied';
}

/** Moves one version of an inbox file into the archive; see `ArchiveOutcome`. */
export async function archiveInboxFile(
  inbox: ContainerClient,
  archive: ContainerClient,
  file: InboxFileVersion,
): Promise<ArchiveOutcome> {
  const source = inbox.getBlobClient(file.blobName);
  const target = archive.getBlobClient(archiveBlobName(file));
  try {
    if (isArchiveOf(await propertiesOf(target), file)) {
      await removeFromInbox(source, file.etag);
      return 'already-archived';
    }
    const sourceProperties = await propertiesOf(source);
    if (!sourceProperties) return 'missing';
    if (normaliseEtag(sourceProperties.etag ?? '') !== normaliseEtag(file.etag)) return 'replaced';
    if ((await copyToArchive(source, target, file, sourceProperties)) === 'replaced') return 'replaced';
    await removeFromInbox(source, file.etag);
    return 'archived';
  } catch (error) {
    throw new ArchiveError(
      `Could not archive ${file.container}/${file.blobName} to ${archive.containerName}/${archiveBlobName(file)}: ${(error as Error)?.message ?? error}`,
      {
        cause: error,
        remedy: `Check that container "${archive.containerName}" exists and that the app's identity may write to it (Storage Blob Data Owner on the account); the next retention run tries again and keeps the match until then.`,
      },
    );
  }
}
