/**
 * Unit tests of `local/standins/simulator/jobs.ts`: job lifecycle on the virtual clock; jobs across a restart
 * (snapshot → restore); isoMicros.
 */
import { parquetReadObjects } from 'hyparquet';
import { beforeEach, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { FORCED_FAILURE_MESSAGE, isoMicros, JobStore } from '../../../local/standins/simulator/jobs.js';
import type { RoadMatchingStatistics } from '../../../local/standins/simulator/types.js';
import { toArrayBuffer } from '../../../local/standins/simulator/validation.js';
import { created, harness, road, T0 } from './jobHarness.js';

describe('job lifecycle on the virtual clock', () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    h = harness();
  });

  it('creates a gen-B job object', async () => {
    const job = await created(h.store, road('roads.parquet'));
    expect(job).toEqual({
      job_id: expect.any(Number),
      job_type: 'ROAD_MATCHING',
      overture_release: '2026-01-21.0',
      storage_id: 'storage-001',
      input_filename: 'roads.parquet',
      result_filename: null,
      requested_at: '2026-02-18T10:38:59.031762Z',
      status: 'REQUESTED',
      statistics: null,
    });
    expect(String(job.job_id)).toMatch(/^[1-9]\d{8}$/);
  });

  it('goes REQUESTED → IN_PROGRESS → SUCCESS by virtual time, writing results at the end', async () => {
    await h.blobs.write('storage-001', 'roads.parquet', roadMatchingSample('valid', { rows: 20 }));
    const { job_id } = await created(h.store, road('roads.parquet'));
    h.advance(59_999);
    expect((await h.store.get(job_id, 'user-a'))!.status).toBe('REQUESTED');
    h.advance(1);
    expect((await h.store.get(job_id, 'user-a'))!.status).toBe('IN_PROGRESS');
    // 20 rows × 36 ms is below the 5-minute minimum, so the minimum applies.
    h.advance(299_999);
    const running = (await h.store.get(job_id, 'user-a'))!;
    expect([running.status, running.result_filename]).toEqual(['IN_PROGRESS', null]);
    expect((await h.blobs.list('storage-001')).map((f) => f.name)).toEqual(['roads.parquet']);
    h.advance(1);
    const done = (await h.store.get(job_id, 'user-a'))!;
    expect(done.status).toBe('SUCCESS');
    expect(done.result_filename).toBe('roads.results.parquet');
    const stats = done.statistics as RoadMatchingStatistics;
    expect(stats.num_roads_processed).toBe(20);
    expect(stats.execution_time_sec).toBe(300);
    const results = await h.blobs.read('storage-001', 'roads.results.parquet');
    const rows = await parquetReadObjects({ file: toArrayBuffer(results!), rowFormat: 'object' });
    expect(Object.keys(rows[0]!)).toEqual(['id', 'gers', 'confidence', 'lr_id', 'lr_gers']);
  });

  it('scales running time with row count above the minimum', async () => {
    const long = harness({ durations: { queuedMs: 1000, perSegmentMs: 36_000, minRunningMs: 1 } });
    await long.blobs.write('storage-001', 'r.parquet', roadMatchingSample('valid', { rows: 10 }));
    const { job_id } = await created(long.store, road('r.parquet'));
    long.advance(1000 + 359_999);
    expect((await long.store.get(job_id, 'user-a'))!.status).toBe('IN_PROGRESS');
    long.advance(1);
    expect((await long.store.get(job_id, 'user-a'))!.status).toBe('SUCCESS');
  });

  it('advances by timers alone, so results land without anyone polling', async () => {
    await h.blobs.write('storage-001', 'roads.parquet', roadMatchingSample('valid', { rows: 5 }));
    await created(h.store, road('roads.parquet'));
    expect(h.timers.map((t) => t.delay)).toEqual([60]); // 60 virtual s at 1000× = 60 real ms
    h.advance(60_000);
    await h.fireTimers();
    expect(h.timers.map((t) => t.delay)).toEqual([300]);
    h.advance(300_000);
    await h.fireTimers();
    expect((await h.blobs.list('storage-001')).map((f) => f.name).sort()).toEqual([
      'roads.parquet',
      'roads.results.parquet',
    ]);
  });

  it('re-arms a timer that fires before its virtual time', async () => {
    await created(h.store, road('roads.parquet'));
    h.advance(10_000);
    await h.fireTimers();
    expect(h.timers.map((t) => t.delay)).toEqual([50]);
  });

  it('fails with the validation message when a check fails', async () => {
    await h.blobs.write('storage-001', 'bad.parquet', roadMatchingSample('duplicate-ids'));
    const { job_id } = await created(h.store, road('bad.parquet'));
    h.advance(60_000);
    const job = (await h.store.get(job_id, 'user-a'))!;
    expect(job.status).toBe('FAILED');
    expect(job.message).toMatch(/^Input validation failed at check 'id-unique'/);
    expect([job.result_filename, job.statistics]).toEqual([null, null]);
  });

  it('fails when the input file does not exist', async () => {
    const { job_id } = await created(h.store, road('missing.parquet'));
    h.advance(60_000);
    expect((await h.store.get(job_id, 'user-a'))!.message).toBe(
      "The input file 'missing.parquet' was not found in storage 'storage-001'.",
    );
  });

  it('shows users only their own jobs', async () => {
    const a = await created(h.store, road('a.parquet'));
    await created(h.store, { ...road('b.parquet'), owner: 'user-b' });
    await created(h.store, { ...road('c.parquet'), jobType: 'LANE_LEVEL_MATCHING', orbisVersion: '1.1' });
    expect(await h.store.get(a.job_id, 'user-b')).toBeUndefined();
    expect((await h.store.list('user-a', 'ROAD_MATCHING')).map((j) => j.input_filename)).toEqual([
      'a.parquet',
    ]);
    expect((await h.store.list('user-a', 'LANE_LEVEL_MATCHING')).map((j) => j.input_filename)).toEqual([
      'c.parquet',
    ]);
    expect((await h.store.list(undefined)).length).toBe(3);
  });

  it('fail-job without an id fails the next job when it starts', async () => {
    await h.blobs.write('storage-001', 'roads.parquet', roadMatchingSample('valid'));
    await h.store.forceFail(undefined, 'boom');
    const first = await created(h.store, road('roads.parquet'));
    const second = await created(h.store, road('roads.parquet'));
    expect((await h.store.get(first.job_id, 'user-a'))!.status).toBe('REQUESTED');
    h.advance(60_000);
    expect((await h.store.get(first.job_id, 'user-a'))!).toMatchObject({ status: 'FAILED', message: 'boom' });
    expect((await h.store.get(second.job_id, 'user-a'))!.status).toBe('IN_PROGRESS');
  });

  it('fail-job with an id fails a running job at once and refuses a finished one', async () => {
    await h.blobs.write('storage-001', 'roads.parquet', roadMatchingSample('valid'));
    const { job_id } = await created(h.store, road('roads.parquet'));
    h.advance(60_000);
    expect((await h.store.get(job_id, 'user-a'))!.status).toBe('IN_PROGRESS');
    expect(await h.store.forceFail(job_id)).toBe(true);
    expect((await h.store.get(job_id, 'user-a'))!).toMatchObject({
      status: 'FAILED',
      message: FORCED_FAILURE_MESSAGE,
    });
    h.advance(10 * 60_000);
    expect((await h.store.get(job_id, 'user-a'))!.status).toBe('FAILED');
    expect(await h.store.forceFail(job_id)).toBe(false);
    expect(await h.store.forceFail(123)).toBe(false);
  });

  it('runs LANE_LEVEL_MATCHING to SUCCESS with a small result', async () => {
    const { laneLevelSample } = await import('../../../local/standins/samples.js');
    await h.blobs.write('storage-001', 'traces.parquet', laneLevelSample({ rows: 4 }));
    const { job_id } = await created(h.store, {
      ...road('traces.parquet'),
      jobType: 'LANE_LEVEL_MATCHING',
      orbisVersion: '123456.1',
    });
    h.advance(60_000 + 300_000);
    const job = (await h.store.get(job_id, 'user-a'))!;
    expect(job).toMatchObject({
      status: 'SUCCESS',
      orbis_version: '123456.1',
      result_filename: 'traces.results.parquet',
    });
    expect(job).not.toHaveProperty('overture_release');
    const rows = await parquetReadObjects({
      file: toArrayBuffer((await h.blobs.read('storage-001', 'traces.results.parquet'))!),
      rowFormat: 'object',
    });
    expect(rows.map((r) => r.mapRevisionId)).toEqual(Array(4).fill('123456.1'));
  });

  it('reset drops jobs and their timers', async () => {
    await created(h.store, road('a.parquet'));
    h.store.reset();
    expect(h.timers).toEqual([]);
  });
});

