// The partitioned run's bookkeeping: AIMD on the window, which parts start when, re-queues on failure and
// refusal, the attempt limit, the ETA, and a custom status that stays small whatever the number of parts.
import { describe, expect, it } from 'vitest';
import { partInstanceId } from '../../../shared/workflow/ids.js';
import {
  MAX_LISTED_PARTS,
  nextWakeUp,
  openWindow,
  type PartitionPolicy,
  type PartOutcome,
  partsEstimate,
  partsSummary,
  partsToStart,
  recordOutcome,
  startPart,
  windowAfterRefusal,
  windowAfterSuccess,
} from '../../../shared/workflow/partitions.js';
import type { InputPart } from '../../../shared/workflow/types.js';

const policy: PartitionPolicy = { maxRoadsPerJob: 100, maxParallelJobs: 4, partAttempts: 2 };
const now = new Date('2026-03-01T10:00:00Z');
const parts = (n: number, rows = 100): InputPart[] =>
  Array.from({ length: n }, (_, index) => ({
    index,
    rows,
    file: { container: 'outbox', name: `part-${index}.parquet`, etag: '"e"', byteLength: 1 },
  }));
const outcome = (kind: PartOutcome['outcome'], extra: Partial<PartOutcome> = {}): PartOutcome => ({
  outcome: kind,
  jobId: 7,
  pdgFilename: 'p.parquet',
  resultFilename: kind === 'succeeded' ? 'p.results.parquet' : null,
  statistics: null,
  polls: 3,
  rows: 100,
  gemStatus: kind === 'succeeded' ? 'SUCCESS' : 'FAILED',
  ...extra,
});

describe('the AIMD window', () => {
  it('grows by one per success up to the setting, and falls to the parts running (at least one) on a refusal', () => {
    expect(windowAfterSuccess(3, 8)).toBe(4);
    expect(windowAfterSuccess(8, 8)).toBe(8);
    expect(windowAfterRefusal(3)).toBe(3);
    expect(windowAfterRefusal(0)).toBe(1);
  });

  it('converges on what TomTom allows: with 3 jobs allowed, refusals bring a window of 8 to 3', () => {
    const state = openWindow(parts(8), { ...policy, maxParallelJobs: 8 });
    const allowed = 3;
    // Submit in order: TomTom accepts while fewer than 3 run, refuses the rest.
    for (let [part] = partsToStart(state, now); part; [part] = partsToStart(state, now)) {
      startPart(part);
      const running = state.parts.filter((p) => p.state === 'running').length - 1;
      if (running >= allowed)
        recordOutcome(state, part, outcome('refused', { retryAfterSeconds: 30 }), now, policy);
    }
    expect(state.window).toBe(3);
    expect(state.parts.filter((p) => p.state === 'running').map((p) => p.index)).toEqual([0, 1, 2]);
    expect(state.refusals).toBe(1);
    // The refused part waits for its Retry-After, and only a free slot makes that wait worth a timer.
    expect(partsToStart(state, now)).toEqual([]);
    expect(nextWakeUp(state, now)).toBeNull();
    recordOutcome(state, state.parts[0]!, outcome('succeeded'), now, policy);
    expect(state.window).toBe(4);
    expect(nextWakeUp(state, now)).toEqual(new Date(now.getTime() + 30_000));
    const later = new Date(now.getTime() + 30_000);
    expect(partsToStart(state, later).map((p) => p.index)).toEqual([3, 4]);
  });
});

describe('recordOutcome', () => {
  it('re-queues a FAILED or timed-out part as a new attempt until its attempts are used, then says exhausted', () => {
    const state = openWindow(parts(2), policy);
    const [first] = partsToStart(state, now);
    expect(startPart(first!)).toBe(1);
    expect(recordOutcome(state, first!, outcome('gem-failed'), now, policy)).toBe('requeued');
    expect(first).toMatchObject({ state: 'queued', failures: 1, jobId: 7, gemStatus: 'FAILED' });
    expect(startPart(first!)).toBe(2);
    expect(recordOutcome(state, first!, outcome('timed-out'), now, policy)).toBe('exhausted');
    expect(first!.state).toBe('failed');
    expect(state.resubmits).toBe(1);
  });

  it('does not count a refusal as a failure, and waits 60 s when TomTom gives no Retry-After', () => {
    const state = openWindow(parts(1), policy);
    const part = state.parts[0]!;
    for (let i = 0; i < 5; i++) {
      startPart(part);
      expect(
        recordOutcome(state, part, outcome('refused', { jobId: null, retryAfterSeconds: null }), now, policy),
      ).toBe('requeued');
    }
    expect(part).toMatchObject({ failures: 0, attempt: 5, notBefore: '2026-03-01T10:01:00.000Z' });
    expect(state.window).toBe(1);
  });
});

describe('progress', () => {
  it('estimates from the rows left, the window and GEM throughput, never sooner than the largest part', () => {
    const state = openWindow(parts(4, 100_000), policy);
    // 400,000 rows over 4 parallel jobs at 100,000/h: 1 h (also the largest part's time).
    expect(partsEstimate(now, state.parts, 4, 100_000)).toEqual(new Date(now.getTime() + 3_600_000));
    expect(partsEstimate(now, state.parts, 2, 100_000)).toEqual(new Date(now.getTime() + 2 * 3_600_000));
    for (const p of state.parts) p.state = 'done';
    expect(partsEstimate(now, state.parts, 4, 100_000)).toBeNull();
  });

  it('lists at most 64 parts, running and failed first, and stays far below 16 KB for 1000 parts', () => {
    const state = openWindow(parts(1000, 125_000), policy);
    for (const p of state.parts.slice(500, 508)) {
      startPart(p);
      p.jobId = 123_456_789;
      p.gemStatus = 'IN_PROGRESS';
    }
    const summary = partsSummary(state.parts, { window: 8, resubmits: 2, refusals: 1 });
    expect(summary).toMatchObject({ total: 1000, running: 8, queued: 992, listed: MAX_LISTED_PARTS });
    expect(summary.list.slice(0, 8).map((p) => p.index)).toEqual([500, 501, 502, 503, 504, 505, 506, 507]);
    expect(Buffer.byteLength(JSON.stringify(summary))).toBeLessThan(8 * 1024);
  });

  it('names each attempt of a part as its own instance, without the match prefix', () => {
    expect(partInstanceId('match-abc', 3, 2)).toBe('part-match-abc-p3-a2');
    expect(partInstanceId('match-abc', 3, 2)).toMatch(/^[a-z0-9-]+$/);
  });
});
