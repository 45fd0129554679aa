/**
 * Server-side staging: the PDG storage reads the source itself (Put Block From URL for each block, then Put
 * Block List), so no byte of the file passes through the app. The source URL carries a user-delegation SAS
 * minted from the app's own token (Get User Delegation Key): read-only, for the one blob, minutes long, its
 * start a little in the past for clock skew. The SAS is a secret: it is made and used here, never returned,
 * and every error that leaves this module is rebuilt from status and error code without the request (whose
 * x-ms-copy-source header holds it).
 *
 * The JS SDK's `stageBlockFromURL` forwards no source conditions (x-ms-source-if-match), so a changed source
 * is caught by reading the source's etag again after the last block and before the commit: an etag changes
 * on every write and never comes back, so an unchanged etag means every block was read from the one version.
 * REST: https://learn.microsoft.com/rest/api/storageservices/put-block-from-url,
 * https://learn.microsoft.com/rest/api/storageservices/create-user-delegation-sas.
 */
import { isTokenCredential } from '@azure/core-auth';
import {
  type BlobClient,
  BlobSASPermissions,
  BlobServiceClient,
  type BlockBlobClient,
  generateBlobSASQueryParameters,
  SASProtocol,
  type UserDelegationKey,
} from '@azure/storage-blob';
import { normaliseEtag } from '../etag.js';
import { StagingError } from './errors.js';

/** Put Block From URL reads at most this much per block; 64 MiB keeps a 1 GiB file at 16 requests. */
export const SERVER_SIDE_BLOCK_BYTES = 64 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 4;
/** Azure's limit on blocks in one blob. */
const MAX_BLOCKS = 50_000;
/** Clock skew allowance on every start time, and the life of one SAS (each block gets a fresh one). */
const SKEW_MS = 5 * 60_000;
const SAS_LIFE_MS = 15 * 60_000;
/** A delegation key lives an hour and is renewed when less than a SAS's life remains. */
const KEY_LIFE_MS = 60 * 60_000;

/** Why the server-side path could not be used: which step, and what the service said (no URL, no SAS). */
export class ServerSideUnavailable extends Error {
  constructor(
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(reason, options);
  }
}

/** The calls of a server-side copy, in the words an error or a log line uses for them. */
export const COPY_STEPS = {
  'delegation-key': 'getting a user delegation key from the source account',
  'stage-block': 'Put Block From URL into the PDG storage',
  'source-check': 're-reading the source properties',
  commit: 'Put Block List in the PDG storage',
} as const;
export type CopyStep = keyof typeof COPY_STEPS;

/** Failure of a server-side call, rebuilt without the request: its fields are what toStagingError reads. */
export class CopyCallError extends Error {
  constructor(
    readonly step: CopyStep,
    readonly statusCode: number | undefined,
    readonly code: string | undefined,
    message: string,
    readonly details: { errorCode?: string } = {},
    name = 'RestError',
  ) {
    super(message);
    // An identity failure keeps its name (AuthenticationError…): toStagingError tells those apart by it.
    this.name = name;
  }
}

/** Makes read-only user-delegation SAS URLs for one blob, renewing the delegation key when it runs low. */
export class SourceReadUrls {
  private key: UserDelegationKey | undefined;
  private readonly service: BlobServiceClient;
  private readonly now: () => Date;

  /**
   * `service` is the source's account client to ask for the key (e.g. the app's own BlobServiceClient, with its
   * pipeline options); by default one is made from the source's URL and token credential.
   */
  constructor(
    private readonly source: BlobClient,
    options: { service?: BlobServiceClient | undefined; now?: (() => Date) | undefined } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    const credential = options.service?.credential ?? source.credential;
    if (!isTokenCredential(credential)) {
      throw new ServerSideUnavailable(
        'the app storage is reached with an account key or anonymously, and only an Entra token can get a user delegation key',
      );
    }
    this.service = options.service ?? new BlobServiceClient(serviceUrlOf(source), credential);
  }

  /** The blob's URL with a fresh SAS: start SKEW_MS ago, SAS_LIFE_MS long, read permission only. */
  async next(abortSignal?: AbortSignal): Promise<{ url: string; signature: string }> {
    const now = this.now().getTime();
    const key = await this.delegationKey(now, abortSignal);
    const expiresOn = new Date(Math.min(now + SAS_LIFE_MS, key.signedExpiresOn.getTime()));
    const sas = generateBlobSASQueryParameters(
      {
        containerName: this.source.containerName,
        blobName: this.source.name,
        permissions: BlobSASPermissions.parse('r'),
        startsOn: new Date(now - SKEW_MS),
        expiresOn,
        protocol: this.source.url.startsWith('https:') ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
      },
      key,
      this.source.accountName,
    );
    return { url: `${this.source.url.split('?')[0]}?${sas.toString()}`, signature: sas.signature };
  }

