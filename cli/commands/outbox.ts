/**
 * `gem-flow outbox`: the outbox container, the way the portal's storage browser shows it. No argument lists it;
 * a blob name prints a JSON document or saves any other blob (to `--out`, else under the output folder at its
 * outbox path); `--latest INPUT [DOCUMENT]` follows the input name's `latest.json` to its newest run, and prints
 * that pointer or the run's document (results, summary, error, validationReport).
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { MatchOutputs } from '../../shared/workflow/types.js';
import { type CommandContext, outputRoot } from '../context.js';
import { CliError, EXIT, type ExitCode, usageError } from '../errors.js';
import { localPathFor } from '../results.js';
import { downloadIfExists, listOutbox, OUTBOX_DOCUMENTS, readLatestRun, storageFailure } from '../storage.js';
import type { Target } from '../target.js';

export interface OutboxCommandOptions {
  latest?: string;
  pdg?: boolean;
  out?: string;
  output?: string;
  prefix?: string;
}

export async function outboxCommand(
  name: string | undefined,
  options: OutboxCommandOptions,
  context: CommandContext,
): Promise<ExitCode> {
  const target = await context.target();
  try {
    if (options.latest) return await showLatest(target, options.latest, name, options, context);
    if (name) return await showBlob(target, name, options, context);
    return await list(target, options, context);
  } catch (error) {
    throw storageFailure(error, 'read the outbox', target);
  }
}

async function list(
  target: Target,
  options: OutboxCommandOptions,
  context: CommandContext,
): Promise<ExitCode> {
  const entries = await listOutbox(target.outbox, options.prefix);
  context.output.document({ container: target.outbox.containerName, blobs: entries });
  if (entries.length === 0)
    context.output.line(
      `${target.outbox.containerName} is empty${options.prefix ? ` under ${options.prefix}` : ''}.`,
    );
  else
    context.output.table(
      [{ header: 'bytes', right: true }, { header: 'blob' }, { header: 'modified' }],
      entries.map((e) => [e.size, e.name, e.lastModified]),
    );
  return EXIT.ok;
}

async function showLatest(
  target: Target,
  input: string,
  document: string | undefined,
  options: OutboxCommandOptions,
  context: CommandContext,
): Promise<ExitCode> {
  if (document && !OUTBOX_DOCUMENTS.includes(document as keyof MatchOutputs)) {
    throw usageError(`The document is one of ${OUTBOX_DOCUMENTS.join(', ')} (got "${document}").`);
  }
  const latest = await readLatestRun(target.outbox, options.pdg ? 'pdg' : 'inbox', input);
  if (!latest.document) {
    throw new CliError(
      'NoFinishedRun',
      EXIT.failed,
      `No run of ${input} has written its documents yet (outbox/${latest.pointer} does not exist).`,
      {
        remedy:
          'A run writes them when it ends: follow it with `gem-flow status --watch`, or list what is there with `gem-flow outbox`.',
      },
    );
  }
  if (!document) {
    context.output.document(latest.document);
    context.output.line(JSON.stringify(latest.document, null, 2));
    return EXIT.ok;
  }
  const blob = latest.document.outputs[document as keyof MatchOutputs];
  if (!blob) {
    const has = Object.keys(latest.document.outputs).join(', ') || 'no documents';
    throw new CliError(
      'NoSuchDocument',
      EXIT.failed,
      `The latest run of ${input} (${latest.document.run}, ${latest.document.outcome}) has no ${document}; it has ${has}.`,
    );
  }
  return showBlob(target, blob, options, context);
}

async function showBlob(
  target: Target,
  name: string,
  options: OutboxCommandOptions,
  context: CommandContext,
): Promise<ExitCode> {
  const { output } = context;
  if (name.endsWith('.json') && !options.out) {
    const bytes = await downloadIfExists(target.outbox, name);
    if (!bytes) throw blobNotFound(name);
    const content = JSON.parse(bytes.toString('utf8')) as unknown;
    output.document({ blob: name, content });
    output.line(JSON.stringify(content, null, 2));
    return EXIT.ok;
  }
  const file = options.out
    ? resolve(context.io.cwd, options.out)
    : localPathFor(outputRoot(context, options.output), name);
  mkdirSync(dirname(file), { recursive: true });
  try {
    // Streamed to disk: a results file may be large.
    await target.outbox.getBlobClient(name).downloadToFile(file);
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      rmSync(file, { force: true });
      throw blobNotFound(name);
    }
    throw error;
  }
  const bytes = statSync(file).size;
  output.document({ blob: name, file, bytes });
  output.line(`Saved ${bytes} bytes of outbox/${name} to ${file}.`);
  return EXIT.ok;
}

function blobNotFound(name: string): CliError {
  return new CliError('BlobNotFound', EXIT.failed, `outbox/${name} does not exist.`, {
    remedy:
      'List the outbox with `gem-flow outbox`; a match writes its documents when it ends (`gem-flow status`).',
  });
}
