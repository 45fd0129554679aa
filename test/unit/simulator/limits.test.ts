// The simulator's job durations (queue time, then rows ÷ throughput with a minimum run) and its per-user limits:
// refusals beyond the concurrent-job limit, and jobs held in REQUESTED beyond the running-job limit, all on a
// virtual clock moved by hand.
import { describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { isoMicros } from '../../../local/standins/simulator/jobs.js';
import {
  configuredSettings,
  DEFAULT_JOB_SETTINGS,
  refusalRetryAfterSeconds,
  runningMs,
  slotStart,
} from '../../../local/standins/simulator/limits.js';
import type { RoadMatchingStatistics } from '../../../local/standins/simulator/types.js';
import { created, harness, road, T0 } from './jobHarness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('the duration model', () => {
  it("defaults to TomTom's documented 100,000 segments per hour, 60 s queued and a 5-minute minimum", () => {
    expect(configuredSettings()).toEqual(DEFAULT_JOB_SETTINGS);
    expect(DEFAULT_JOB_SETTINGS).toMatchObject({
      segmentsPerHour: 100_000,
      queuedMs: MIN,
      minRunningMs: 5 * MIN,
    });
    expect(runningMs(DEFAULT_JOB_SETTINGS, 125_000)).toBe(1.25 * HOUR);
    expect(runningMs(DEFAULT_JOB_SETTINGS, 1_000_000)).toBe(10 * HOUR);
    expect(runningMs(DEFAULT_JOB_SETTINGS, 100)).toBe(5 * MIN);
  });

  it('takes the throughput as segments per hour or as ms per segment, one model either way', () => {
    const bySegments = configuredSettings({ segmentsPerHour: 2_000 });
    const byMs = configuredSettings({ perSegmentMs: 1_800 });
    expect(byMs).toEqual(bySegments);
    expect(runningMs(bySegments, 10_000)).toBe(5 * HOUR);
    expect(configuredSettings({ perSegmentMs: 1_800, segmentsPerHour: 2_000 })).toEqual(bySegments);
    // The benchmark's 21,600 ms per segment: 166.67 segments per hour, 6 virtual hours per 1,000 rows.
    expect(runningMs(configuredSettings({ perSegmentMs: 21_600, minRunningMs: 1 }), 1_000)).toBe(6 * HOUR);
  });

  it('refuses contradicting or impossible durations, naming the option', () => {
    expect(() => configuredSettings({ perSegmentMs: 36, segmentsPerHour: 50_000 })).toThrow(
      /perSegmentMs 36 \(100000 segments per hour\) contradicts segmentsPerHour 50000/,
    );
    expect(() => configuredSettings({ perSegmentMs: 0 })).toThrow(/perSegmentMs must be a positive number/);
    expect(() => configuredSettings({ segmentsPerHour: -1 })).toThrow(/segmentsPerHour/);
    expect(() => configuredSettings({}, { maxConcurrentJobsPerUser: 0 })).toThrow(/maxConcurrentJobsPerUser/);
  });

  it('runs a job queue time + rows ÷ throughput, and reports that time as execution_time_sec', async () => {
    const h = harness({ durations: { queuedMs: 10_000, segmentsPerHour: 600, minRunningMs: 1 } });
    await h.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 50 }));
    const { job_id } = await created(h.store, road('r.parquet'));
    // 50 rows at 600 per hour: 5 virtual minutes after the 10 s queue.
    h.advance(10_000 + 5 * MIN - 1);
    expect((await h.store.get(job_id, 'user-a'))!.status).toBe('IN_PROGRESS');
    h.advance(1);
    const done = (await h.store.get(job_id, 'user-a'))!;
    expect(done.status).toBe('SUCCESS');
    expect((done.statistics as RoadMatchingStatistics).execution_time_sec).toBe(300);
    expect((await h.store.timeline())[0]).toMatchObject({
      starts_at: isoMicros(T0 + 10_000),
      completes_at: isoMicros(T0 + 10_000 + 5 * MIN),
      input_rows: 50,
    });
  });

  it('applies a throughput changed at run time to jobs that start later, not to one already running', async () => {
    const h = harness({ durations: { queuedMs: 0, segmentsPerHour: 60, minRunningMs: 1 } });
    await h.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 10 }));
    const running = await created(h.store, road('r.parquet'));
    h.advance(1);
    expect((await h.store.get(running.job_id, 'user-a'))!.status).toBe('IN_PROGRESS');
    expect(await h.store.setLimits({ segmentsPerHour: 600 })).toMatchObject({ segmentsPerHour: 600 });
    const later = await created(h.store, road('r.parquet'));
    const ends = Object.fromEntries((await h.store.timeline()).map((t) => [t.job_id, t.completes_at]));
    // 10 rows: 10 minutes at the old rate, 1 minute at the new one.
    expect(ends[running.job_id]).toBe(isoMicros(T0 + 10 * MIN));
    expect(ends[later.job_id]).toBe(isoMicros(T0 + 1 + MIN));
    expect((await h.store.limits()).overrides).toEqual({ segmentsPerHour: 600 });
    expect((await h.store.resetLimits()).segmentsPerHour).toBe(60);
  });
});

