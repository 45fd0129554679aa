/**
 * Loading on first use. Every new instance of the app imports its entry before it serves anything, and the
 * host must see every function then, so registrations stay eager; what a function needs only when it runs
 * (the Azure SDK clients, zod schemas, the format readers) is loaded the first time it runs instead.
 * `onFirstUse(() => import('./heavy.js'))` gives a function that starts the load on its first call and hands
 * every later call the same promise. A failed load is forgotten, so the next call tries again rather than
 * replaying one failure for the life of the process.
 */
export function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
