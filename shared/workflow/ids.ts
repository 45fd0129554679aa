/**
 * Deterministic orchestration instance ids (outbox names are in outboxNames.ts).
 *
 * Duplicate events (Event Grid delivers at least once, the sweep rediscovers blobs, clients retry POSTs)
 * must land on the same instance, so ids are hashes of what identifies the work, never random. Ids contain
 * only `[a-z0-9-]`, because DurableClient puts them into URLs without encoding them.
 */
import { createHash } from 'node:crypto';
import { GemFlowError } from '../errors.js';
import { normaliseEtag } from '../etag.js';
import type { MatchSource } from './types.js';

/** Prefix of every `matchFile` instance id, so listings can filter on it. */
export const MATCH_INSTANCE_PREFIX = 'match-';

/** The shape of every match instance id gem-flow derives: the prefix and 32 hex digits of a hash. */
export const MATCH_INSTANCE_ID_PATTERN = /^match-[0-9a-f]{32}$/;

/**
 * The one id of the storage inventory refresh (`listStorages`). A singleton, so a refresh requested while one
 * runs joins it, and each new refresh replaces the last finished one instead of leaving an instance per run
 * in the task hub.
 */
export const LIST_STORAGES_INSTANCE_ID = 'list-storages';

/** The one id of the retention run, a singleton for the same reasons as the inventory refresh. */
export const RETENTION_INSTANCE_ID = 'retention';

const ID_HASH_HEX_CHARS = 32;

export class InstanceIdError extends GemFlowError {
  readonly code = 'InstanceIdInvalid';
}

/**
 * 128 bits of SHA-256 over the parts joined with a separator that cannot occur in them (NUL), with a
 * domain label first so a blob id and a request id can never collide.
 */
function digest(domain: string, parts: readonly string[]): string {
  return createHash('sha256')
    .update([domain, ...parts].join('\u0000'))
    .digest('hex')
    .slice(0, ID_HASH_HEX_CHARS);
}

/**
 * `match-<32 hex>` from sha256(container / blobName / etag). The etag makes a re-upload of the same name a
 * new match, while a duplicate event for the same upload maps to the running one.
 */
export function matchInstanceIdForBlob(container: string, blobName: string, etag: string): string {
  if (!container || !blobName || !normaliseEtag(etag)) {
    throw new InstanceIdError(
      `A blob instance id needs a container, a blob name and an etag (got container "${container}", blob "${blobName}", etag "${etag}").`,
      { remedy: 'Pass the etag from the BlobCreated event or blob properties.' },
    );
  }
  return MATCH_INSTANCE_PREFIX + digest('blob', [container, blobName, normaliseEtag(etag)]);
}

function sourceKey(source: MatchSource): string[] {
  return source.kind === 'inbox'
    ? ['inbox', source.container, source.blobName, source.etag ? normaliseEtag(source.etag) : '']
    : ['pdg', source.filename];
}

/**
 * `match-<32 hex>` for an HTTP request. With an idempotency key the id is per key (a client retrying its
 * POST gets the same instance; a new key starts a deliberate re-run). Without one, the same storage and
 * source always map to the same id, so a retried request can never start a second match of the same file.
 */
export function matchInstanceIdForRequest(
  storageId: string,
  source: MatchSource,
  idempotencyKey?: string,
): string {
  if (!storageId) {
    throw new InstanceIdError('A request instance id needs a storage id.', {
      remedy: 'Resolve the storage id (request or default setting) before deriving the id.',
    });
  }
  const parts = [storageId, ...sourceKey(source)];
  return idempotencyKey
    ? MATCH_INSTANCE_PREFIX + digest('request-key', [...parts, idempotencyKey])
    : MATCH_INSTANCE_PREFIX + digest('request', parts);
}

/**
 * `rejected-<32 hex>`: the outbox folder of an upload whose options could not be resolved, from the same
 * container / name / etag as its match id would be, so a repeated event rewrites the same report.
 */
export function rejectedUploadRunFor(container: string, blobName: string, etag: string): string {
  return `rejected-${digest('rejected-upload', [container, blobName, normaliseEtag(etag)])}`;
}

/**
 * The sub-orchestration of one attempt at one part of a partitioned match: `part-<parent>-p<index>-a<attempt>`.
 * Deterministic, so a replayed parent addresses the same child, and a new attempt is a new instance. It does
 * not start with `match-`, so listings of matches never show parts.
 */
export function partInstanceId(parentInstanceId: string, index: number, attempt: number): string {
  return `part-${parentInstanceId}-p${index}-a${attempt}`;
}
