/**
 * `npm run upload -- <file> [--name <blob>] [--storage-id <id>] [--job-type <type>] [--overture-release <r>]
 * [--orbis-version <v>] [--callback-url <url>]`: puts a local file into the running stack's inbox (Azurite), with per-file options
 * as blob metadata, exactly as an Azure user would upload to the inbox container. The host's Event Grid
 * stand-in publishes the upload's BlobCreated event to onInboxUpload, which starts a match. The upload itself
 * is the one `gem-flow match` makes (cli/storage.ts), with the options of shared/workflow/uploadOptions.ts.
 */
import { statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { uploadToInbox } from '../cli/storage.js';
import { UPLOAD_OPTIONS, type UploadOptions } from '../shared/workflow/uploadOptions.js';
import { repoRoot } from './app.js';
import { attachToStack } from './standins/stack.js';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      ...Object.fromEntries(UPLOAD_OPTIONS.map((option) => [option.flag, { type: 'string' as const }])),
    },
  });
  const file = positionals[0];
  if (!file)
    throw new Error('Usage: npm run upload -- <file> [--name <blob>] [--storage-id <id>] [--job-type …]');
  const dir = resolve(process.env.GEMFLOW_LOCAL_DIR ?? join(repoRoot, '.local'));
  const stack = attachToStack(dir);
  const options: UploadOptions = {};
  for (const { flag, field } of UPLOAD_OPTIONS) {
    const value = (values as Record<string, string | undefined>)[flag];
    if (value) options[field] = value;
  }
  const name = values.name ?? basename(file);
  const path = resolve(file);
  const size = statSync(path).size;
  const container = BlobServiceClient.fromConnectionString(stack.storageConnectionString).getContainerClient(
    stack.inboxContainer,
  );
  const upload = await uploadToInbox(container, path, name, options, size);
  console.log(`Uploaded ${size} bytes to ${stack.inboxContainer}/${name}.`);
  // The id its event starts (container + name + etag); the key stays in stack.json, not on the terminal.
  console.log(
    `Match ${upload.matchId} starts from its BlobCreated event; follow it: npx gem-flow status ${upload.matchId} --watch`,
  );
}

main().catch((error: unknown) => {
  console.error(`upload failed: ${(error as Error).message}`);
  process.exit(1);
});
