/**
 * Moving files between the app's storage and the PDG container: server-side where Azure allows it
 * (serverSide.ts), otherwise streamed (never a whole file in memory), and idempotent (a repeated activity
 * finds its earlier work and skips it).
 */
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { BlobClient, BlobServiceClient, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { isNotFound, safeUrl } from '../errors.js';
import { normaliseEtag } from '../etag.js';
import { StagingError, type StorageSide, toStagingError } from './errors.js';
import { META_SHA256, META_SHA256_SIZE, type SourceIdentity, sourceIdentity } from './identity.js';
import { contentDerivedName } from './names.js';
import { COPY_STEPS, CopyCallError, ServerSideUnavailable, serverSideCopy } from './serverSide.js';

export { META_SHA256, META_SHA256_SIZE } from './identity.js';
export const META_SOURCE_URI = 'sourceuri';
export const META_SOURCE_ETAG = 'sourceetag';
/** The source identity a staged blob was copied from (SourceIdentity.contentId); what a re-run checks. */
export const META_SOURCE_ID = 'sourceid';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface TransferOptions {
  /**
   * Upload block size; memory is about bufferBytes × maxBuffers. Default 2 MiB: with 4 MiB × 4 a 1 GiB copy grew
   * the process by 68 MiB, with 2 MiB × 4 by 56 MiB (npm run bench -- staging).
   */
  bufferBytes?: number;
  /** Blocks in flight. Default 4. */
  maxBuffers?: number;
  abortSignal?: AbortSignal;
  /** Strings to scrub from error text (e.g. the client secret); see toStagingError. */
  secrets?: readonly string[];
}

const DEFAULTS = { bufferBytes: 2 * 1024 * 1024, maxBuffers: 4 };

async function guard<T>(
  op: () => Promise<T>,
  context: { side: StorageSide; action: string; url: string; secrets?: readonly string[] },
): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw toStagingError(err, context);
  }
}

function toReadable(body: NodeJS.ReadableStream | undefined, url: string): Readable {
  if (!body)
    throw new StagingError('STAGING_FAILED', `The download of ${safeUrl(url)} returned no body.`, {
      retriable: true,
    });
  return body instanceof Readable ? body : Readable.from(body as AsyncIterable<Uint8Array>);
}

/** How a staged file's bytes moved: read by the PDG storage itself, or through the app. */
export type StagingMethod = 'server-side' | 'streamed';

export interface StageInputRequest extends TransferOptions {
  /** The validated input in the app's storage. */
  source: BlobClient;
  /** The PDG `default` container (see pdgContainerClient). */
  target: ContainerClient;
  /** Name in the PDG container; default contentDerivedName(source name, the source's content id). */
  targetName?: string;
  /** With an explicit targetName, replace a different blob already there. Default false. */
  overwrite?: boolean;
  /** Try the server-side copy first (default true); false always streams through the app. */
  serverSideCopy?: boolean;
  /** Block size of the server-side copy; default SERVER_SIDE_BLOCK_BYTES. */
  serverSideBlockBytes?: number;
  /** The source account's client for the user delegation key (keeps its pipeline); default from the source. */
  sourceService?: BlobServiceClient;
  /** Told once per copy which path moved the bytes and, on a fallback, why. Never given a secret. */
  log?: (line: string) => void;
}

export interface StageInputResult {
  targetName: string;
  /**
   * SHA-256 of the content when it is known without a second read: recorded on the source, or computed while
   * streaming. Null after a server-side copy of a source that records none (the app never saw the bytes).
   */
  sha256: string | null;
  size: number;
  /** True when the PDG container already held this content under this name; nothing was copied. */
  skipped: boolean;
  /** How the bytes moved; null when skipped. */
  method: StagingMethod | null;
  /** Why the server-side copy was not used, when `method` is 'streamed'. */
  fallbackReason?: string;
  /** The source identity the name derives from, and what it rests on (shared/staging/identity.ts). */
  contentId: string;
  identityBasis: SourceIdentity['basis'];
  /** Bytes of the source the app process downloaded: 0 when skipped or copied server-side. */
  bytesThroughApp: number;
}

type TargetProperties = { contentLength?: number; metadata?: Record<string, string> } | undefined;

/** The target holds this source's content: same length, and the same source identity or content hash. */
function holds(target: TargetProperties, identity: SourceIdentity): boolean {
  if (target === undefined || target.contentLength !== identity.size) return false;
  if (target.metadata?.[META_SOURCE_ID] === identity.contentId) return true;
  return identity.sha256 !== null && target.metadata?.[META_SHA256] === identity.sha256;
}

