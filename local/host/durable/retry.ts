/**
 * What the Durable Task Framework does after an attempt of `callActivityWithRetry` / `callSubOrchestratorWithRetry`
 * failed: the loop of RetryInterceptor (Azure/durabletask src/DurableTask.Core/RetryInterceptor.cs, identical in
 * DurableTask.Core 2.17.1, the version the Durable extension 2.13.x of the v4 extension bundle builds on). The
 * extension hands it the JavaScript retry options through RetryOptionsConverter.cs, with its own default
 * maximum retry interval (RetryOptions.cs: 6 days). durable-functions replays the resulting history itself
 * (RetryableTask): after a failure it waits for a timer, and after that timer either a new attempt or, when
 * the attempts are used up, the failure.
 */
import type { RetryOptions } from './history.js';

const DAY_MS = 86_400_000;
/** Microsoft.Azure.WebJobs.Extensions.DurableTask RetryOptions.DefaultMaxRetryinterval. */
export const DEFAULT_MAX_RETRY_INTERVAL_MS = 6 * DAY_MS;

export type RetryDecision =
  /** A "Retry Attempt" timer; when it fires, the next attempt is scheduled. */
  | { kind: 'retry'; fireAt: number }
  /** The last attempt failed: DTFx's "Dummy timer for back-compat", due at once; then the failure surfaces. */
  | { kind: 'last'; fireAt: number }
  /**
   * No timer at all: the retry timeout has passed (or the delay came out as zero). DTFx then throws to its own
   * caller, but durable-functions still waits for a timer that never comes, so the orchestration stops there
   * without an error it could catch (Azure/azure-functions-durable-js#629). This is what Azure does.
   */
  | { kind: 'give-up' };

/**
 * @param attempt the 1-based attempt that just failed
 * @param firstAttemptAt the orchestration time when the first attempt was scheduled (RetryInterceptor's
 *   `firstAttempt = context.CurrentUtcDateTime`), or undefined when unknown (history written before it was kept)
 * @param now the orchestration time of the episode that processes the failure
 */
export function nextRetry(
  options: RetryOptions,
  attempt: number,
  firstAttemptAt: number | undefined,
  now: number,
): RetryDecision {
  if (attempt >= options.maxNumberOfAttempts) return { kind: 'last', fireAt: now };
  const delay = computeNextDelay(options, attempt, firstAttemptAt, now);
  return delay === 0 ? { kind: 'give-up' } : { kind: 'retry', fireAt: now + delay };
}

/** RetryInterceptor.ComputeNextDelay, with `attempt` 1-based (DTFx counts from 0). */
function computeNextDelay(
  options: RetryOptions,
  attempt: number,
  firstAttemptAt: number | undefined,
  now: number,
): number {
  const timeout = options.retryTimeoutInMilliseconds;
  if (timeout !== undefined && firstAttemptAt !== undefined && !(now < firstAttemptAt + timeout)) return 0;
  const delay = options.firstRetryIntervalInMilliseconds * (options.backoffCoefficient ?? 1) ** (attempt - 1);
  const cap = options.maxRetryIntervalInMilliseconds ?? DEFAULT_MAX_RETRY_INTERVAL_MS;
  return Math.min(delay, cap);
}
