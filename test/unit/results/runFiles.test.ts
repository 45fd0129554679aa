// A match's files as the results routes find them: the run read from the orchestration's status (its input
// is `{ request, policy }`, functions/matchFile.ts), and every "missing" answer naming the match, the file and
// what to do next.
import { describe, expect, it } from 'vitest';
import { BlobReadError } from '../../../shared/parquet/asyncBuffer.js';
import {
  asMissing,
  mapInputOf,
  noResultsReason,
  RunFileMissing,
  runRecordOf,
} from '../../../shared/results/runFiles.js';
import type { DurableStatusLike } from '../../../shared/workflow/status.js';
import type { MatchInput } from '../../../shared/workflow/types.js';

const request: MatchInput = {
  source: { kind: 'inbox', container: 'inbox', blobName: 'roads/a.parquet', etag: '0x1' },
  storageId: 'storage-001',
  jobType: 'ROAD_MATCHING',
  overtureRelease: '2026-01-21.0',
  outbox: { nameKey: 'roads/a-123', run: 'match-1' },
  trigger: 'blob',
  requestedAt: '2026-01-01T00:00:00Z',
};

function status(extra: Partial<DurableStatusLike> = {}): DurableStatusLike {
  return {
    instanceId: 'match-1',
    runtimeStatus: 'Completed',
    input: { request, policy: {} },
    customStatus: { phase: 'completed' },
    output: { outcome: 'succeeded' },
    createdTime: '2026-01-01T00:00:00Z',
    lastUpdatedTime: '2026-01-01T00:10:00Z',
    ...extra,
  };
}

describe('runRecordOf', () => {
  it("reads the match's request, its outbox documents, phase and outcome", () => {
    const run = runRecordOf(status());
    expect(run).toMatchObject({
      id: 'match-1',
      runtimeStatus: 'Completed',
      phase: 'completed',
      outcome: 'succeeded',
    });
    expect(run!.input).toEqual(request);
    expect(run!.documents).toEqual({
      results: 'roads/a-123/match-1/results.parquet',
      summary: 'roads/a-123/match-1/summary.json',
      error: 'roads/a-123/match-1/error.json',
      validationReport: 'roads/a-123/match-1/validation.json',
    });
  });

  it('is undefined for an instance whose input is not a match request', () => {
    for (const input of [
      undefined,
      null,
      'text',
      [],
      { policy: {} },
      { request: { source: 'x' } },
      request,
    ]) {
      expect(runRecordOf(status({ input })), JSON.stringify(input)).toBeUndefined();
    }
  });

  it('reads a status still running, without output or custom status', () => {
    const run = runRecordOf(status({ runtimeStatus: 'Running', output: null, customStatus: undefined }));
    expect(run).toMatchObject({ phase: null, outcome: null });
  });
});

describe('why a run has no results', () => {
  const run = (extra: Partial<DurableStatusLike>) => runRecordOf(status(extra))!;

  it('says to ask again while it runs, naming the phase', () => {
    const why = noResultsReason(run({ runtimeStatus: 'Running', customStatus: { phase: 'monitoring' } }));
    expect(why).toBe(
      'match "match-1" has no results yet: it is Running (phase monitoring). Ask again when it has completed.',
    );
  });

  it('points to the validation report or the error document', () => {
    expect(noResultsReason(run({ output: { outcome: 'invalid-input' } }))).toContain(
      'GET /api/matches/match-1/outputs/validationReport',
    );
    expect(noResultsReason(run({ output: { outcome: 'gem-failed' } }))).toContain('ended as gem-failed');
    expect(noResultsReason(run({ output: { outcome: 'gem-failed' } }))).toContain('/outputs/error');
  });

  it('names the missing document otherwise', () => {
    expect(noResultsReason(run({}))).toContain('roads/a-123/match-1/results.parquet');
  });
});

describe('mapInputOf', () => {
  it('is the inbox blob at the version the match read', () => {
    expect(mapInputOf(runRecordOf(status())!, 'outbox')).toEqual({
      in: 'inbox',
      blobName: 'roads/a.parquet',
      etag: '0x1',
    });
  });

  it("is the run's prepared GEM Parquet in the outbox once its output names it", () => {
    const preparedFile = { container: 'outbox', name: '.prepared/k1/roads.parquet', etag: '0x2' };
    const done = runRecordOf(status({ output: { outcome: 'succeeded', preparedFile } }))!;
    expect(done.preparedFile).toEqual(preparedFile);
    expect(mapInputOf(done, 'outbox')).toEqual({ in: 'outbox', blobName: preparedFile.name, etag: '0x2' });
    // A prepared file in a container the app does not know is not read: the inbox blob is.
    expect(mapInputOf(done, 'elsewhere')).toMatchObject({ in: 'inbox', blobName: 'roads/a.parquet' });
    const garbled = runRecordOf(status({ output: { outcome: 'succeeded', preparedFile: { name: 1 } } }))!;
    expect(garbled.preparedFile).toBeUndefined();
  });

  it('refuses lane-level jobs and PDG files with the reason', () => {
    const lane = runRecordOf(status({ input: { request: { ...request, jobType: 'LANE_LEVEL_MATCHING' } } }))!;
    expect(() => mapInputOf(lane, 'outbox')).toThrow(
      /LANE_LEVEL_MATCHING job: the map shows roads of ROAD_MATCHING/,
    );
    const pdg = runRecordOf(
      status({ input: { request: { ...request, source: { kind: 'pdg', filename: 'f.parquet' } } } }),
    )!;
    expect(() => mapInputOf(pdg, 'outbox')).toThrow(RunFileMissing);
    expect(() => mapInputOf(pdg, 'outbox')).toThrow(/upload the file to the inbox/);
  });
});

describe('asMissing', () => {
  it('turns a storage 404 or 412 into what the client is missing, and leaves other errors alone', () => {
    const gone = asMissing({ statusCode: 404 }, 'The input file "a"');
    expect(gone).toBeInstanceOf(RunFileMissing);
    expect((gone as Error).message).toBe(
      'The input file "a" no longer exists (deleted, or archived by retention).',
    );
    const replaced = asMissing(
      new BlobReadError('read', { cause: null, statusCode: 412 }),
      'The input file "a"',
    );
    expect((replaced as Error).message).toContain('has been replaced since the match read it');
    const other = new Error('boom');
    expect(asMissing(other, 'x')).toBe(other);
    expect(asMissing({ statusCode: 503 }, 'x')).toEqual({ statusCode: 503 });
    expect(asMissing(null, 'x')).toBeNull();
  });
});