/**
 * Copies an input into the PDG container under a name derived from the source's identity, unless it is
 * already there: server-side where Azure allows it, otherwise streamed through the app (say so, never
 * silently). The source is read once at most, and its properties name it (identity.ts), so no hashing pass.
 *
 * Idempotence: "a blob with this name, this size and this source id in its metadata exists" means the work
 * is done. The commit carries `ifNoneMatch: '*'`, so two racing runs cannot both write: the loser sees
 * 409/412, re-checks, and reports `skipped`. Metadata is committed together with the block list, so a
 * crashed copy leaves no half-labelled blob.
 */
export async function stageInput(request: StageInputRequest): Promise<StageInputResult> {
  const { source, target } = request;
  const properties = await guard(() => source.getProperties({ abortSignal: request.abortSignal }), {
    side: 'app',
    url: source.url,
    action: 'reading the properties of',
  });
  const identity = sourceIdentity(source, properties);
  const derived = request.targetName === undefined;
  const targetName = request.targetName ?? contentDerivedName(source.name, identity.contentId);
  const blob = target.getBlockBlobClient(targetName);
  const pdg = { side: 'pdg' as const, url: blob.url, secrets: request.secrets ?? [] };
  const base = {
    targetName,
    size: identity.size,
    contentId: identity.contentId,
    identityBasis: identity.basis,
  };
  const skipped = (p: TargetProperties): StageInputResult => ({
    ...base,
    sha256: identity.sha256 ?? recordedSha256(p),
    skipped: true,
    method: null,
    bytesThroughApp: 0,
  });

  const existing = await targetProperties(blob, request.abortSignal, pdg);
  if (holds(existing, identity)) return skipped(existing);
  if (existing && !derived && !request.overwrite) {
    throw new StagingError(
      'PDG_NAME_TAKEN',
      `A different file already exists in the PDG container as ${targetName}.`,
      {
        remedy:
          'Leave targetName unset to use a content-derived name, or pass overwrite: true if no GEM job reads it.',
      },
    );
  }
  // A derived name that exists without this source's identity (e.g. uploaded by hand) is replaced, hence
  // no ifNoneMatch then.
  const conditions = existing ? undefined : { ifNoneMatch: '*' };
  try {
    return { ...base, ...(await copyOnce(request, identity, blob, conditions)), skipped: false };
  } catch (err) {
    if (!(err instanceof TargetExists)) throw err;
    // Lost a race with another run staging the same content: fine if the winner's blob is complete.
    const now = await guard(() => blob.getProperties(), { ...pdg, action: 're-checking' });
    if (holds(now, identity)) return skipped(now);
    throw toStagingError(err.cause, { ...pdg, action: 'uploading to' });
  }
}

function recordedSha256(p: TargetProperties): string | null {
  const value = p?.metadata?.[META_SHA256];
  return value && SHA256_HEX.test(value) ? value : null;
}

