// The local engine's port of DTFx's retry loop (Azure/durabletask src/DurableTask.Core/RetryInterceptor.cs, with
// the extension's defaults from src/WebJobs.Extensions.DurableTask/RetryOptions.cs and RetryOptionsConverter.cs).
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_RETRY_INTERVAL_MS, nextRetry } from '../../../local/host/durable/retry.js';

const DAY = 86_400_000;
const t0 = Date.parse('2026-03-01T00:00:00Z');

describe('nextRetry (RetryInterceptor.Invoke / ComputeNextDelay)', () => {
  it('waits first × coefficient^(attempt − 1) before the next attempt', () => {
    const options = { firstRetryIntervalInMilliseconds: 5000, maxNumberOfAttempts: 4, backoffCoefficient: 2 };
    expect(nextRetry(options, 1, t0, t0 + 10)).toEqual({ kind: 'retry', fireAt: t0 + 10 + 5000 });
    expect(nextRetry(options, 3, t0, t0 + 10)).toEqual({ kind: 'retry', fireAt: t0 + 10 + 20_000 });
  });

  it('after the last attempt schedules the back-compat timer due at once, whatever the options say', () => {
    const options = {
      firstRetryIntervalInMilliseconds: 5000,
      maxNumberOfAttempts: 2,
      retryTimeoutInMilliseconds: 1,
    };
    expect(nextRetry(options, 2, t0, t0 + 60_000)).toEqual({ kind: 'last', fireAt: t0 + 60_000 });
  });

  it('caps the delay at maxRetryIntervalInMilliseconds, and at the extension’s 6 days without one', () => {
    const capped = {
      firstRetryIntervalInMilliseconds: 4 * DAY,
      maxNumberOfAttempts: 5,
      backoffCoefficient: 2,
    };
    expect(DEFAULT_MAX_RETRY_INTERVAL_MS).toBe(6 * DAY);
    expect(nextRetry(capped, 2, t0, t0)).toEqual({ kind: 'retry', fireAt: t0 + 6 * DAY });
    expect(nextRetry({ ...capped, maxRetryIntervalInMilliseconds: DAY }, 2, t0, t0)).toEqual({
      kind: 'retry',
      fireAt: t0 + DAY,
    });
  });

  it('gives up without a timer once the retry timeout has passed since the first attempt', () => {
    const options = {
      firstRetryIntervalInMilliseconds: 1000,
      maxNumberOfAttempts: 9,
      retryTimeoutInMilliseconds: 10_000,
    };
    expect(nextRetry(options, 1, t0, t0 + 9_999)).toEqual({ kind: 'retry', fireAt: t0 + 10_999 });
    // `CurrentUtcDateTime < retryExpiration` is strict.
    expect(nextRetry(options, 2, t0, t0 + 10_000)).toEqual({ kind: 'give-up' });
    // History written before the first attempt's time was kept: no timeout can be checked.
    expect(nextRetry(options, 2, undefined, t0 + 10_000)).toEqual({ kind: 'retry', fireAt: t0 + 11_000 });
  });

  it('gives up without a timer when the delay comes out as zero (a maximum interval of 0)', () => {
    const options = {
      firstRetryIntervalInMilliseconds: 1000,
      maxNumberOfAttempts: 3,
      maxRetryIntervalInMilliseconds: 0,
    };
    expect(nextRetry(options, 1, t0, t0)).toEqual({ kind: 'give-up' });
  });
});
