/**
 * Unit tests of `shared/workflow/ids.ts`: matchInstanceIdForBlob; matchInstanceIdForRequest;
 * rejectedUploadRunFor.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  InstanceIdError,
  matchInstanceIdForBlob,
  matchInstanceIdForRequest,
  rejectedUploadRunFor,
} from '../../../shared/workflow/ids.js';

const URL_SAFE_MATCH_ID = /^match-[0-9a-f]{32}$/;

describe('matchInstanceIdForBlob', () => {
  it('is match- plus the first 32 hex chars of a SHA-256 over container, blob and etag', () => {
    const id = matchInstanceIdForBlob('inbox', 'roads/a.parquet', '0x8DC1');
    expect(id).toMatch(URL_SAFE_MATCH_ID);
    const expected = createHash('sha256')
      .update(['blob', 'inbox', 'roads/a.parquet', '0x8DC1'].join('\u0000'))
      .digest('hex')
      .slice(0, 32);
    expect(id).toBe(`match-${expected}`);
  });

  it('gives a duplicate event the same id, with or without quotes around the etag', () => {
    const bare = matchInstanceIdForBlob('inbox', 'roads/a.parquet', '0x8DC1');
    expect(matchInstanceIdForBlob('inbox', 'roads/a.parquet', '"0x8DC1"')).toBe(bare);
    expect(matchInstanceIdForBlob('inbox', 'roads/a.parquet', 'W/"0x8DC1"')).toBe(bare);
  });

  it('gives a re-upload (new etag), another blob or another container a different id', () => {
    const ids = new Set([
      matchInstanceIdForBlob('inbox', 'roads/a.parquet', '0x1'),
      matchInstanceIdForBlob('inbox', 'roads/a.parquet', '0x2'),
      matchInstanceIdForBlob('inbox', 'roads/b.parquet', '0x1'),
      matchInstanceIdForBlob('inbox2', 'roads/a.parquet', '0x1'),
    ]);
    expect(ids.size).toBe(4);
  });

  it('cannot be confused by separators moving between parts', () => {
    expect(matchInstanceIdForBlob('a/b', 'c', '1')).not.toBe(matchInstanceIdForBlob('a', 'b/c', '1'));
  });

  it('refuses to derive an id without an etag', () => {
    expect(() => matchInstanceIdForBlob('inbox', 'a.parquet', '""')).toThrow(InstanceIdError);
  });
});

describe('matchInstanceIdForRequest', () => {
  const source = { kind: 'pdg' as const, filename: 'roads.parquet' };

  it('is stable for the same storage and source, so a retried request finds the same match', () => {
    const id = matchInstanceIdForRequest('storage-001', source);
    expect(id).toMatch(URL_SAFE_MATCH_ID);
    expect(matchInstanceIdForRequest('storage-001', { ...source })).toBe(id);
  });

  it('differs per idempotency key, per storage and per source', () => {
    const ids = new Set([
      matchInstanceIdForRequest('storage-001', source),
      matchInstanceIdForRequest('storage-001', source, 'run-1'),
      matchInstanceIdForRequest('storage-001', source, 'run-2'),
      matchInstanceIdForRequest('storage-002', source),
      matchInstanceIdForRequest('storage-001', { kind: 'pdg', filename: 'other.parquet' }),
      matchInstanceIdForRequest('storage-001', {
        kind: 'inbox',
        container: 'inbox',
        blobName: 'roads.parquet',
      }),
    ]);
    expect(ids.size).toBe(6);
  });

  it('never equals the blob-trigger id of the same file', () => {
    const inbox = { kind: 'inbox' as const, container: 'inbox', blobName: 'a.parquet', etag: '0x1' };
    expect(matchInstanceIdForRequest('s', inbox)).not.toBe(
      matchInstanceIdForBlob('inbox', 'a.parquet', '0x1'),
    );
  });

  it('requires a storage id', () => {
    expect(() => matchInstanceIdForRequest('', source)).toThrow(/needs a storage id/);
  });
});

describe('rejectedUploadRunFor', () => {
  it('is one folder per upload (container, name, etag), apart from the match id of that upload', () => {
    const run = rejectedUploadRunFor('inbox', 'roads.parquet', '"0x1"');
    expect(run).toMatch(/^rejected-[0-9a-f]{32}$/);
    expect(rejectedUploadRunFor('inbox', 'roads.parquet', '0x1')).toBe(run);
    expect(rejectedUploadRunFor('inbox', 'roads.parquet', '0x2')).not.toBe(run);
    expect(run.slice('rejected-'.length)).not.toBe(
      matchInstanceIdForBlob('inbox', 'roads.parquet', '0x1').slice('match-'.length),
    );
  });
});
