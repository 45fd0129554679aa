/**
 * Timers longer than the Azure Storage provider allows in one piece. The extension tells durable-functions the
 * provider's limits in the orchestration trigger payload (OrchestrationTriggerAttributeBindingProvider.cs:
 * `maximumShortTimerDuration`, `longRunningTimerIntervalDuration`, taken from AzureStorageDurabilityProvider.cs
 * MaximumDelayTime = 6 days and LongRunningTimerIntervalLength = 3 days, written as Newtonsoft writes a TimeSpan).
 * For a longer timer the SDK builds a LongTimerTask: one CreateTimer action with the final fire time, then one
 * new timer id each time a piece fires. The extension splits that action into the pieces
 * (DurableOrchestrationContext.cs IDurableOrchestrationContext.CreateTimer: the long-running loop).
 */
const DAY_MS = 86_400_000;
export const MAXIMUM_SHORT_TIMER_MS = 6 * DAY_MS;
export const LONG_TIMER_INTERVAL_MS = 3 * DAY_MS;
export const MAXIMUM_SHORT_TIMER_DURATION = '6.00:00:00';
export const LONG_RUNNING_TIMER_INTERVAL_DURATION = '3.00:00:00';

/** Kept on each piece's TimerCreated (the SDK ignores it): the final fire time and the first piece's id. */
export interface LongTimer {
  fireAt: string;
  rootId: number;
}

/** The first piece: the whole timer when it fits, else one interval from now. */
export function firstPieceFireAt(fireAt: number, now: number): { fireAt: number; long: boolean } {
  return fireAt - now > MAXIMUM_SHORT_TIMER_MS
    ? { fireAt: now + LONG_TIMER_INTERVAL_MS, long: true }
    : { fireAt, long: false };
}

/** After a piece fired at `now`: the next piece's fire time, or undefined once the final time is reached. */
export function nextPieceFireAt(finalFireAt: number, now: number): number | undefined {
  const remaining = finalFireAt - now;
  if (remaining <= 0) return undefined;
  return now + Math.min(remaining, LONG_TIMER_INTERVAL_MS);
}
