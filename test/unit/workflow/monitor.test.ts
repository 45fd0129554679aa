/**
 * Unit tests of `shared/workflow/monitor.ts`: monitorPolicyFrom; nextPollDelaySeconds; deadlines;
 * shouldContinueAsNew; estimateCompletion; GEM statuses; scheduledPollDelaySeconds.
 */
import { describe, expect, it } from 'vitest';
import {
  deadlineFrom,
  estimateCompletion,
  isSuccessfulGemStatus,
  isTerminalGemStatus,
  MINIMUM_ESTIMATE_MINUTES,
  type MonitorPolicy,
  MonitorPolicyError,
  monitorPolicyFrom,
  nextPollDelaySeconds,
  OVERDUE_POLL_FRACTION,
  scheduledPollDelaySeconds,
  shouldContinueAsNew,
} from '../../../shared/workflow/monitor.js';

const policy: MonitorPolicy = {
  initialIntervalSeconds: 30,
  maxIntervalSeconds: 600,
  backoffFactor: 2,
  deadlineHours: 24,
  pollsPerGeneration: 5,
};

describe('monitorPolicyFrom', () => {
  it('accepts sensible settings and copies only the policy fields', () => {
    const settings = { ...policy, unrelated: 'ignored' };
    expect(monitorPolicyFrom(settings)).toEqual(policy);
  });

  it.each([
    ['initialIntervalSeconds', 0, /initialIntervalSeconds must be a positive number/],
    ['maxIntervalSeconds', 10, /maxIntervalSeconds \(10\) must not be below initialIntervalSeconds \(30\)/],
    ['backoffFactor', 0.5, /backoffFactor must be at least 1/],
    ['deadlineHours', Number.NaN, /deadlineHours must be a positive number/],
    ['pollsPerGeneration', 2.5, /pollsPerGeneration must be a whole number/],
  ] as const)('rejects %s = %s with a message naming it', (field, value, message) => {
    const attempt = () => monitorPolicyFrom({ ...policy, [field]: value });
    expect(attempt).toThrow(MonitorPolicyError);
    expect(attempt).toThrow(message);
  });

  it('accepts the documented defaults (30 s growing by 1.5 to 10 min, 48 h, 50 polls per generation)', () => {
    const defaults = {
      initialIntervalSeconds: 30,
      maxIntervalSeconds: 600,
      backoffFactor: 1.5,
      deadlineHours: 48,
      pollsPerGeneration: 50,
    };
    expect(monitorPolicyFrom(defaults)).toEqual(defaults);
  });
});

describe('nextPollDelaySeconds', () => {
  it('starts at the initial interval and grows by the factor after each poll', () => {
    const delays = [1, 2, 3, 4, 5].map((polls) => nextPollDelaySeconds(polls, policy, 'IN_PROGRESS'));
    expect(delays).toEqual([30, 60, 120, 240, 480]);
  });

  it('never exceeds the cap, however many polls', () => {
    expect(nextPollDelaySeconds(6, policy, 'IN_PROGRESS')).toBe(600);
    expect(nextPollDelaySeconds(500, policy, 'IN_PROGRESS')).toBe(600);
  });

  it('keeps polling at most every two initial intervals while the job has not started', () => {
    expect(nextPollDelaySeconds(10, policy, 'REQUESTED')).toBe(60);
    expect(nextPollDelaySeconds(10, policy, 'queued')).toBe(60);
    expect(nextPollDelaySeconds(1, policy, 'REQUESTED')).toBe(30);
  });

  it('uses the full backoff when the status is unknown or absent', () => {
    expect(nextPollDelaySeconds(10, policy)).toBe(600);
    expect(nextPollDelaySeconds(10, policy, 'SOMETHING_NEW')).toBe(600);
  });

  it('returns whole seconds for fractional factors', () => {
    const delay = nextPollDelaySeconds(3, { ...policy, backoffFactor: 1.5 });
    expect(delay).toBe(68); // 30 × 1.5² = 67.5
    expect(Number.isInteger(delay)).toBe(true);
  });
});

describe('deadlines', () => {
  it('puts the deadline deadlineHours after the start, from a string or a Date', () => {
    expect(deadlineFrom('2026-02-18T10:00:00Z', policy).toISOString()).toBe('2026-02-19T10:00:00.000Z');
    expect(
      deadlineFrom(new Date('2026-02-18T10:00:00Z'), { ...policy, deadlineHours: 1.5 }).toISOString(),
    ).toBe('2026-02-18T11:30:00.000Z');
  });

  it('rejects an unparseable start instead of producing an Invalid Date', () => {
    expect(() => deadlineFrom('yesterday', policy)).toThrow(/startedAt is not a valid instant/);
  });
});

describe('shouldContinueAsNew', () => {
  it('continues once per pollsPerGeneration polls, counted across generations', () => {
    expect(shouldContinueAsNew({ polls: 4, generation: 0 }, policy)).toBe(false);
    expect(shouldContinueAsNew({ polls: 5, generation: 0 }, policy)).toBe(true);
    // After continuing, generation 1 runs polls 6..10.
    expect(shouldContinueAsNew({ polls: 5, generation: 1 }, policy)).toBe(false);
    expect(shouldContinueAsNew({ polls: 9, generation: 1 }, policy)).toBe(false);
    expect(shouldContinueAsNew({ polls: 10, generation: 1 }, policy)).toBe(true);
  });
});

