/**
 * `npm run upload -- <file> [--name <blob>] [--storage-id <id>] [--job-type <type>] [--overture-release <r>]
 * [--orbis-version <v>] [--callback-url <url>]`: puts a local file into the running stack's inbox (Azurite), with per-file options
 * as blob metadata, exactly as an Azure user would upload to the inbox container. The host's Event Grid
 * stand-in publishes the upload's BlobCreated event to onInboxUpload, which starts a match.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { repoRoot } from './app.js';
import { attachToStack } from './standins/stack.js';

const METADATA_OPTIONS = {
  'storage-id': 'storageid',
  'job-type': 'jobtype',
  'overture-release': 'overturerelease',
  'orbis-version': 'orbisversion',
  // Honoured only for a host on NOTIFY_ALLOWED_HOSTS (the stack lists 127.0.0.1).
  'callback-url': 'callbackurl',
} as const;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      ...Object.fromEntries(Object.keys(METADATA_OPTIONS).map((k) => [k, { type: 'string' as const }])),
    },
  });
  const file = positionals[0];
  if (!file)
    throw new Error('Usage: npm run upload -- <file> [--name <blob>] [--storage-id <id>] [--job-type …]');
  const dir = resolve(process.env.GEMFLOW_LOCAL_DIR ?? join(repoRoot, '.local'));
  const stack = attachToStack(dir);
  const metadata: Record<string, string> = {};
  for (const [option, key] of Object.entries(METADATA_OPTIONS)) {
    const value = (values as Record<string, string | undefined>)[option];
    if (value) metadata[key] = value;
  }
  const name = values.name ?? basename(file);
  const bytes = readFileSync(resolve(file));
  const container = BlobServiceClient.fromConnectionString(stack.storageConnectionString).getContainerClient(
    stack.inboxContainer,
  );
  await container.getBlockBlobClient(name).uploadData(bytes, { metadata });
  console.log(`Uploaded ${bytes.byteLength} bytes to ${stack.inboxContainer}/${name}.`);
  console.log(
    `Follow it: curl -s "${String(stack.functionsBaseUrl)}/api/matches" -H "x-functions-key: ${String(stack.functionKey)}"`,
  );
}

main().catch((error: unknown) => {
  console.error(`upload failed: ${(error as Error).message}`);
  process.exit(1);
});