async function targetProperties(
  blob: BlockBlobClient,
  abortSignal: AbortSignal | undefined,
  context: { side: StorageSide; url: string; secrets: readonly string[] },
): Promise<TargetProperties> {
  return guard(
    async () => {
      try {
        return await blob.getProperties({ abortSignal });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    { ...context, action: 'checking' },
  );
}

type CopyOutcome = Pick<StageInputResult, 'sha256' | 'method' | 'fallbackReason' | 'bytesThroughApp'>;

/** One copy: server-side first (unless turned off), streamed when the error says that path is closed. */
async function copyOnce(
  request: StageInputRequest,
  identity: SourceIdentity,
  target: BlockBlobClient,
  conditions: { ifNoneMatch: string } | undefined,
): Promise<CopyOutcome> {
  const { source } = request;
  const metadata: Record<string, string> = {
    [META_SOURCE_ID]: identity.contentId,
    [META_SOURCE_URI]: safeUrl(source.url),
    [META_SOURCE_ETAG]: normaliseEtag(identity.etag),
    ...(identity.sha256 ? { [META_SHA256]: identity.sha256, [META_SHA256_SIZE]: String(identity.size) } : {}),
  };
  const contentType = contentTypeFor(target.name);
  let fallbackReason = 'server-side copy is turned off for this call';
  if (request.serverSideCopy !== false) {
    try {
      await serverSideCopy({
        source,
        sourceEtag: identity.etag,
        size: identity.size,
        target,
        contentId: identity.contentId,
        metadata,
        contentType,
        ...(conditions ? { conditions } : {}),
        ...(request.serverSideBlockBytes ? { blockBytes: request.serverSideBlockBytes } : {}),
        ...(request.sourceService ? { sourceService: request.sourceService } : {}),
        ...(request.abortSignal ? { abortSignal: request.abortSignal } : {}),
      });
      request.log?.(
        `Staged ${safeUrl(target.url)} server-side (Put Block From URL); no bytes through the app.`,
      );
      return { sha256: identity.sha256, method: 'server-side', bytesThroughApp: 0 };
    } catch (err) {
      fallbackReason = fallbackReasonFor(err, conditions !== undefined, request.secrets ?? [], target.url);
    }
  }
  request.log?.(`Staging ${safeUrl(target.url)} streamed through the app: ${fallbackReason}.`);
  const streamed = await streamCopy({
    source,
    sourceEtag: identity.etag,
    sourceSide: 'app',
    target,
    targetSide: 'pdg',
    metadata,
    contentType,
    conditions,
    expectedBytes: identity.size,
    options: request,
  });
  if (!identity.sha256) await recordSha256(target, streamed.sha256, identity.size);
  return { sha256: streamed.sha256, method: 'streamed', fallbackReason, bytesThroughApp: streamed.bytes };
}

/**
 * Why the server-side path is closed for this attempt, from the real error; throws what would fail the
 * streamed copy too (the source changed, the PDG token or container is wrong, a transient fault that the
 * activity retry should repeat) and a lost race (TargetExists).
 */
function fallbackReasonFor(
  err: unknown,
  conditional: boolean,
  secrets: readonly string[],
  targetUrl: string,
): string {
  if (err instanceof ServerSideUnavailable) return err.reason;
  if (!(err instanceof CopyCallError)) throw err;
  if (err.step === 'commit' && conditional && (err.statusCode === 409 || err.statusCode === 412)) {
    throw new TargetExists(err);
  }
  const side: StorageSide = err.step === 'delegation-key' || err.step === 'source-check' ? 'app' : 'pdg';
  const typed = toStagingError(err, { side, url: targetUrl, action: COPY_STEPS[err.step], secrets });
  const sourceUnreachable = err.details.errorCode === 'CannotVerifyCopySource';
  if (FATAL_FOR_BOTH_PATHS.has(typed.code) && !(typed.code === 'TRANSIENT' && sourceUnreachable)) throw typed;
  return `${COPY_STEPS[err.step]} was refused (${err.statusCode ?? 'no status'} ${err.details.errorCode ?? err.code ?? ''})`.replace(
    ' )',
    ')',
  );
}

const FATAL_FOR_BOTH_PATHS = new Set([
  'SOURCE_CHANGED',
  'PDG_AUTH_FAILED',
  'PDG_TOKEN_REJECTED',
  'PDG_CONTAINER_NOT_FOUND',
  'TRANSIENT',
]);

/** Best effort: the hash of streamed bytes is known only after the commit; the source id already names them. */
async function recordSha256(target: BlockBlobClient, sha256: string, size: number): Promise<void> {
  try {
    const now = await target.getProperties();
    await target.setMetadata(
      { ...now.metadata, [META_SHA256]: sha256, [META_SHA256_SIZE]: String(size) },
      { conditions: { ifMatch: now.etag } },
    );
  } catch {
    // Only informational: skipping a re-run relies on the source id committed with the blocks.
  }
}

export interface DeliverResultRequest extends TransferOptions {
  /** The result blob in the PDG container. */
  source: BlobClient;
  /** Where it goes in the app's storage (e.g. outbox/roads.results.parquet). */
  target: BlockBlobClient;
}

export interface DeliverResultResult {
  size: number;
  /** Etag of the PDG result that was (or had already been) delivered. */
  sourceEtag: string;
  /** SHA-256 of the delivered bytes; undefined when skipped and not recorded. */
  sha256: string | undefined;
  skipped: boolean;
}

/**
 * Copies a GEM result from the PDG container to the app's storage, streamed. Skips when the target
 * already holds this version of the result: same size and the source etag recorded in its metadata.
 * Overwriting is intended otherwise (a re-delivery of a newer result replaces an older one).
 */
export async function deliverResult(request: DeliverResultRequest): Promise<DeliverResultResult> {
  const { source, target } = request;
  const secrets = request.secrets ?? [];
  const props = await guard(() => source.getProperties({ abortSignal: request.abortSignal }), {
    side: 'pdg',
    url: source.url,
    secrets,
    action: 'reading the result',
  });
  const size = props.contentLength ?? 0;
  const sourceEtag = normaliseEtag(props.etag ?? '');
  const existing = await guard(
    async () => {
      try {
        return await target.getProperties({ abortSignal: request.abortSignal });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    { side: 'app', url: target.url, action: 'checking' },
  );
  if (existing && existing.contentLength === size && existing.metadata?.[META_SOURCE_ETAG] === sourceEtag) {
    return { size, sourceEtag, sha256: existing.metadata?.[META_SHA256], skipped: true };
  }
  const { sha256 } = await streamCopy({
    source,
    sourceEtag: props.etag ?? '',
    expectedBytes: size,
    sourceSide: 'pdg',
    target,
    targetSide: 'app',
    metadata: { [META_SOURCE_ETAG]: sourceEtag, [META_SOURCE_URI]: safeUrl(source.url) },
    contentType: props.contentType ?? contentTypeFor(target.name),
    options: request,
  });
  // The hash is known only after the bytes went through; recording it is a convenience for consumers.
  try {
    const now = await target.getProperties();
    await target.setMetadata(
      { ...now.metadata, [META_SHA256]: sha256, [META_SHA256_SIZE]: String(size) },
      {
        conditions: { ifMatch: now.etag },
      },
    );
  } catch {
    // Best effort only.
  }
  return { size, sourceEtag, sha256, skipped: false };
}

/** The target already exists although the upload required it not to (lost a race). */
class TargetExists extends Error {
  constructor(cause: unknown) {
    super('target exists', { cause });
  }
}

function hashingError(stream: Transform): unknown {
  return (stream as Transform & { errored?: unknown }).errored ?? undefined;
}

function contentTypeFor(name: string): string {
  if (/\.parquet$/i.test(name)) return 'application/vnd.apache.parquet';
  if (/\.json$/i.test(name)) return 'application/json';
  if (/\.csv$/i.test(name)) return 'text/csv';
  return 'application/octet-stream';
}

/**
 * Download → hash → uploadStream, with back-pressure: at most bufferBytes × maxBuffers are held. The
 * source read is conditional on its etag so a file replaced mid-copy fails instead of mixing versions, and a
 * short read fails the stream before the commit. Returns the sha256 and the count of the bytes copied.
 */
async function streamCopy(args: {
  source: BlobClient;
  sourceEtag: string;
  sourceSide: StorageSide;
  target: BlockBlobClient;
  targetSide: StorageSide;
  metadata: Record<string, string>;
  contentType: string;
  conditions?: { ifNoneMatch: string } | undefined;
  expectedBytes: number;
  options: TransferOptions;
}): Promise<{ sha256: string; bytes: number }> {
  const { source, target, options } = args;
  const secrets = options.secrets ?? [];
  const response = await guard(
    () =>
      source.download(0, undefined, {
        abortSignal: options.abortSignal,
        conditions: args.sourceEtag ? { ifMatch: args.sourceEtag } : undefined,
        maxRetryRequests: 5,
      }),
    { side: args.sourceSide, url: source.url, action: 'downloading', secrets },
  );
  const hash = createHash('sha256');
  let bytes = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      callback(null, chunk);
    },
    flush(callback) {
      if (bytes === args.expectedBytes) return callback();
      callback(
        new StagingError(
          'SOURCE_CHANGED',
          `Copying ${safeUrl(source.url)} read ${bytes} of ${args.expectedBytes} bytes.`,
          {
            retriable: true,
          },
        ),
      );
    },
  });
  const body = toReadable(response.readableStreamBody, source.url);
  body.on('error', (err) => hashing.destroy(err));
  body.pipe(hashing);
  try {
    await target.uploadStream(
      hashing,
      options.bufferBytes ?? DEFAULTS.bufferBytes,
      options.maxBuffers ?? DEFAULTS.maxBuffers,
      {
        abortSignal: options.abortSignal,
        metadata: args.metadata,
        blobHTTPHeaders: { blobContentType: args.contentType },
        ...(args.conditions ? { conditions: args.conditions } : {}),
      },
    );
  } catch (err) {
    body.destroy();
    const status = (err as { statusCode?: number }).statusCode;
    if (args.conditions && (status === 409 || status === 412)) throw new TargetExists(err);
    // A failed source stream surfaces through the upload; attribute it to the side that failed.
    const fromSource = err === hashingError(hashing);
    throw toStagingError(err, {
      side: fromSource ? args.sourceSide : args.targetSide,
      url: fromSource ? source.url : target.url,
      action: fromSource ? 'downloading' : 'uploading to',
      secrets,
    });
  }
  return { sha256: hash.digest('hex'), bytes };
}
