/**
 * The identity of a source blob, taken from what the service already says about it, so staging never reads
 * the content just to name it. Two bases, in this order:
 *
 * 1. A content address recorded on the blob (`sha256` + `sha256size` metadata matching its length): written
 *    by whoever produced the file (a prepared GEM Parquet, an earlier run) conditionally on the etag that was
 *    hashed. Any later content write (Put Blob, Put Block List) replaces a blob's metadata, so a record that
 *    survives describes the current bytes; the same bytes then get the same name wherever they come from.
 * 2. Otherwise the version the service assigned: account, container, blob name, etag, length and, where the
 *    service gives one, Content-MD5. The etag changes on every write of a blob and never returns to an earlier
 *    value, so the same (blob, etag) always means the same bytes, and a changed source always gets a new name.
 *    Content-MD5 alone is not enough: Put Block List and Set Blob Properties store it unchecked, so it is a
 *    claim, not a proof; here it only adds detail to an identity the etag already makes unique.
 *
 * The price of basis 2: re-uploading identical bytes (a new etag) stages them again under a new name. The
 * match instance is keyed on the same (blob, etag) (shared/workflow/ids.ts), so a run and its staged file
 * agree on what "this upload" is.
 */
import { createHash } from 'node:crypto';
import type { BlobClient, BlobGetPropertiesResponse } from '@azure/storage-blob';
import { normaliseEtag } from '../etag.js';

/** Metadata keys of a recorded content address (lower-case: Azure returns metadata names lower-cased). */
export const META_SHA256 = 'sha256';
export const META_SHA256_SIZE = 'sha256size';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface SourceIdentity {
  /** 64 hex characters: the recorded sha256, or a sha256 over the source's version (see the module comment). */
  contentId: string;
  /** The content's sha256 when the source records one; null when only its version is known. */
  sha256: string | null;
  basis: 'recorded-sha256' | 'source-version';
  size: number;
  /** The etag the identity was read at; every read and copy of the source is pinned to it. */
  etag: string;
}

type SourceProperties = Pick<BlobGetPropertiesResponse, 'contentLength' | 'etag' | 'metadata' | 'contentMD5'>;

/** The identity of `source` as described by `properties` (from one Get Blob Properties). */
export function sourceIdentity(source: BlobClient, properties: SourceProperties): SourceIdentity {
  const size = properties.contentLength ?? 0;
  const etag = properties.etag ?? '';
  const recorded = properties.metadata?.[META_SHA256];
  if (recorded && SHA256_HEX.test(recorded) && properties.metadata?.[META_SHA256_SIZE] === String(size)) {
    return { contentId: recorded, sha256: recorded, basis: 'recorded-sha256', size, etag };
  }
  const md5 = properties.contentMD5 ? Buffer.from(properties.contentMD5).toString('base64') : '';
  // NUL cannot occur in an account, container or blob name, an etag or a number: the join is unambiguous.
  const contentId = createHash('sha256')
    .update(
      [
        'gem-flow/source-version/v1',
        source.accountName,
        source.containerName,
        source.name,
        normaliseEtag(etag),
        String(size),
        md5,
      ].join('\u0000'),
    )
    .digest('hex');
  return { contentId, sha256: null, basis: 'source-version', size, etag };
}