describe('jobs across a restart (snapshot → restore)', () => {
  /** A second store on the same clock and storage, as a restarted simulator would be. */
  function restarted(h: ReturnType<typeof harness>, durations = { queuedMs: 1, minRunningMs: 1 }) {
    const store = new JobStore({
      clock: { now: h.now, toRealDelayMs: (v) => v / 1000 },
      blobs: h.blobs,
      durations,
      schedule: h.schedule,
    });
    // The snapshot goes through JSON, as the state file does.
    store.restore(JSON.parse(JSON.stringify(h.store.snapshot())));
    return store;
  }

  it('keeps a running job: same id and request time, its saved end, the same results', async () => {
    const h = harness();
    await h.blobs.write('storage-001', 'roads.parquet', roadMatchingSample('valid', { rows: 20 }));
    const { job_id, requested_at } = await created(h.store, road('roads.parquet'));
    h.advance(60_000 + 100_000);
    expect((await h.store.get(job_id, 'user-a'))!.status).toBe('IN_PROGRESS');

    // Other durations after the restart must not move the saved end (60 s queued + 300 s running).
    const after = restarted(h);
    await h.store.close();
    const resumed = (await after.get(job_id, 'user-a'))!;
    expect(resumed).toMatchObject({ job_id, requested_at, status: 'IN_PROGRESS', result_filename: null });
    expect((await after.timeline())[0]).toMatchObject({
      starts_at: isoMicros(T0 + 60_000),
      completes_at: isoMicros(T0 + 360_000),
    });
    h.advance(199_999);
    expect((await after.get(job_id, 'user-a'))!.status).toBe('IN_PROGRESS');
    h.advance(1);
    const done = (await after.get(job_id, 'user-a'))!;
    expect(done).toMatchObject({ status: 'SUCCESS', result_filename: 'roads.results.parquet' });
    expect((done.statistics as RoadMatchingStatistics).num_roads_processed).toBe(20);
    expect(await after.get(job_id, 'someone-else')).toBeUndefined();
  });

  it('re-arms timers of unfinished jobs, so a queued job still starts without a poll', async () => {
    const h = harness();
    await h.blobs.write('storage-001', 'roads.parquet', roadMatchingSample('valid', { rows: 5 }));
    const { job_id } = await created(h.store, road('roads.parquet'));
    h.timers.splice(0);
    const after = restarted(h);
    expect(h.timers.map((t) => t.delay)).toEqual([60]);
    h.advance(360_000);
    await h.fireTimers();
    await h.fireTimers();
    expect((await h.blobs.list('storage-001')).map((f) => f.name)).toContain('roads.results.parquet');
    expect((await after.get(job_id, 'user-a'))!.status).toBe('SUCCESS');
  });

  it('keeps finished jobs as they ended, a queued forced failure and a pending fail-next', async () => {
    const h = harness();
    await h.blobs.write('storage-001', 'roads.parquet', roadMatchingSample('valid'));
    const finished = await created(h.store, road('roads.parquet'));
    h.advance(360_000);
    expect((await h.store.get(finished.job_id, 'user-a'))!.status).toBe('SUCCESS');
    const queued = await created(h.store, road('roads.parquet'));
    await h.store.forceFail(queued.job_id, 'stopped by hand');
    await h.store.forceFail(undefined, 'the next one fails');
    h.timers.splice(0);

    const after = restarted(h);
    expect(h.timers.length, 'only the unfinished job is re-armed').toBe(1);
    expect((await after.get(finished.job_id, 'user-a'))!.status).toBe('SUCCESS');
    const next = await created(after, road('roads.parquet'));
    h.advance(60_000);
    expect((await after.get(queued.job_id, 'user-a'))!).toMatchObject({
      status: 'FAILED',
      message: 'stopped by hand',
    });
    expect((await after.get(next.job_id, 'user-a'))!).toMatchObject({ message: 'the next one fails' });
  });
});

describe('isoMicros', () => {
  it('renders six fractional digits and Z', () => {
    expect(isoMicros(Date.UTC(2026, 0, 1) + 0.5)).toBe('2026-01-01T00:00:00.000500Z');
    expect(isoMicros(Date.UTC(2026, 0, 1, 0, 0, 0, 999))).toBe('2026-01-01T00:00:00.999000Z');
  });
});
