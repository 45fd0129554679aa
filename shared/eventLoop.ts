/**
 * Long passes over a file (partitioning, merging results, indexing GEM's results, the enriched join) run in the
 * same process as the app's HTTP triggers and timers: on Azure the worker serves every invocation from one event
 * loop, locally the host does too. Such a pass yields a turn of the event loop between batches, so a status
 * request waits for one batch, not for the whole file.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
