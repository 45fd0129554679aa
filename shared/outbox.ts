/** JSON documents in the app's outbox container: reports, summaries, inventory snapshots. */
import type { ContainerClient } from '@azure/storage-blob';

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
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}
