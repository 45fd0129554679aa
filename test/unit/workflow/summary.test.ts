/**
 * Unit tests of `shared/workflow/summary.ts`: buildSummary; buildErrorDocument; buildTimeoutDocument.
 */
import { describe, expect, it } from 'vitest';
import { CountsCollector } from '../../../shared/results/counts.js';
import {
  buildErrorDocument,
  buildFailureDocument,
  buildSummary,
  buildTimeoutDocument,
  gemFailureRemedy,
} from '../../../shared/workflow/summary.js';
import type { MatchInput } from '../../../shared/workflow/types.js';
import { sampleMatchInput } from '../../support/matchInput.js';

const input: MatchInput = sampleMatchInput({
  source: { kind: 'inbox', container: 'inbox', blobName: 'roads/a.parquet', etag: '0x1' },
  outbox: { nameKey: 'roads/a-0123456789ab', run: 'match-abc' },
});

const context = {
  input,
  instanceId: 'match-abc',
  pdgFilename: 'gemflow/3f2a.parquet',
  jobId: 123456789,
  polls: 14,
  submittedAt: '2026-02-18T10:05:00.000Z',
  completedAt: '2026-02-18T12:50:30.000Z',
};

describe('buildSummary', () => {
  it('records the job, statistics, input, outbox names and timings', () => {
    const statistics = { num_roads_processed: 397613, roads_matched_ratio: 0.8468 };
    const summary = buildSummary({
      ...context,
      gemStatus: 'SUCCESS',
      statistics,
      resultFilename: 'gemflow/3f2a.results.parquet',
    });
    expect(summary).toEqual({
      kind: 'gem-flow.match-summary',
      version: 1,
      instanceId: 'match-abc',
      input: {
        source: input.source,
        storageId: 'storage-001',
        jobType: 'ROAD_MATCHING',
        overtureRelease: '2026-01-21.0',
        orbisVersion: null,
        trigger: 'blob',
        pdgFilename: 'gemflow/3f2a.parquet',
      },
      job: { jobId: 123456789, status: 'SUCCESS' },
      polls: 14,
      outcome: 'succeeded',
      statistics,
      outputs: {
        results: 'roads/a-0123456789ab/match-abc/results.parquet',
        summary: 'roads/a-0123456789ab/match-abc/summary.json',
        gemResultFilename: 'gemflow/3f2a.results.parquet',
        matched: null,
      },
      // A run without a prepared input (scheduled before the enriched output existed) has no counts.
      counts: null,
      enrichment: null,
      preparedFile: null,
      incremental: null,
      timings: {
        requestedAt: '2026-02-18T10:00:00.000Z',
        submittedAt: '2026-02-18T10:05:00.000Z',
        completedAt: '2026-02-18T12:50:30.000Z',
        durations: { totalSeconds: 10230, gemSeconds: 9930 },
      },
    });
  });

  it('survives JSON round-tripping unchanged (it is written as a blob and sent as a callback body)', () => {
    const summary = buildSummary({
      ...context,
      gemStatus: 'SUCCESS',
      statistics: null,
      resultFilename: null,
    });
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it('names the enriched output and carries its counts when it was written, and why when it was not', () => {
    const counts = new CountsCollector();
    counts.add({ kind: 'full', km: 1.5, covered: 1, gemRows: 1, matches: 2, confidence: 91 });
    counts.add({ kind: 'unmatched', km: 0.5, covered: 0, gemRows: 1, matches: 0, confidence: null });
    const blob = 'roads/a-0123456789ab/match-abc/matched.parquet';
    const written = buildSummary({
      ...context,
      gemStatus: 'SUCCESS',
      statistics: null,
      resultFilename: null,
      enriched: {
        report: { status: 'written', format: 'geoparquet', blob, features: 2, bytes: 900 },
        counts: counts.result(2),
      },
    });
    expect(written.outputs.matched).toBe(blob);
    expect(written.counts).toMatchObject({
      inputFeatures: 2,
      gemRows: 2,
      resultRows: 2,
      unjoinedResultRows: 0,
      roads: { full: 1, partial: 0, unmatched: 1 },
      kilometres: { full: 1.5, partial: 0, unmatched: 0.5, total: 2, covered: 1.5 },
    });
    expect(written.counts?.confidenceHistogram[9]).toEqual({ from: 90, to: 100, roads: 1 });
    const failed = buildSummary({
      ...context,
      gemStatus: 'SUCCESS',
      statistics: null,
      resultFilename: null,
      enriched: {
        report: {
          status: 'failed',
          format: 'geojson',
          code: 'GemResultsUnreadable',
          message: 'GEM\'s results row 3: lr_id is "x"',
          remedy: 'check it',
        },
        counts: null,
      },
    });
    expect(failed.outputs.matched).toBeNull();
    expect(failed.counts).toBeNull();
    expect(failed.enrichment).toMatchObject({ status: 'failed', code: 'GemResultsUnreadable' });
  });
});

describe('buildErrorDocument', () => {
  it("carries GEM's own message for a FAILED job", () => {
    const document = buildErrorDocument({
      ...context,
      gemStatus: 'FAILED',
      gemMessage: 'Column id has duplicates',
    });
    expect(document).toMatchObject({
      kind: 'gem-flow.match-error',
      outcome: 'gem-failed',
      message: 'Column id has duplicates',
      job: { jobId: 123456789, status: 'FAILED' },
      outputs: { error: 'roads/a-0123456789ab/match-abc/error.json' },
      timings: { deadline: null, durations: { gemSeconds: 9930 } },
    });
    expect(document.remedy).toMatch(/LINESTRING/);
  });

  it('says so when GEM gave no message', () => {
    const document = buildErrorDocument({ ...context, gemStatus: 'FAILED', gemMessage: '  ' });
    expect(document.message).toBe('GEM ended job 123456789 as FAILED without a message.');
    expect(document.remedy).not.toMatch(/Fix the input file/);
  });

  it('tells an internal GEM failure to resubmit and report the job, not to fix the file', () => {
    const document = buildErrorDocument({
      ...context,
      gemStatus: 'FAILED',
      gemMessage: 'The matching job failed because of an internal processing error.',
    });
    expect(document.remedy).not.toMatch(/Fix the input file/);
    expect(document.remedy).toMatch(/not because of the file/);
    expect(document.remedy).toMatch(/TomTom support with job 123456789/);
  });
});

describe('gemFailureRemedy', () => {
  it.each([
    "Input validation failed at check 'geometry': row 3 is not a WKT LINESTRING",
    'Column id has duplicates',
    "Input validation failed at check 'is_navigable': expected a boolean",
  ])('asks for a fixed file when GEM names an input check: %s', (message) => {
    expect(gemFailureRemedy(message, 1)).toMatch(/^Fix the input file/);
  });

  it.each([
    'The matching job failed because of an internal processing error (ENOSPC).',
    'Unexpected failure; please try again later',
    null,
  ])("asks for a resubmission when the failure is GEM's own: %s", (message) => {
    expect(gemFailureRemedy(message, null)).toMatch(
      /submit the same file again.*TomTom support with the job/,
    );
  });
});

describe('timings on one clock', () => {
  // The trigger's instant (input.requestedAt) is on another clock: locally real time while the orchestration's
  // clock is virtual, so a 7-second run at 600x once reported days. Every timing comes from startedAt onwards.
  const fromOtherClock = { ...input, requestedAt: '2020-01-01T00:00:00.000Z' };
  const run = { ...context, input: fromOtherClock, startedAt: '2026-02-18T10:00:00.000Z' };

  it("measures the total from the run's start, so it equals completed - requested", () => {
    const summary = buildSummary({ ...run, gemStatus: 'SUCCESS', statistics: null, resultFilename: null });
    const { requestedAt, completedAt, durations } = summary.timings;
    expect(requestedAt).toBe('2026-02-18T10:00:00.000Z');
    expect(durations.totalSeconds).toBe((Date.parse(completedAt) - Date.parse(requestedAt)) / 1000);
  });

  it('does the same in error and failure documents', () => {
    const error = buildErrorDocument({ ...run, gemStatus: 'FAILED', gemMessage: null });
    const failure = buildFailureDocument({ ...run, phase: 'staging', message: 'x', lastGemStatus: null });
    for (const document of [error, failure]) expect(document.timings.durations.totalSeconds).toBe(10230);
  });

  it("falls back to the input's instant for a run recorded before startedAt was passed", () => {
    const summary = buildSummary({
      ...context,
      gemStatus: 'SUCCESS',
      statistics: null,
      resultFilename: null,
    });
    expect(summary.timings.requestedAt).toBe(input.requestedAt);
  });
});

describe('buildTimeoutDocument', () => {
  it('names the deadline and the last status, and says the job may still finish', () => {
    const document = buildTimeoutDocument({
      ...context,
      lastGemStatus: 'IN_PROGRESS',
      deadline: '2026-02-20T10:05:00.000Z',
    });
    expect(document).toMatchObject({
      outcome: 'timed-out',
      job: { status: 'IN_PROGRESS' },
      timings: { deadline: '2026-02-20T10:05:00.000Z' },
    });
    expect(document.message).toBe(
      'GEM job 123456789 did not finish before the monitoring deadline 2026-02-20T10:05:00.000Z (last status IN_PROGRESS).',
    );
    expect(document.remedy).toMatch(/may still finish/);
    // Starting "the same match" again lands on this finished instance; a new run needs a new upload or key.
    expect(document.remedy).toMatch(/upload the file again|idempotencyKey/);
    expect(document.remedy).toMatch(/MONITOR_DEADLINE_HOURS/);
  });

  it('reports no GEM duration when the job was never submitted', () => {
    const document = buildTimeoutDocument({
      ...context,
      submittedAt: null,
      lastGemStatus: null,
      deadline: '2026-02-20T10:05:00.000Z',
    });
    expect(document.timings.durations.gemSeconds).toBeNull();
    expect(document.message).not.toMatch(/last status/);
  });
});
