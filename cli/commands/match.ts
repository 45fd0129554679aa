/**
 * `gem-flow match FILE [--wait]`: uploads FILE to the inbox with its options as blob metadata (the upload a user
 * makes in the portal or with `npm run upload`), whose BlobCreated event starts the match; the match id is known
 * at once (container + name + etag, shared/workflow/ids.ts). With `--wait` it follows the match to its end,
 * prints the summary (or why it failed) and saves the outputs. The options are checked with the API's own
 * schema first, so a malformed release or blob name is a usage error before anything is sent.
 */
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { startMatchRequestSchema } from '../../shared/api/schemas.js';
import { rejectedUploadRunFor } from '../../shared/workflow/ids.js';
import { nameKeyFor, outboxBlobNames } from '../../shared/workflow/outboxNames.js';
import {
  metadataForUploadOptions,
  startRequestFromMetadata,
  UPLOAD_OPTIONS,
  type UploadOptions,
} from '../../shared/workflow/uploadOptions.js';
import { type CommandContext, outputRoot } from '../context.js';
import { CliError, EXIT, type ExitCode, usageError } from '../errors.js';
import { followMatch, waitForStart } from '../follow.js';
import { collectResult, printResult, validationExcerpt } from '../results.js';
import { downloadIfExists, type InboxUpload, storageFailure, uploadToInbox } from '../storage.js';
import type { Target } from '../target.js';

export interface MatchCommandOptions extends UploadOptions {
  wait?: boolean;
  name?: string;
  output?: string;
  download?: boolean;
  interval?: number;
  /** Without --wait: seconds to wait for the match to start. */
  startTimeout?: number;
}

/** The upload's options, judged by the same schema `POST /api/matches` uses (shared/api/schemas.ts). */
export function checkUploadRequest(name: string, options: UploadOptions): void {
  // The body the inbox trigger will build from the metadata this upload writes.
  const body = startRequestFromMetadata(name, metadataForUploadOptions(options));
  const parsed = startMatchRequestSchema.safeParse(body);
  if (parsed.success) return;
  const reasons = parsed.error.issues.map((issue) => {
    const field = issue.path.join('.');
    return `${field === 'inboxBlob' ? 'blob name (--name)' : field} ${issue.message}`;
  });
  throw usageError(
    `The inbox would refuse this upload: ${reasons.join('; ')}.`,
    'Fix the option and run again.',
  );
}

function fileSize(file: string): number {
  try {
    const stats = statSync(file);
    if (stats.isFile()) return stats.size;
  } catch {
    // reported below
  }
  throw usageError(`${file} is not a readable file.`);
}

export async function matchCommand(
  file: string,
  options: MatchCommandOptions,
  context: CommandContext,
): Promise<ExitCode> {
  const path = resolve(context.io.cwd, file);
  const name = options.name ?? basename(path);
  const uploadOptions: UploadOptions = {};
  for (const { field } of UPLOAD_OPTIONS) if (options[field]) uploadOptions[field] = options[field];
  checkUploadRequest(name, uploadOptions);
  const size = fileSize(path);
  const target = await context.target();
  const requestedAtMs = Date.now();
  const sending = context.output.transferBar(`Uploading ${name}`, size);
  const upload = await uploadToInbox(target.inbox, path, name, uploadOptions, size, sending.update)
    .catch((error: unknown) => {
      throw storageFailure(error, `upload ${file} to ${target.inbox.containerName}/${name}`, target);
    })
    .finally(() => sending.stop());
  const { output } = context;
  output.line(`Uploaded ${size} bytes to ${upload.container}/${name}; its match is ${upload.matchId}.`);
  const intervalMs = (options.interval ?? 2) * 1000;
  if (!options.wait) return reportStart(context, target, upload, intervalMs, options.startTimeout ?? 60);
  output.document({ event: 'uploaded', ...upload });
  const final = await followMatch({
    app: target.app,
    id: upload.matchId,
    output,
    clock: target.clock,
    intervalMs,
    requestedAtMs,
    whileMissing: () => rejection(target, upload),
    missingHint: { afterMs: 60_000, text: notStartedHint(target) },
    ...(context.io.signal ? { signal: context.io.signal } : {}),
  });
  const result = await collectResult(final, {
    outbox: target.outbox,
    storage: target,
    download: options.download !== false,
    outputRoot: outputRoot(context, options.output),
  });
  printResult(output, result);
  if (result.outcome === 'invalid-input')
    output.line(`Check a file before uploading it: gem-flow validate ${file}`);
  return result.exitCode;
}

/**
 * Without --wait: waits until the app has started the upload's match (or refused its options), so the id can
 * be used at once (`gem-flow cancel`, `status`). Not started within the timeout is not an error: the event may
 * be late, and the sweep starts missed uploads; the message says where to look.
 */
async function reportStart(
  context: CommandContext,
  target: Target,
  upload: InboxUpload,
  intervalMs: number,
  timeoutSeconds: number,
): Promise<ExitCode> {
  const status = await waitForStart({
    app: target.app,
    id: upload.matchId,
    intervalMs: Math.min(intervalMs, 1000),
    timeoutMs: timeoutSeconds * 1000,
    whileMissing: () => rejection(target, upload),
    ...(context.io.signal ? { signal: context.io.signal } : {}),
  });
  const { output } = context;
  output.document({ event: 'uploaded', ...upload, status: status ?? null });
  if (status) {
    const phase = status.phase ? `, ${status.phase}` : '';
    output.line(`The match has started (${status.runtimeStatus}${phase}).`);
  } else {
    output.line(`It has not started within ${timeoutSeconds} s. ${notStartedHint(target)}`);
  }
  output.line(`Follow it: gem-flow status ${upload.matchId} --watch`);
  return EXIT.ok;
}

/** The report of an upload whose options the app refused (it starts no match), as an error, once it exists. */
async function rejection(target: Target, upload: InboxUpload): Promise<CliError | undefined> {
  const run = rejectedUploadRunFor(upload.container, upload.name, upload.etag);
  const blob = outboxBlobNames({ nameKey: nameKeyFor('inbox', upload.name), run }).validationReport;
  const bytes = await downloadIfExists(target.outbox, blob).catch((error: unknown) => {
    throw storageFailure(error, `read outbox/${blob}`, target);
  });
  if (!bytes) return undefined;
  const excerpt = validationExcerpt(blob, JSON.parse(bytes.toString('utf8')) as Record<string, unknown>);
  const problems = excerpt.problems.map((p) => `${p.column ?? p.rule}: ${p.message}`).join('; ');
  return new CliError(
    'UploadRejected',
    EXIT.failed,
    `The app started no match for ${upload.name}: ${problems} (report: outbox/${blob}).`,
    {
      ...(excerpt.remedy ? { remedy: excerpt.remedy } : {}),
    },
  );
}

function notStartedHint(target: Target): string {
  return target.kind === 'local'
    ? "No match has started for the upload yet. The local host delivers upload events within seconds: look at `npm start`'s output."
    : 'No match has started for the upload yet. Check the inbox Event Grid subscription (the postdeploy hook creates it); the sweep also starts missed uploads within 15 minutes.';
}
