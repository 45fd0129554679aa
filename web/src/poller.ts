/**
 * Polling politely: one request at a time, at the interval the caller asks for, never while the tab is hidden
 * (it polls once as soon as the tab is shown again), doubling the wait after each failure up to two minutes,
 * and honouring a Retry-After the app sends.
 */
import { ApiError } from './api.js';

const MAX_BACKOFF_MS = 120_000;

export interface Poller {
  stop(): void;
  /** Poll now (e.g. after a user action), then carry on at the interval. */
  now(): void;
}

/** Calls `tick` now and then after the interval it returns (null: stop polling). */
export function poll(tick: () => Promise<number | null>, onError: (error: unknown) => void): Poller {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let running = false;
  let again = false;
  let failures = 0;

  const schedule = (ms: number) => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(run, ms);
  };
  const run = async () => {
    if (stopped) return;
    if (running) {
      again = true; // asked for while a poll is in flight: poll again as soon as it is done
      return;
    }
    if (document.hidden) return; // resumed by the visibility listener
    running = true;
    try {
      const next = await tick();
      failures = 0;
      if (next === null) stopped = true;
      else schedule(next);
    } catch (error) {
      failures++;
      onError(error);
      const retryAfter =
        error instanceof ApiError && error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : 0;
      schedule(Math.max(retryAfter, Math.min(MAX_BACKOFF_MS, 2000 * 2 ** failures)));
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule(0);
      }
    }
  };
  const onVisible = () => {
    if (!document.hidden) void run();
  };
  document.addEventListener('visibilitychange', onVisible);
  void run();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    },
    now() {
      if (!stopped) void run();
    },
  };
}