describe('the per-user concurrent-job limit', () => {
  const limited = (maxConcurrentJobsPerUser: number, scale = 1) =>
    harness({ limits: { maxConcurrentJobsPerUser }, scale });

  it('is off by default: any number of jobs is accepted', async () => {
    const h = harness();
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => h.store.submit(road(`${i}.parquet`))));
    expect(all.every((a) => a.accepted)).toBe(true);
  });

  it('refuses a job beyond the limit, counting queued jobs, until one has finished', async () => {
    const h = limited(2);
    await h.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 20 }));
    const first = await created(h.store, road('r.parquet'));
    h.advance(30_000);
    await created(h.store, road('r.parquet'));
    // Both still REQUESTED (60 s queue): they count.
    const refused = await h.store.submit(road('r.parquet'));
    // The first is due to end at 60 s queued + 300 s running; 330 s from now at scale 1.
    expect(refused).toEqual({ accepted: false, refusal: { active: 2, limit: 2, retryAfterSeconds: 330 } });
    h.advance(60_000);
    expect((await h.store.get(first.job_id, 'user-a'))!.status).toBe('IN_PROGRESS');
    expect((await h.store.submit(road('r.parquet'))).accepted).toBe(false);
    h.advance(270_000 - 1);
    expect((await h.store.submit(road('r.parquet'))).accepted).toBe(false);
    h.advance(1);
    // The first job finishing frees its place.
    expect((await h.store.submit(road('r.parquet'))).accepted).toBe(true);
    expect((await h.store.get(first.job_id, 'user-a'))!.status).toBe('SUCCESS');
    expect((await h.store.submit(road('r.parquet'))).accepted).toBe(false);
  });

  it('frees a place when a job fails, and counts each user on their own', async () => {
    const h = limited(1);
    const failing = await created(h.store, road('missing.parquet'));
    expect((await h.store.submit(road('x.parquet'))).accepted).toBe(false);
    expect((await h.store.submit(road('x.parquet', 'user-b'))).accepted).toBe(true);
    h.advance(60_000);
    expect((await h.store.get(failing.job_id, 'user-a'))!.status).toBe('FAILED');
    expect((await h.store.submit(road('x.parquet'))).accepted).toBe(true);
  });

  it('admits exactly up to the limit when submissions arrive at once', async () => {
    const h = limited(3);
    const all = await Promise.all(Array.from({ length: 10 }, () => h.store.submit(road('r.parquet'))));
    expect(all.filter((a) => a.accepted)).toHaveLength(3);
    expect((await h.store.list('user-a')).length).toBe(3);
  });

  it("gives a Retry-After in the caller's real time, or the fixed one set", async () => {
    // At 600× the 360 virtual seconds until the first job ends are 0.6 real seconds: at least 1.
    const fast = limited(1, 600);
    await created(fast.store, road('r.parquet'));
    const r = await fast.store.submit(road('r.parquet'));
    expect(r.accepted ? undefined : r.refusal.retryAfterSeconds).toBe(1);
    await fast.store.setLimits({ retryAfterSeconds: 42 });
    const fixed = await fast.store.submit(road('r.parquet'));
    expect(fixed.accepted ? undefined : fixed.refusal.retryAfterSeconds).toBe(42);
  });

  it('can be set, lowered and removed at run time', async () => {
    const h = harness();
    await created(h.store, road('a.parquet'));
    await created(h.store, road('b.parquet'));
    await h.store.setLimits({ maxConcurrentJobsPerUser: 1 });
    const refused = await h.store.submit(road('c.parquet'));
    expect(refused.accepted ? undefined : refused.refusal).toMatchObject({ active: 2, limit: 1 });
    await h.store.setLimits({ maxConcurrentJobsPerUser: null });
    expect((await h.store.submit(road('c.parquet'))).accepted).toBe(true);
  });
});

