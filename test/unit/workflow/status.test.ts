import { describe, expect, it } from 'vitest';
import {
  caughtFailureMessage,
  type DurableStatusLike,
  failureMessageOf,
  toCompactStatus,
} from '../../../shared/workflow/status.js';
import type { MatchCustomStatus, MatchResult } from '../../../shared/workflow/types.js';

const times = {
  createdTime: new Date('2026-02-18T10:00:00Z'),
  lastUpdatedTime: '2026-02-18T11:00:00Z',
};

const monitoring: MatchCustomStatus = {
  phase: 'monitoring',
  jobId: 123456789,
  gemStatus: 'IN_PROGRESS',
  polls: 7,
  startedAt: '2026-02-18T10:00:00Z',
  estimatedCompletion: '2026-02-18T12:30:00Z',
  rowCount: 250000,
};

const succeeded: MatchResult = {
  outcome: 'succeeded',
  jobId: 123456789,
  gemStatus: 'SUCCESS',
  statistics: { roads_matched_ratio: 0.8468 },
  outputs: { results: 'roads/a.results.parquet', summary: 'roads/a.summary.json' },
  startedAt: '2026-02-18T10:00:00Z',
  finishedAt: '2026-02-18T12:40:00Z',
  polls: 12,
};

function status(overrides: Partial<DurableStatusLike>): DurableStatusLike {
  return {
    instanceId: 'match-abc',
    runtimeStatus: 'Running',
    customStatus: null,
    output: null,
    ...times,
    ...overrides,
  };
}

