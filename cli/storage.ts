/**
 * What the CLI does with the app's containers: upload an input to the inbox with its options as metadata (the
 * same upload `npm run upload` makes, which uses these functions too), and read the outbox (list it, read a
 * document, save a blob, follow a name's `latest.json`). Storage failures become CliErrors that say what to do:
 * sign in, get a data role, start the stack, or pick another blob name.
 */
import { RestError } from '@azure/core-rest-pipeline';
import type { ContainerClient } from '@azure/storage-blob';
import { normaliseEtag } from '../shared/etag.js';
import { matchInstanceIdForBlob } from '../shared/workflow/ids.js';
import {
  type LatestRunDocument,
  latestBlobName,
  nameKeyFor,
  type SourceKind,
} from '../shared/workflow/outboxNames.js';
import type { MatchOutputs } from '../shared/workflow/types.js';
import { metadataForUploadOptions, type UploadOptions } from '../shared/workflow/uploadOptions.js';
import { CliError, EXIT } from './errors.js';

export interface InboxUpload {
  container: string;
  name: string;
  /** Bare etag of the uploaded version: with the container and name it makes the match id. */
  etag: string;
  size: number;
  /** The id every door (event, sweep, HTTP without idempotency key) derives for this upload. */
  matchId: string;
}

/** Streams `file` into the inbox as `name`, with the options as blob metadata (read by the inbox trigger). */
export async function uploadToInbox(
  inbox: ContainerClient,
  file: string,
  name: string,
  options: UploadOptions,
  size: number,
  onProgress?: (loadedBytes: number) => void,
): Promise<InboxUpload> {
  const response = await inbox.getBlockBlobClient(name).uploadFile(file, {
    metadata: metadataForUploadOptions(options),
    ...(onProgress
      ? { onProgress: (progress: { loadedBytes: number }) => onProgress(progress.loadedBytes) }
      : {}),
  });
  const etag = normaliseEtag(response.etag ?? '');
  return {
    container: inbox.containerName,
    name,
    etag,
    size,
    matchId: matchInstanceIdForBlob(inbox.containerName, name, etag),
  };
}

export interface OutboxEntry {
  name: string;
  size: number;
  lastModified: string | null;
}

export async function listOutbox(outbox: ContainerClient, prefix?: string): Promise<OutboxEntry[]> {
  const entries: OutboxEntry[] = [];
  for await (const blob of outbox.listBlobsFlat(prefix ? { prefix } : {})) {
    entries.push({
      name: blob.name,
      size: blob.properties.contentLength ?? 0,
      lastModified: blob.properties.lastModified?.toISOString() ?? null,
    });
  }
  return entries;
}

export const OUTBOX_DOCUMENTS: readonly (keyof MatchOutputs)[] = [
  'results',
  'summary',
  'error',
  'validationReport',
];

/** The newest run of an input name, from `<name key>/latest.json`; undefined before any run of it finished. */
export async function readLatestRun(
  outbox: ContainerClient,
  kind: SourceKind,
  input: string,
): Promise<{ pointer: string; document: LatestRunDocument | undefined }> {
  const pointer = latestBlobName(nameKeyFor(kind, input));
  const bytes = await downloadIfExists(outbox, pointer);
  return { pointer, document: bytes ? (JSON.parse(bytes.toString('utf8')) as LatestRunDocument) : undefined };
}

/** A blob's bytes, or undefined when it does not exist. */
export async function downloadIfExists(
  container: ContainerClient,
  name: string,
): Promise<Buffer | undefined> {
  try {
    return await container.getBlobClient(name).downloadToBuffer();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

export interface StorageContext {
  kind: 'local' | 'azure';
  unreachableRemedy: string;
}

/**
 * A storage failure as a CliError. `action` says what was being done, e.g. `upload to inbox/roads.parquet`.
 * Errors that are already CliErrors pass through.
 */
export function storageFailure(error: unknown, action: string, target: StorageContext): CliError {
  if (error instanceof CliError) return error;
  const name = (error as Error)?.name ?? '';
  if (
    name === 'CredentialUnavailableError' ||
    name === 'AuthenticationRequiredError' ||
    name === 'AggregateAuthenticationError'
  ) {
    return new CliError('NotSignedIn', EXIT.connection, `Could not ${action}: no Azure sign-in was found.`, {
      cause: error,
      remedy: 'Sign in with `az login` (DefaultAzureCredential uses it), then run the command again.',
    });
  }
  const status =
    error instanceof RestError ? error.statusCode : (error as { statusCode?: number }).statusCode;
  const code = (error as { code?: string }).code ?? '';
  if (status === 403 || status === 401) {
    return new CliError(
      'StorageRefused',
      EXIT.connection,
      `Storage refused to ${action} (${status} ${code}).`,
      {
        cause: error,
        remedy:
          target.kind === 'azure'
            ? 'Your signed-in identity needs "Storage Blob Data Contributor" on the storage account (azd provision grants it to the deploying user; ask an owner otherwise).'
            : "The connection string in stack.json is not the running Azurite's: restart `npm start`.",
      },
    );
  }
  if (status === 400 && /InvalidResourceName|InvalidUri|OutOfRange|InvalidMetadata/i.test(code)) {
    return new CliError('StorageRefusedName', EXIT.usage, `Storage refused to ${action}: ${code}.`, {
      cause: error,
      remedy: 'Choose another blob name with --name (at most 1024 characters, no trailing "." or "/").',
    });
  }
  if (
    status === undefined &&
    /ECONNREFUSED|ENOTFOUND|ECONNRESET|REQUEST_SEND_ERROR|ETIMEDOUT|EAI_AGAIN/.test(
      `${code} ${(error as Error)?.message}`,
    )
  ) {
    return new CliError(
      'StorageUnreachable',
      EXIT.connection,
      `Could not ${action}: storage does not answer (${code || (error as Error)?.message}).`,
      {
        cause: error,
        remedy: target.unreachableRemedy,
      },
    );
  }
  return new CliError(
    'StorageError',
    EXIT.connection,
    `Could not ${action}: ${[status, code, (error as Error)?.message].filter(Boolean).join(' ')}.`,
    {
      cause: error,
    },
  );
}