describe('estimateCompletion', () => {
  it('assumes about 100,000 segments per hour by default', () => {
    const estimate = estimateCompletion('2026-02-18T10:00:00Z', 250_000);
    expect(estimate.toISOString()).toBe('2026-02-18T12:30:00.000Z');
  });

  it('uses a given throughput', () => {
    expect(estimateCompletion('2026-02-18T10:00:00Z', 50_000, 25_000).toISOString()).toBe(
      '2026-02-18T12:00:00.000Z',
    );
  });

  it('never estimates less than the minimum, even for tiny or empty files', () => {
    const start = new Date('2026-02-18T10:00:00Z');
    for (const rows of [0, 1, 10, -5]) {
      expect(estimateCompletion(start, rows).getTime() - start.getTime()).toBe(
        MINIMUM_ESTIMATE_MINUTES * 60_000,
      );
    }
  });

  it('falls back to the documented throughput when given a non-positive one', () => {
    expect(estimateCompletion('2026-02-18T10:00:00Z', 200_000, 0).toISOString()).toBe(
      '2026-02-18T12:00:00.000Z',
    );
  });
});

describe('GEM statuses', () => {
  it.each([
    ['SUCCESS', true, true],
    ['FAILED', true, false],
    ['finished', true, true],
    ['failed', true, false],
    ['REQUESTED', false, false],
    ['IN_PROGRESS', false, false],
    ['queued', false, false],
    ['running', false, false],
    ['CANCELLED_SOMEDAY', false, false],
  ])('%s: terminal=%s, successful=%s', (status, terminal, successful) => {
    expect(isTerminalGemStatus(status)).toBe(terminal);
    expect(isSuccessfulGemStatus(status)).toBe(successful);
  });

  it('treats a missing status as still running', () => {
    expect(isTerminalGemStatus(null)).toBe(false);
    expect(isTerminalGemStatus(undefined)).toBe(false);
    expect(isSuccessfulGemStatus(null)).toBe(false);
  });
});

describe('scheduledPollDelaySeconds', () => {
  const estimate = new Date('2026-03-01T12:00:00Z');
  const at = (offsetSeconds: number) => new Date(estimate.getTime() + offsetSeconds * 1000);

  it('is the plain backoff while the estimate is far away', () => {
    for (const polls of [1, 3, 10]) {
      expect(scheduledPollDelaySeconds(polls, policy, 'IN_PROGRESS', at(-7200), estimate)).toBe(
        nextPollDelaySeconds(polls, policy, 'IN_PROGRESS'),
      );
    }
  });

  it('never sleeps past the estimated completion', () => {
    // The backoff alone would wait 600 s; the estimate is 100 s away.
    expect(nextPollDelaySeconds(10, policy, 'IN_PROGRESS')).toBe(600);
    expect(scheduledPollDelaySeconds(10, policy, 'IN_PROGRESS', at(-100), estimate)).toBe(100);
    // …but not more often than the initial interval.
    expect(scheduledPollDelaySeconds(10, policy, 'IN_PROGRESS', at(-5), estimate)).toBe(30);
  });

  it('polls an overdue job at a fraction of the time overdue, within the configured bounds', () => {
    expect(scheduledPollDelaySeconds(10, policy, 'IN_PROGRESS', at(0), estimate)).toBe(30);
    expect(scheduledPollDelaySeconds(10, policy, 'IN_PROGRESS', at(800), estimate)).toBe(
      Math.round(800 * OVERDUE_POLL_FRACTION),
    );
    expect(scheduledPollDelaySeconds(10, policy, 'IN_PROGRESS', at(36_000), estimate)).toBe(600);
  });

  it('keeps the plain backoff without an estimate or before the job has started', () => {
    expect(scheduledPollDelaySeconds(10, policy, 'IN_PROGRESS', at(800), null)).toBe(600);
    expect(scheduledPollDelaySeconds(10, policy, 'REQUESTED', at(-100), estimate)).toBe(60);
  });

  it('notices a job that finishes at its estimate within one initial interval, where the backoff could wait the cap', () => {
    // Replays the loop: poll times from monitoring start until the first poll at or after completion.
    const start = at(-3 * 3600);
    const firstPollAfter = (schedule: (polls: number, now: Date) => number) => {
      let now = start;
      for (let polls = 1; now < estimate; polls++)
        now = new Date(now.getTime() + schedule(polls, now) * 1000);
      return (now.getTime() - estimate.getTime()) / 1000;
    };
    const steered = firstPollAfter((polls, now) =>
      scheduledPollDelaySeconds(polls, policy, 'IN_PROGRESS', now, estimate),
    );
    const plain = firstPollAfter((polls) => nextPollDelaySeconds(polls, policy, 'IN_PROGRESS'));
    expect(steered).toBeLessThanOrEqual(policy.initialIntervalSeconds);
    expect(plain).toBeGreaterThan(steered);
  });
});