describe('toCompactStatus', () => {
  it('shows a running match from its custom status', () => {
    const view = toCompactStatus(status({ customStatus: monitoring }));
    expect(view).toEqual({
      id: 'match-abc',
      runtimeStatus: 'Running',
      phase: 'monitoring',
      outcome: null,
      jobId: 123456789,
      gemStatus: 'IN_PROGRESS',
      polls: 7,
      estimatedCompletion: '2026-02-18T12:30:00Z',
      statistics: null,
      outputs: { results: null, summary: null, error: null, validationReport: null },
      error: null,
      notification: null,
      createdTime: '2026-02-18T10:00:00.000Z',
      lastUpdatedTime: '2026-02-18T11:00:00.000Z',
    });
  });

  it('shows a pending match that has no custom status yet', () => {
    const view = toCompactStatus(status({ runtimeStatus: 'Pending', customStatus: undefined }));
    expect(view).toMatchObject({
      phase: null,
      jobId: null,
      gemStatus: null,
      polls: 0,
      estimatedCompletion: null,
    });
  });

  it('ignores a custom status of the wrong shape rather than passing it through', () => {
    const view = toCompactStatus(status({ customStatus: { phase: 'dancing', jobId: 'x', polls: '3' } }));
    expect(view).toMatchObject({ phase: null, jobId: null, polls: 0 });
  });

  it('takes a completed match from its output, with outbox URLs when a base is given', () => {
    const view = toCompactStatus(
      status({
        runtimeStatus: 'Completed',
        customStatus: { ...monitoring, phase: 'completed' },
        output: succeeded,
      }),
      { outputBaseUrl: 'https://acct.blob.core.windows.net/outbox' },
    );
    expect(view).toMatchObject({
      phase: 'completed',
      outcome: 'succeeded',
      gemStatus: 'SUCCESS',
      polls: 12,
      estimatedCompletion: null,
      statistics: { roads_matched_ratio: 0.8468 },
      error: null,
    });
    expect(view.outputs.results).toEqual({
      blob: 'roads/a.results.parquet',
      url: 'https://acct.blob.core.windows.net/outbox/roads/a.results.parquet',
    });
    expect(view.outputs.summary?.blob).toBe('roads/a.summary.json');
    expect(view.outputs.error).toBeNull();
  });

  it('shows the callback outcome of a completed match, from its output', () => {
    const output: MatchResult = {
      ...succeeded,
      notification: { delivered: false, attempts: 3, status: 503, error: 'Gave up after 3 attempts.' },
    };
    const view = toCompactStatus(status({ runtimeStatus: 'Completed', output }));
    expect(view.notification).toEqual({
      delivered: false,
      refused: false,
      attempts: 3,
      lastStatus: 503,
      error: 'Gave up after 3 attempts.',
    });
    expect(
      toCompactStatus(status({ runtimeStatus: 'Completed', output: succeeded })).notification,
    ).toBeNull();
  });

  it('shows the refused callback of a failed match, from its custom status', () => {
    const refused = {
      delivered: false,
      refused: true,
      attempts: 0,
      error: 'The callback URL must reach the public internet, but its host 10.0.0.1 is a private address.',
    };
    const view = toCompactStatus(
      status({
        runtimeStatus: 'Failed',
        customStatus: { ...monitoring, phase: 'failed', notification: refused },
        output: 'Orchestrator function failed: boom',
      }),
    );
    expect(view.notification).toEqual({
      delivered: false,
      refused: true,
      attempts: 0,
      lastStatus: null,
      error: refused.error,
    });
    // A notification of the wrong shape is not passed through.
    const odd = toCompactStatus(
      status({ customStatus: { ...monitoring, notification: { delivered: 'yes' } } }),
    );
    expect(odd.notification).toBeNull();
  });

  it('encodes blob names in URLs segment by segment', () => {
    const output: MatchResult = { ...succeeded, outputs: { summary: 'my folder/a b.summary.json' } };
    const view = toCompactStatus(status({ runtimeStatus: 'Completed', output }), {
      outputBaseUrl: 'https://x/outbox/',
    });
    expect(view.outputs.summary?.url).toBe('https://x/outbox/my%20folder/a%20b.summary.json');
  });

  it('reports a GEM failure as an error with GEM message, though the orchestration completed', () => {
    const output: MatchResult = {
      ...succeeded,
      outcome: 'gem-failed',
      gemStatus: 'FAILED',
      statistics: null,
      outputs: { error: 'roads/a.error.json' },
      message: 'Column geometry is missing',
    };
    const view = toCompactStatus(status({ runtimeStatus: 'Completed', output }));
    expect(view).toMatchObject({
      phase: 'gem-failed',
      outcome: 'gem-failed',
      error: { message: 'Column geometry is missing' },
    });
    expect(view.outputs.error).toEqual({ blob: 'roads/a.error.json' });
  });

  it('exposes the failure message of a failed orchestration without its stack trace', () => {
    const output =
      "Orchestrator function 'matchFile' failed: Job 42 could not be followed: 403 user lacks storage access\n" +
      '    at matchFileOrchestrator (/home/site/wwwroot/dist/functions/matchFile.js:120:11)\n' +
      '    at Generator.next (<anonymous>)';
    const view = toCompactStatus(status({ runtimeStatus: 'Failed', customStatus: monitoring, output }));
    expect(view.phase).toBe('failed');
    expect(view.error?.message).toBe(
      "Orchestrator function 'matchFile' failed: Job 42 could not be followed: 403 user lacks storage access",
    );
    expect(view.error?.message).not.toMatch(/matchFile\.js|Generator/);
    expect(view.estimatedCompletion).toBeNull();
    expect(view.jobId).toBe(123456789);
  });

  it('says a terminated match was cancelled', () => {
    const view = toCompactStatus(
      status({ runtimeStatus: 'Terminated', customStatus: monitoring, output: 'by user' }),
    );
    expect(view.error).toEqual({ message: 'The match was cancelled: by user.' });
    expect(view.phase).toBe('monitoring');
  });
});

describe('failureMessageOf', () => {
  it('reads failure details objects and messages', () => {
    expect(failureMessageOf({ message: 'boom' })).toBe('boom');
    expect(failureMessageOf({ failureDetails: { errorMessage: 'activity failed' } })).toBe('activity failed');
  });

  it('explains an empty failure instead of returning nothing', () => {
    expect(failureMessageOf(null)).toMatch(/without a message/);
  });

  it('cuts very long messages', () => {
    const message = failureMessageOf('x'.repeat(5000));
    expect(message.length).toBe(2001);
    expect(message.endsWith('…')).toBe(true);
  });
});

describe('caughtFailureMessage', () => {
  it('keeps the Reason line of an activity failure and drops the stack durable-functions appends', () => {
    const reason = "Activity function 'stageInput' failed: PDG credentials refused (HTTP 403)";
    const details =
      'ResourceAccessDeniedError: PDG credentials refused (HTTP 403)\n    at send (/app/dist/shared/tomtom/client.js:102:19)';
    expect(caughtFailureMessage(new Error(`${reason} \n ${details}`))).toBe(reason);
  });

  it('keeps a single-line message as it is, and says something for an empty one', () => {
    expect(caughtFailureMessage(new Error('Job 7 could not be followed: not found'))).toBe(
      'Job 7 could not be followed: not found',
    );
    expect(caughtFailureMessage(new Error(''))).toMatch(/without a message/);
  });
});
