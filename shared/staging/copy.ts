/**
 * Moving files between the app's storage and the PDG container: streamed (never a whole file in memory)
 * and idempotent (a repeated activity finds its earlier work and skips it).
 */
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import type { BlobClient, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { isNotFound, safeUrl } from '../errors.js';
import { normaliseEtag } from '../etag.js';
import { StagingError, type StorageSide, toStagingError } from './errors.js';
import { contentDerivedName } from './names.js';

/** Metadata keys (lower-case: Azure returns metadata names lower-cased). */
export const META_SHA256 = 'sha256';
export const META_SHA256_SIZE = 'sha256size';
export const META_SOURCE_URI = 'sourceuri';
export const META_SOURCE_ETAG = 'sourceetag';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface TransferOptions {
  /** Upload block size; memory is about bufferBytes × maxBuffers. Default 4 MiB. */
  bufferBytes?: number;
  /** Blocks in flight. Default 4. */
  maxBuffers?: number;
  abortSignal?: AbortSignal;
  /** Strings to scrub from error text (e.g. the client secret); see toStagingError. */
  secrets?: readonly string[];
}

const DEFAULTS = { bufferBytes: 4 * 1024 * 1024, maxBuffers: 4 };

export interface BlobHash {
  sha256: string;
  size: number;
  etag: string;
  /** True when the hash came from metadata recorded by an earlier run, without reading the content. */
  fromMetadata: boolean;
}

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

/**
 * SHA-256 of a blob's content, streamed. A hash recorded by an earlier run is reused when it matches the
 * blob's size: the record is written with `ifMatch` on the etag that was hashed, and any later content
 * write (Put Blob / Put Block List) replaces a blob's metadata, so a surviving record describes the
 * current content. (Setting metadata changes the etag but not the content; Event Grid sends no
 * BlobCreated for it, so it does not start a new run.) Recording is best-effort: without write access
 * to the source it is skipped and the next run hashes again.
 */
export async function sha256OfBlob(
  blob: BlobClient,
  options: { side?: StorageSide; useRecorded?: boolean; record?: boolean; abortSignal?: AbortSignal } = {},
): Promise<BlobHash> {
  try {
    return await hashOnce(blob, options);
  } catch (err) {
    // A concurrent run may have recorded the hash meanwhile (a metadata write: new etag, same content).
    // Try once more, which then takes the recorded hash; a real content change fails again.
    if (err instanceof StagingError && err.code === 'SOURCE_CHANGED') return hashOnce(blob, options);
    throw err;
  }
}

async function hashOnce(
  blob: BlobClient,
  options: { side?: StorageSide; useRecorded?: boolean; record?: boolean; abortSignal?: AbortSignal },
): Promise<BlobHash> {
  const side = options.side ?? 'app';
  const context = { side, url: blob.url };
  const props = await guard(() => blob.getProperties({ abortSignal: options.abortSignal }), {
    ...context,
    action: 'reading the properties of',
  });
  const size = props.contentLength ?? 0;
  const etag = props.etag ?? '';
  const recorded = props.metadata?.[META_SHA256];
  if (
    (options.useRecorded ?? true) &&
    recorded &&
    SHA256_HEX.test(recorded) &&
    props.metadata?.[META_SHA256_SIZE] === String(size)
  ) {
    return { sha256: recorded, size, etag, fromMetadata: true };
  }

  const hash = createHash('sha256');
  let counted = 0;
  await guard(
    async () => {
      const response = await blob.download(0, undefined, {
        abortSignal: options.abortSignal,
        conditions: etag ? { ifMatch: etag } : undefined,
        maxRetryRequests: 5,
      });
      for await (const chunk of toReadable(response.readableStreamBody, blob.url)) {
        hash.update(chunk as Uint8Array);
        counted += (chunk as Uint8Array).byteLength;
      }
    },
    { ...context, action: 'hashing' },
  );
  if (counted !== size) {
    throw new StagingError(
      'SOURCE_CHANGED',
      `Hashing ${safeUrl(blob.url)} read ${counted} of ${size} bytes.`,
      {
        retriable: true,
      },
    );
  }
  const sha256 = hash.digest('hex');
  if (options.record ?? true) {
    try {
      const written = await blob.setMetadata(
        { ...props.metadata, [META_SHA256]: sha256, [META_SHA256_SIZE]: String(size) },
        { conditions: { ifMatch: etag }, abortSignal: options.abortSignal },
      );
      // Setting metadata gives the blob a new etag (same content); callers pin reads to the new one.
      if (written.etag) return { sha256, size, etag: written.etag, fromMetadata: false };
    } catch {
      // Only an optimisation (the next run would hash again); no write access or a concurrent change is fine.
    }
  }
  return { sha256, size, etag, fromMetadata: false };
}

export interface StageInputRequest extends TransferOptions {
  /** The validated input in the app's storage. */
  source: BlobClient;
  /** The PDG `default` container (see pdgContainerClient). */
  target: ContainerClient;
  /** Name in the PDG container; default contentDerivedName(source name, sha256). */
  targetName?: string;
  /** With an explicit targetName, replace a different blob already there. Default false. */
  overwrite?: boolean;
}

export interface StageInputResult {
  targetName: string;
  sha256: string;
  size: number;
  /** True when the PDG container already held this content under this name; nothing was uploaded. */
  skipped: boolean;
}

/**
 * Copies an input into the PDG container under a content-derived name, unless it is already there.
 *
 * Idempotence: the name is derived from the content, so "a blob with this name, this size and this
 * sha256 in its metadata exists" means the work is done. The upload commits with `ifNoneMatch: '*'`, so
 * two racing runs cannot both write: the loser sees 409/412, re-checks, and reports `skipped`. Metadata
 * is committed together with the block list, so a crashed upload leaves no half-labelled blob.
 */
export async function stageInput(request: StageInputRequest): Promise<StageInputResult> {
  const { source, target } = request;
  const secrets = request.secrets ?? [];
  // The source's etag identifies the upload (it is part of the match's instance id), so the hash is never
  // recorded on the source: a metadata write would change the etag and look like a new upload to the sweep.
  const hashed = await sha256OfBlob(source, { side: 'app', abortSignal: request.abortSignal, record: false });
  const derived = request.targetName === undefined;
  const targetName = request.targetName ?? contentDerivedName(source.name, hashed.sha256);
  const blob = target.getBlockBlobClient(targetName);
  const pdg = { side: 'pdg' as const, url: blob.url, secrets };

  const existing = await guard(
    async () => {
      try {
        return await blob.getProperties({ abortSignal: request.abortSignal });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    { ...pdg, action: 'checking' },
  );
  const sameContent = (p: { contentLength?: number; metadata?: Record<string, string> } | undefined) =>
    p !== undefined && p.contentLength === hashed.size && p.metadata?.[META_SHA256] === hashed.sha256;

  if (sameContent(existing)) return { targetName, sha256: hashed.sha256, size: hashed.size, skipped: true };
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

  // A derived name that exists with other metadata (e.g. uploaded by hand) holds the same bytes by
  // construction only if its sha256 matches; otherwise it is replaced, hence no ifNoneMatch then.
  const conditions = existing ? undefined : { ifNoneMatch: '*' };
  const copy = () =>
    streamCopy({
      source,
      sourceEtag: hashed.etag,
      sourceSide: 'app',
      target: blob,
      targetSide: 'pdg',
      metadata: {
        [META_SHA256]: hashed.sha256,
        [META_SHA256_SIZE]: String(hashed.size),
        [META_SOURCE_URI]: safeUrl(source.url),
      },
      contentType: contentTypeFor(targetName),
      conditions,
      options: request,
    });
  try {
    await copy();
  } catch (err) {
    if (!(err instanceof TargetExists)) throw err;
    // Lost a race with another run staging the same content: fine if the winner's blob is complete.
    const now = await guard(() => blob.getProperties(), { ...pdg, action: 're-checking' });
    if (sameContent(now)) return { targetName, sha256: hashed.sha256, size: hashed.size, skipped: true };
    throw toStagingError(err.cause, { ...pdg, action: 'uploading to' });
  }
  return { targetName, sha256: hashed.sha256, size: hashed.size, skipped: false };
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
  const sha256 = await streamCopy({
    source,
    sourceEtag: props.etag ?? '',
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
 * source read is conditional on its etag so a file replaced mid-copy fails instead of mixing versions.
 * Returns the sha256 of the bytes copied.
 */
async function streamCopy(args: {
  source: BlobClient;
  sourceEtag: string;
  sourceSide: StorageSide;
  target: BlockBlobClient;
  targetSide: StorageSide;
  metadata: Record<string, string>;
  contentType: string;
  conditions?: { ifNoneMatch: string };
  options: TransferOptions;
}): Promise<string> {
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
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
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
  return hash.digest('hex');
}