describe('the per-user running-job limit (accepted, but queued behind others)', () => {
  const oneAtATime = () => harness({ limits: { maxRunningJobsPerUser: 1 } });
  const statusOf = async (h: ReturnType<typeof harness>, id: number) =>
    (await h.store.get(id, 'user-a'))!.status;

  it('keeps a job REQUESTED until the running one ends, then runs it from that instant', async () => {
    const h = oneAtATime();
    await h.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 20 }));
    const a = await created(h.store, road('r.parquet'));
    const b = await created(h.store, road('r.parquet'));
    h.advance(60_000);
    expect([await statusOf(h, a.job_id), await statusOf(h, b.job_id)]).toEqual(['IN_PROGRESS', 'REQUESTED']);
    const waiting = (await h.store.timeline()).find((t) => t.job_id === b.job_id)!;
    expect(waiting).toMatchObject({ waiting_for_slot: true, completes_at: null });
    expect((await h.store.limits()).users).toEqual([
      { user: 'user-a', requested: 1, inProgress: 1, waitingForSlot: 1 },
    ]);
    h.advance(300_000);
    expect([await statusOf(h, a.job_id), await statusOf(h, b.job_id)]).toEqual(['SUCCESS', 'IN_PROGRESS']);
    h.advance(300_000);
    expect(await statusOf(h, b.job_id)).toBe('SUCCESS');
    const timeline = await h.store.timeline();
    expect(timeline.map((t) => [t.starts_at, t.completes_at, t.waiting_for_slot])).toEqual([
      [isoMicros(T0 + 60_000), isoMicros(T0 + 360_000), false],
      [isoMicros(T0 + 360_000), isoMicros(T0 + 660_000), false],
    ]);
  });

  it('gives the same schedule whether or not anyone polled in between', async () => {
    const polled = oneAtATime();
    const unpolled = oneAtATime();
    for (const h of [polled, unpolled]) {
      await h.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 20 }));
      for (let i = 0; i < 4; i++) await created(h.store, road(i === 2 ? 'missing.parquet' : 'r.parquet'));
    }
    for (let i = 0; i < 30; i++) {
      polled.advance(40_000);
      await polled.store.list('user-a');
    }
    unpolled.advance(30 * 40_000);
    const schedule = async (h: ReturnType<typeof harness>) =>
      (await h.store.timeline()).map((t) => [t.status, t.starts_at, t.completes_at]);
    expect(await schedule(unpolled)).toEqual(await schedule(polled));
    // The third job fails at its start (no input), which frees the slot for the fourth at once.
    expect((await schedule(polled)).map(([, start]) => start)).toEqual([
      isoMicros(T0 + 60_000),
      isoMicros(T0 + 360_000),
      isoMicros(T0 + 660_000),
      isoMicros(T0 + 660_000),
    ]);
  });

  it('starts a waiting job by timers alone, when the running one ends', async () => {
    const h = oneAtATime();
    await h.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 5 }));
    await created(h.store, road('r.parquet'));
    await created(h.store, road('r.parquet'));
    h.advance(60_000);
    await h.fireTimers();
    h.advance(300_000);
    await h.fireTimers();
    await h.fireTimers();
    expect((await h.blobs.list('storage-001')).map((f) => f.name)).toContain('r.results.parquet');
    h.advance(300_000);
    await h.fireTimers();
    await h.fireTimers();
    expect((await h.store.list(undefined)).map((j) => j.status)).toEqual(['SUCCESS', 'SUCCESS']);
  });

  it('frees the slot at the instant a running job is failed by hand, and when the limit is raised', async () => {
    const h = harness({ limits: { maxRunningJobsPerUser: 1 } });
    await h.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 5 }));
    const a = await created(h.store, road('r.parquet'));
    const b = await created(h.store, road('r.parquet'));
    const c = await created(h.store, road('r.parquet'));
    h.advance(100_000);
    expect(await h.store.forceFail(a.job_id)).toBe(true);
    expect([await statusOf(h, b.job_id), await statusOf(h, c.job_id)]).toEqual(['IN_PROGRESS', 'REQUESTED']);
    h.advance(10_000);
    await h.store.setLimits({ maxRunningJobsPerUser: 2 });
    expect(await statusOf(h, c.job_id)).toBe('IN_PROGRESS');
    const starts = (await h.store.timeline()).map((t) => t.starts_at);
    expect(starts).toEqual([isoMicros(T0 + 60_000), isoMicros(T0 + 100_000), isoMicros(T0 + 110_000)]);
  });

  it('keeps waiting jobs and limits set at run time across a restart', async () => {
    const h = oneAtATime();
    await h.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 20 }));
    await created(h.store, road('r.parquet'));
    await created(h.store, road('r.parquet'));
    await h.store.setLimits({ maxConcurrentJobsPerUser: 2 });
    h.advance(100_000);
    const before = await h.store.timeline();
    const saved = JSON.parse(JSON.stringify(h.store.snapshot()));
    await h.store.close();
    // Started with the same options; the limit set at run time applies over them again.
    const after = oneAtATime();
    after.advance(100_000);
    after.store.restore(saved);
    await after.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 20 }));
    expect(await after.store.timeline()).toEqual(before);
    expect((await after.store.limits()).overrides).toEqual({ maxConcurrentJobsPerUser: 2 });
    expect((await after.store.submit(road('r.parquet'))).accepted).toBe(false);
    after.advance(600_000);
    expect((await after.store.timeline()).map((t) => t.starts_at)).toEqual([
      isoMicros(T0 + 60_000),
      isoMicros(T0 + 360_000),
    ]);
  });
});

describe('slot and Retry-After arithmetic', () => {
  it('starts at readiness while a slot is free, else when enough running jobs have ended', () => {
    expect(slotStart(10, [5, 20, 30], null)).toBe(10);
    expect(slotStart(10, [5, 20, 30], 3)).toBe(10);
    expect(slotStart(10, [5, 20, 30], 2)).toBe(20);
    expect(slotStart(10, [5, 20, 30], 1)).toBe(30);
    expect(slotStart(10, [20, Number.POSITIVE_INFINITY], 1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('waits until the active count drops below the limit, in whole real seconds', () => {
    const realTime = (v: number) => v;
    expect(refusalRetryAfterSeconds([5_000, 9_000], 2, 0, realTime)).toBe(5);
    expect(refusalRetryAfterSeconds([5_000, 9_000, 12_500], 2, 0, realTime)).toBe(9);
    expect(refusalRetryAfterSeconds([100], 1, 0, realTime)).toBe(1);
    expect(refusalRetryAfterSeconds([600_000], 1, 0, (v) => v / 600)).toBe(1);
    expect(refusalRetryAfterSeconds([600_000], 1, 0, () => Number.POSITIVE_INFINITY)).toBe(60);
  });
});
