/**
 * JSON documents in the app's outbox container: reports, summaries, inventory snapshots, and the pointers to
 * the newest run of a name. A run's own documents are written plainly (no other run writes to its folder); a
 * pointer that several runs share is written only with a condition on the version read, so concurrent runs
 * converge on the newest one whatever order they finish in.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { GemFlowError, isNotFound } from './errors.js';
import { isNewerRun, type LatestRunDocument, latestBlobName } from './workflow/outboxNames.js';

/** Writes (or overwrites) a JSON document. Idempotent: the same inputs produce the same document. */
export async function writeJsonBlob(
  container: ContainerClient,
  blobName: string,
  document: unknown,
): Promise<string> {
  const body = `${JSON.stringify(document, null, 2)}\n`;
  await container
    .getBlockBlobClient(blobName)
    .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  return blobName;
}

/** Reads a JSON document, or undefined when it does not exist. */
export async function readJsonBlob<T>(container: ContainerClient, blobName: string): Promise<T | undefined> {
  try {
    const bytes = await container.getBlobClient(blobName).downloadToBuffer();
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export class OutboxPointerContendedError extends GemFlowError {
  readonly code = 'OutboxPointerContended';
}

/** A pointer is a few hundred bytes; anything larger found in its place is read as "no pointer". */
export const MAX_POINTER_BYTES = 64 * 1024;
/** Rounds of read-compare-write before giving up; each lost round means another writer succeeded. */
const POINTER_ATTEMPTS = 20;

export type PointerWrite = 'written' | 'newer-kept';

interface CurrentPointer {
  etag: string;
  /** The parsed document, or undefined when it is not JSON or too large to be a pointer. */
  document: unknown;
}

const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode;

/** The pointer as it is now, read at one version; undefined when there is none. */
async function readPointer(
  container: ContainerClient,
  blobName: string,
): Promise<CurrentPointer | undefined> {
  const blob = container.getBlobClient(blobName);
  let properties: Awaited<ReturnType<typeof blob.getProperties>>;
  try {
    properties = await blob.getProperties();
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
  const etag = properties.etag ?? '';
  const size = properties.contentLength ?? 0;
  if (size === 0 || size > MAX_POINTER_BYTES) return { etag, document: undefined };
  const bytes = await blob.downloadToBuffer(0, size, { conditions: { ifMatch: etag } });
  try {
    return { etag, document: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return { etag, document: undefined };
  }
}

/**
 * Writes a shared pointer document unless the one already there is newer (`isNewer(existing)`). The write is
 * conditional on the version that was read (If-Match, or If-None-Match: * when there was none), and a round
 * lost to a concurrent writer starts again from a fresh read, so the newest document wins whatever the order
 * of the writers. Writing the same document again is allowed (an activity that runs twice).
 */
export async function writeJsonPointer(
  container: ContainerClient,
  blobName: string,
  document: unknown,
  isNewer: (existing: unknown) => boolean,
): Promise<PointerWrite> {
  const body = `${JSON.stringify(document, null, 2)}\n`;
  const blob = container.getBlockBlobClient(blobName);
  for (let attempt = 1; attempt <= POINTER_ATTEMPTS; attempt++) {
    let current: CurrentPointer | undefined;
    try {
      current = await readPointer(container, blobName);
    } catch (error) {
      if (statusOf(error) === 412 || statusOf(error) === 404) continue; // replaced between the two reads
      throw error;
    }
    if (current?.document !== undefined && isNewer(current.document)) return 'newer-kept';
    try {
      await blob.upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        conditions: current ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
      });
      return 'written';
    } catch (error) {
      // 412: changed since the read; 409 BlobAlreadyExists: created since the read (If-None-Match: *).
      if (statusOf(error) !== 412 && statusOf(error) !== 409) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
  throw new OutboxPointerContendedError(
    `outbox/${blobName} kept changing while it was being updated (${POINTER_ATTEMPTS} rounds).`,
    { remedy: 'Nothing to do: the activity is retried and tries again.' },
  );
}

/**
 * Points `<name key>/latest.json` at a run, unless a run requested later already holds it. Call it after the
 * run's own documents are written, so the pointer never names a document that does not exist yet.
 */
export function recordLatestRun(
  container: ContainerClient,
  nameKey: string,
  run: Omit<LatestRunDocument, 'kind' | 'version'>,
): Promise<PointerWrite> {
  const pointer: LatestRunDocument = { kind: 'gem-flow.latest-run', version: 1, ...run };
  return writeJsonPointer(container, latestBlobName(nameKey), pointer, (existing) =>
    isNewerRun(existing, pointer),
  );
}
