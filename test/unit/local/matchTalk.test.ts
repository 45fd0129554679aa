// The lines npm start prints about matches, from statuses as the app's API returns them: one per phase change
// (job id, GEM status and ETA once monitoring), phases passed between two looks named as such, and an end line
// naming the outbox folder and how to fetch it.
import { describe, expect, it } from 'vitest';
import type { MatchStatus } from '../../../cli/appClient.js';
import { describeChange } from '../../../local/matchTalk.js';

const NOW = Date.parse('2026-02-18T10:00:00Z');
const clock = { now: () => NOW, scale: 600 };

function status(overrides: Partial<MatchStatus>): MatchStatus {
  return {
    id: 'match-1',
    runtimeStatus: 'Running',
    phase: 'validating',
    outcome: null,
    jobId: null,
    gemStatus: null,
    polls: 0,
    estimatedCompletion: null,
    statistics: null,
    counts: null,
    incremental: null,
    outputs: { results: null, summary: null, error: null, validationReport: null, matched: null },
    error: null,
    notification: null,
    createdTime: '2026-02-18T09:59:00Z',
    lastUpdatedTime: '2026-02-18T10:00:00Z',
    ...overrides,
  };
}

describe('describeChange', () => {
  it('says nothing when nothing changed', () => {
    const s = status({ phase: 'staging' });
    expect(describeChange(s, s, clock)).toEqual([]);
  });

  it('names a new match and its phase', () => {
    expect(describeChange(undefined, status({}), clock)).toEqual(['[match] match-1 validating']);
  });

  it('gives the job, GEM status and ETA (virtual, and real at the time scale) while monitoring', () => {
    const before = status({ phase: 'monitoring', jobId: 7, gemStatus: 'REQUESTED' });
    const now = status({
      phase: 'monitoring',
      jobId: 7,
      gemStatus: 'IN_PROGRESS',
      estimatedCompletion: new Date(NOW + 2 * 3600_000).toISOString(),
    });
    expect(describeChange(before, now, clock)).toEqual([
      '[match] match-1 monitoring, GEM job 7 IN_PROGRESS, ETA 12:00:00Z (in 2h 00m; about 12s at 600×)',
    ]);
  });

  it('names the phases passed between two looks, in order', () => {
    const lines = describeChange(
      status({ phase: 'validating' }),
      status({ phase: 'monitoring', jobId: 7 }),
      clock,
    );
    expect(lines).toEqual([
      '[match] match-1 staging (begun and done between two looks)',
      '[match] match-1 submitting (begun and done between two looks)',
      '[match] match-1 monitoring, GEM job 7',
    ]);
  });

  it('ends a completed match with its outcome and where the outputs are', () => {
    const done = status({
      runtimeStatus: 'Completed',
      phase: 'completed',
      outcome: 'succeeded',
      jobId: 7,
      gemStatus: 'SUCCESS',
      outputs: {
        results: { blob: 'roads/a-1/match-1/results.parquet' },
        summary: { blob: 'roads/a-1/match-1/summary.json' },
        error: null,
        validationReport: null,
        matched: null,
      },
    });
    const lines = describeChange(status({ phase: 'delivering', jobId: 7 }), done, clock);
    expect(lines).toEqual([
      '[match] match-1 completed succeeded (GEM job 7 SUCCESS); outputs in the outbox under roads/a-1/match-1/ ' +
        '(results.parquet, summary.json): npx gem-flow status match-1, or npx gem-flow outbox roads/a-1/match-1/results.parquet',
    ]);
  });

  it('fills in delivering for a delivered outcome first seen while monitoring', () => {
    const ended = status({
      runtimeStatus: 'Completed',
      phase: 'gem-failed',
      outcome: 'gem-failed',
      jobId: 7,
    });
    const lines = describeChange(status({ phase: 'monitoring', jobId: 7 }), ended, clock);
    expect(lines[0]).toBe('[match] match-1 delivering (begun and done between two looks)');
    expect(lines[1]).toMatch(/^\[match\] match-1 ended gem-failed \(GEM job 7\)/);
  });

  it('names validating for an invalid input first seen once it had ended', () => {
    const ended = status({ runtimeStatus: 'Completed', phase: 'invalid-input', outcome: 'invalid-input' });
    const lines = describeChange(undefined, ended, clock);
    expect(lines[0]).toBe('[match] match-1 validating (begun and done between two looks)');
    expect(lines[1]).toMatch(/^\[match\] match-1 ended invalid-input/);
  });

  it('ends a failed match with its error and no invented phases', () => {
    const failed = status({
      runtimeStatus: 'Failed',
      phase: 'failed',
      error: { message: 'staging refused (403)' },
    });
    expect(describeChange(status({ phase: 'staging' }), failed, clock)).toEqual([
      '[match] match-1 ended failed: staging refused (403)',
    ]);
  });
});
