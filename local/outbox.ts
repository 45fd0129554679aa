/**
 * `npm run outbox` lists the running stack's outbox; `npm run outbox -- <blob> [file]` prints a JSON document
 * or saves any blob (e.g. a results Parquet) to a local file; `npm run outbox -- --latest [--pdg] <input name>
 * [results|summary|error|validationReport] [file]` finds the newest run of an input name through its
 * `latest.json` and prints that pointer, or the document it names. The offline counterpart of browsing the
 * outbox container in the Azure portal; `gem-flow outbox` does the same through the same functions
 * (cli/storage.ts), on the local stack or on Azure.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { downloadIfExists, listOutbox, OUTBOX_DOCUMENTS, readLatestRun } from '../cli/storage.js';
import type { MatchOutputs } from '../shared/workflow/types.js';
import { repoRoot } from './app.js';
import { attachToStack } from './standins/stack.js';

async function show(outbox: ContainerClient, name: string, file: string | undefined): Promise<void> {
  const bytes = await downloadIfExists(outbox, name);
  if (!bytes) {
    throw new Error(
      `${outbox.containerName}/${name} does not exist (yet: a match writes its documents when it ends); npm run outbox lists what is there`,
    );
  }
  if (file) {
    writeFileSync(resolve(file), bytes);
    console.log(`Saved ${bytes.byteLength} bytes of ${outbox.containerName}/${name} to ${file}.`);
  } else if (name.endsWith('.json')) {
    console.log(bytes.toString('utf8'));
  } else {
    throw new Error(`${name} is binary; give a file to save it to: npm run outbox -- ${name} <file>`);
  }
}

/** The blob `--latest` asks for: the pointer itself, or one of the documents of the run it names. */
async function latestTarget(outbox: ContainerClient, args: string[]): Promise<[string, string | undefined]> {
  const pdg = args[0] === '--pdg';
  const [input, document, file] = pdg ? args.slice(1) : args;
  if (!input)
    throw new Error('give the input name: npm run outbox -- --latest [--pdg] <name> [document] [file]');
  if (document && !OUTBOX_DOCUMENTS.includes(document as keyof MatchOutputs)) {
    throw new Error(`the document is one of ${OUTBOX_DOCUMENTS.join(', ')} (got "${document}")`);
  }
  const latest = await readLatestRun(outbox, pdg ? 'pdg' : 'inbox', input);
  if (!document) return [latest.pointer, undefined];
  const pointer = latest.document;
  if (!pointer) {
    throw new Error(`no run of ${input} has written its documents yet (${latest.pointer} does not exist)`);
  }
  const target = pointer.outputs[document as keyof MatchOutputs];
  if (!target) {
    throw new Error(
      `the latest run of ${input} (${pointer.run}, ${pointer.outcome}) has no ${document}; it has ${Object.keys(pointer.outputs).join(', ')}`,
    );
  }
  return [target, file];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const stack = attachToStack(resolve(process.env.GEMFLOW_LOCAL_DIR ?? join(repoRoot, '.local')));
  const outbox = BlobServiceClient.fromConnectionString(stack.storageConnectionString).getContainerClient(
    stack.outboxContainer,
  );
  if (args.length === 0) {
    for (const blob of await listOutbox(outbox))
      console.log(`${String(blob.size).padStart(10)}  ${blob.name}`);
    return;
  }
  const [name, file] = args[0] === '--latest' ? await latestTarget(outbox, args.slice(1)) : args;
  await show(outbox, name!, file);
}

main().catch((error: unknown) => {
  console.error(`outbox failed: ${(error as Error).message || String(error)}`);
  process.exit(1);
});
