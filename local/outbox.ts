/**
 * `npm run outbox` lists the running stack's outbox; `npm run outbox -- <name> [file]` prints a JSON document
 * or saves any blob (e.g. a results Parquet) to a local file. The offline counterpart of browsing the outbox
 * container in the Azure portal.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { repoRoot } from './app.js';
import { attachToStack } from './standins/stack.js';

async function main(): Promise<void> {
  const [name, file] = process.argv.slice(2);
  const stack = attachToStack(resolve(process.env.GEMFLOW_LOCAL_DIR ?? join(repoRoot, '.local')));
  const outbox = BlobServiceClient.fromConnectionString(stack.storageConnectionString).getContainerClient(
    stack.outboxContainer,
  );
  if (!name) {
    for await (const blob of outbox.listBlobsFlat()) {
      console.log(`${String(blob.properties.contentLength).padStart(10)}  ${blob.name}`);
    }
    return;
  }
  const bytes = await outbox.getBlobClient(name).downloadToBuffer();
  if (file) {
    writeFileSync(resolve(file), bytes);
    console.log(`Saved ${bytes.byteLength} bytes of ${stack.outboxContainer}/${name} to ${file}.`);
  } else if (name.endsWith('.json')) {
    console.log(bytes.toString('utf8'));
  } else {
    throw new Error(`${name} is binary; give a file to save it to: npm run outbox -- ${name} <file>`);
  }
}

main().catch((error: unknown) => {
  console.error(`outbox failed: ${(error as Error).message}`);
  process.exit(1);
});
