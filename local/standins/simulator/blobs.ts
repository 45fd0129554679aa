// The simulator's own access to each PDG storage's blob container: read inputs, write results, list
// files. Production-like (Azure Blob over HTTPS with SharedKey) in the stack; in memory in tests.
// TLS trust for the local emulator comes from the process (the stack sets NODE_EXTRA_CA_CERTS).
import { BlobServiceClient, type ContainerClient, RestError } from '@azure/storage-blob';
import type { StorageConfig, StoredFile } from './types.js';

export interface BlobStore {
  /** undefined when the blob (or its container) does not exist. */
  read(storageId: string, name: string): Promise<Uint8Array | undefined>;
  write(storageId: string, name: string, bytes: Uint8Array): Promise<void>;
  list(storageId: string): Promise<StoredFile[]>;
}

/** Container name = last path segment of the container URL (`…/<account>/default/` → `default`). */
export function containerNameOf(containerUrl: string): string {
  const segments = new URL(containerUrl).pathname.split('/').filter(Boolean);
  const name = segments.at(-1);
  if (!name) throw new Error(`Container URL has no container segment: ${containerUrl}`);
  return name;
}

const isNotFound = (e: unknown) => e instanceof RestError && e.statusCode === 404;

export class AzureBlobStore implements BlobStore {
  private readonly containers = new Map<string, ContainerClient>();

  constructor(storages: StorageConfig[]) {
    for (const s of storages) {
      const service = BlobServiceClient.fromConnectionString(s.blobConnectionString, {
        retryOptions: { maxTries: 2 },
      });
      this.containers.set(s.id, service.getContainerClient(containerNameOf(s.containerUrl)));
    }
  }

  private container(storageId: string): ContainerClient {
    const c = this.containers.get(storageId);
    if (!c) throw new Error(`Unknown storage ${storageId}`);
    return c;
  }

  async read(storageId: string, name: string): Promise<Uint8Array | undefined> {
    try {
      return await this.container(storageId).getBlockBlobClient(name).downloadToBuffer();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async write(storageId: string, name: string, bytes: Uint8Array): Promise<void> {
    const container = this.container(storageId);
    await container.createIfNotExists();
    await container.getBlockBlobClient(name).uploadData(bytes);
  }

  async list(storageId: string): Promise<StoredFile[]> {
    const files: StoredFile[] = [];
    try {
      for await (const blob of this.container(storageId).listBlobsFlat()) {
        files.push({
          name: blob.name,
          size: blob.properties.contentLength ?? 0,
          uploadedAt: (blob.properties.createdOn ?? blob.properties.lastModified).toISOString(),
        });
      }
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
    return files;
  }
}

/** In-memory store for unit tests and for stand-alone runs without Azurite. */
export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Map<string, { bytes: Uint8Array; uploadedAt: string }>>();

  constructor(private readonly now: () => number = Date.now) {}

  async read(storageId: string, name: string): Promise<Uint8Array | undefined> {
    return this.blobs.get(storageId)?.get(name)?.bytes;
  }
  async write(storageId: string, name: string, bytes: Uint8Array): Promise<void> {
    let container = this.blobs.get(storageId);
    if (!container) {
      container = new Map();
      this.blobs.set(storageId, container);
    }
    container.set(name, { bytes: new Uint8Array(bytes), uploadedAt: new Date(this.now()).toISOString() });
  }
  async list(storageId: string): Promise<StoredFile[]> {
    return [...(this.blobs.get(storageId) ?? new Map()).entries()].map(([name, b]) => ({
      name,
      size: b.bytes.byteLength,
      uploadedAt: b.uploadedAt,
    }));
  }
}
