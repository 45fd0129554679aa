// A JobStore on a virtual clock moved by hand, in-memory blobs and a scheduler that records timers instead of
// waiting, for the simulator's job tests.
import { MemoryBlobStore } from '../../../local/standins/simulator/blobs.js';
import { JobStore, type NewJob, type Schedule } from '../../../local/standins/simulator/jobs.js';
import type { JobDurations, JobLimits, PublicJob } from '../../../local/standins/simulator/types.js';

export const T0 = Date.UTC(2026, 1, 18, 10, 38, 59, 31) + 0.762;

export interface HarnessOptions {
  durations?: JobDurations;
  limits?: JobLimits;
  /** Virtual ms per real ms; default 1000. */
  scale?: number;
}

const DURATIONS: JobDurations = { queuedMs: 60_000, perSegmentMs: 36, minRunningMs: 300_000 };

export function harness({ durations = DURATIONS, limits, scale = 1000 }: HarnessOptions = {}) {
  let now = T0;
  const timers: { fn: () => void; delay: number }[] = [];
  const schedule: Schedule = (fn, delay) => {
    const t = { fn, delay };
    timers.push(t);
    return () => timers.splice(timers.indexOf(t) >>> 0, 1);
  };
  const blobs = new MemoryBlobStore(() => now);
  let id = 0;
  const clock = { now: () => now, toRealDelayMs: (v: number) => v / scale };
  const store = new JobStore({
    clock,
    blobs,
    durations,
    ...(limits ? { limits } : {}),
    schedule,
    random: () => (id++ * 0.123456789) % 1,
  });
  return {
    store,
    blobs,
    timers,
    schedule,
    clock,
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    /** Fire every due timer, as the real scheduler would, and let the job's I/O settle. */
    async fireTimers() {
      for (const t of timers.splice(0)) t.fn();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}

/** A job the store must accept. */
export async function created(store: JobStore, input: NewJob): Promise<PublicJob> {
  const admission = await store.submit(input);
  if (!admission.accepted) throw new Error(`refused: ${JSON.stringify(admission.refusal)}`);
  return admission.job;
}

export const road = (filename: string, owner = 'user-a'): NewJob => ({
  owner,
  storageId: 'storage-001',
  filename,
  jobType: 'ROAD_MATCHING',
  overtureRelease: '2026-01-21.0',
});