  private async delegationKey(now: number, abortSignal?: AbortSignal): Promise<UserDelegationKey> {
    if (this.key && this.key.signedExpiresOn.getTime() - now > SAS_LIFE_MS) return this.key;
    try {
      this.key = await this.service.getUserDelegationKey(
        new Date(now - SKEW_MS),
        new Date(now + KEY_LIFE_MS),
        {
          abortSignal,
        },
      );
    } catch (err) {
      throw rebuilt('delegation-key', err, []);
    }
    return this.key;
  }
}

/**
 * The account endpoint of a blob URL: `https://acct.blob.core.windows.net` (host style) or
 * `https://127.0.0.1:10000/acct` (path style, Azurite and IP endpoints), as the SDK itself tells them apart
 * by whether the host starts with the account name.
 */
export function serviceUrlOf(blob: BlobClient): string {
  const url = new URL(blob.url);
  if (url.hostname.startsWith(`${blob.accountName}.`)) return url.origin;
  const account = url.pathname.split('/')[1] ?? '';
  return `${url.origin}/${account}`;
}

export interface ServerSideCopyArgs {
  source: BlobClient;
  /** The etag the identity was read at; the copy is refused if the source has another one by the commit. */
  sourceEtag: string;
  size: number;
  target: BlockBlobClient;
  /** Block ids are derived from it, so a different source staging to the same name never shares a block. */
  contentId: string;
  metadata: Record<string, string>;
  contentType: string;
  conditions?: { ifNoneMatch: string };
  blockBytes?: number;
  abortSignal?: AbortSignal;
  /** The source account's client that asks for the delegation key; see SourceReadUrls. */
  sourceService?: BlobServiceClient;
  /** For tests: the clock SAS times come from. */
  now?: () => Date;
}

/** Stages every block from the source's SAS URL, checks the source did not change, and commits. */
export async function serverSideCopy(args: ServerSideCopyArgs): Promise<void> {
  const urls = new SourceReadUrls(args.source, { service: args.sourceService, now: args.now });
  const blockBytes = Math.max(args.blockBytes ?? SERVER_SIDE_BLOCK_BYTES, Math.ceil(args.size / MAX_BLOCKS));
  const ids = blockIds(args.contentId, Math.ceil(args.size / blockBytes));
  const signatures: string[] = [];
  let nextBlock = 0;
  const worker = async (): Promise<void> => {
    while (nextBlock < ids.length) {
      const index = nextBlock++;
      const { url, signature } = await urls.next(args.abortSignal);
      signatures.push(signature);
      const offset = index * blockBytes;
      const count = Math.min(blockBytes, args.size - offset);
      try {
        await args.target.stageBlockFromURL(ids[index]!, url, offset, count, {
          abortSignal: args.abortSignal,
        });
      } catch (err) {
        throw rebuilt('stage-block', err, signatures);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BLOCKS_IN_FLIGHT, ids.length) }, worker));
  await ensureUnchanged(args);
  await commit(args, ids, signatures);
}

async function ensureUnchanged(args: ServerSideCopyArgs): Promise<void> {
  let etag: string;
  try {
    etag = (await args.source.getProperties({ abortSignal: args.abortSignal })).etag ?? '';
  } catch (err) {
    throw rebuilt('source-check', err, []);
  }
  if (normaliseEtag(etag) !== normaliseEtag(args.sourceEtag)) {
    throw new StagingError(
      'SOURCE_CHANGED',
      'The source blob changed while the PDG storage was copying it.',
      {
        retriable: false,
        remedy: 'The new version triggers its own run; this one stops.',
      },
    );
  }
}

async function commit(args: ServerSideCopyArgs, ids: string[], signatures: string[]): Promise<void> {
  try {
    await args.target.commitBlockList(ids, {
      abortSignal: args.abortSignal,
      metadata: args.metadata,
      blobHTTPHeaders: { blobContentType: args.contentType },
      ...(args.conditions ? { conditions: args.conditions } : {}),
    });
  } catch (err) {
    throw rebuilt('commit', err, signatures);
  }
}

/** Fixed-length base64 ids (Azure requires one length per blob): 16 hex of the content id and the index. */
function blockIds(contentId: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    Buffer.from(`${contentId.slice(0, 16)}-${String(i).padStart(6, '0')}`).toString('base64'),
  );
}

/** A service error with only what is safe to keep: status, error code, and a first line without any SAS. */
function rebuilt(step: CopyStep, err: unknown, signatures: readonly string[]): CopyCallError {
  const e = (err ?? {}) as {
    statusCode?: number;
    code?: string;
    name?: string;
    message?: string;
    details?: { errorCode?: string };
  };
  let message = (e.message ?? String(err)).split('\n')[0] ?? '';
  for (const s of signatures) message = message.split(s).join('[redacted]');
  message = message.replace(/([?&]sig=)[^&\s"']*/gi, '$1[redacted]');
  const errorCode = e.details?.errorCode ?? e.code;
  const details = errorCode ? { errorCode } : {};
  return new CopyCallError(step, e.statusCode, e.code, message.slice(0, 300), details, e.name ?? 'RestError');
}
