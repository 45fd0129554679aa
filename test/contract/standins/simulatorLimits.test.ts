// The simulator's job limits over HTTP, on a private instance whose virtual clock the test moves by hand (no
// timers: every read brings the jobs up to that time): the admin API that reads, sets and resets them, the
// 429 with Retry-After beyond the per-user concurrent-job limit and its entry in the request log, a finished
// job freeing its place, and jobs held in REQUESTED beyond the running-job limit. The refusal's shape follows
// the simulator's other errors (TomTom's gateway shape); TomTom documents neither the limit nor its error.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { type PrivateSimulator, startPrivateSimulator } from './privateSimulator.js';

const T0 = Date.UTC(2026, 1, 18, 9, 0, 0);
let now = T0;
let p: PrivateSimulator;

beforeAll(async () => {
  p = await startPrivateSimulator(
    // Scale 1: a Retry-After in real seconds is the virtual wait.
    { clock: { now: () => now, toRealDelayMs: (v) => v } },
    { schedule: () => () => undefined },
  );
});
afterAll(() => p?.close());
beforeEach(async () => {
  expect((await p.admin('POST', '/reset')).status).toBe(200);
  now = T0;
  await p.blobs.write('storage-001', 'in.parquet', roadMatchingSample('valid', { rows: 20 }));
});

const gemJob = async (id: number, oid = 'user-a') =>
  (await p.call('GET', `${p.sim.url}/maps/orbis/platform/gem/jobs/${id}`, await p.tomtom(oid))).body;

describe('GET/POST/DELETE /_admin/limits', () => {
  it("reads TomTom's documented defaults: 100,000 segments per hour and no limit on jobs", async () => {
    const r = await p.admin('GET', '/limits');
    expect(r.status).toBe(200);
    const defaults = {
      queuedMs: 60_000,
      segmentsPerHour: 100_000,
      minRunningMs: 300_000,
      maxConcurrentJobsPerUser: null,
      maxRunningJobsPerUser: null,
      retryAfterSeconds: null,
    };
    expect(r.body).toEqual({ limits: defaults, configured: defaults, overrides: {}, users: [] });
  });

  it('sets some limits, keeps the others, and resets them', async () => {
    const set = await p.admin('POST', '/limits', { maxConcurrentJobsPerUser: 3, segmentsPerHour: 50_000 });
    expect(set.status).toBe(200);
    expect(set.body.limits).toMatchObject({
      maxConcurrentJobsPerUser: 3,
      segmentsPerHour: 50_000,
      queuedMs: 60_000,
    });
    await p.admin('POST', '/limits', { maxRunningJobsPerUser: 1 });
    const read = (await p.admin('GET', '/limits')).body;
    expect(read.overrides).toEqual({
      maxConcurrentJobsPerUser: 3,
      segmentsPerHour: 50_000,
      maxRunningJobsPerUser: 1,
    });
    expect(read.configured.maxConcurrentJobsPerUser).toBeNull();
    const reset = await p.admin('DELETE', '/limits');
    expect([reset.status, reset.body.limits]).toEqual([200, read.configured]);
    // POST /_admin/reset drops them too.
    await p.admin('POST', '/limits', { maxConcurrentJobsPerUser: 1 });
    await p.admin('POST', '/reset');
    expect((await p.admin('GET', '/limits')).body.overrides).toEqual({});
  });

  it('refuses bad settings with the reason, changing nothing', async () => {
    for (const body of [
      { maxConcurrentJobsPerUser: 0 },
      { segmentsPerHour: -5 },
      { maxRunningJobsPerUser: 1.5 },
      { parallel: 3 },
      '{bad',
    ]) {
      const r = await p.admin('POST', '/limits', body);
      expect([r.status, r.body.error.code], JSON.stringify(body)).toEqual([400, 'BadRequest']);
      expect(r.body.error.message).toMatch(/maxConcurrentJobsPerUser/);
      expect(r.body.error.issues.length).toBeGreaterThan(0);
    }
    expect((await p.admin('GET', '/limits')).body.overrides).toEqual({});
  });
});

describe('the per-user concurrent-job limit over HTTP', () => {
  it('answers 429 with Retry-After beyond the limit, logs the refusal, and takes a job once one has finished', async () => {
    await p.admin('POST', '/limits', { maxConcurrentJobsPerUser: 2 });
    const first = await p.createJob();
    const second = await p.createJob();
    expect([first.status, second.status]).toEqual([201, 201]);
    const refused = await p.createJob();
    // Both jobs are queued until 60 s and then run the 5-minute minimum: the first place frees in 360 s.
    expect([refused.status, refused.headers['retry-after']]).toEqual([429, '360']);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.body).toEqual({
      error: {
        code: 'TooManyRequests',
        message:
          'Too many concurrent matching jobs: you have 2 jobs REQUESTED or IN_PROGRESS and at most 2 are allowed ' +
          'at once. Submit again after one has finished (in about 360 seconds).',
      },
    });
    // Another user has places of their own; the refused request created nothing.
    expect((await p.createJob('user-b')).status).toBe(201);
    expect((await p.admin('GET', '/jobs')).body.jobs).toHaveLength(3);
    const limits = (await p.admin('GET', '/limits')).body;
    expect(limits.users).toEqual([
      { user: 'user-a', requested: 2, inProgress: 0, waitingForSlot: 0 },
      { user: 'user-b', requested: 1, inProgress: 0, waitingForSlot: 0 },
    ]);

    const log = (await p.admin('GET', '/requests')).body;
    expect(log.byRefusal).toEqual({ 'concurrent-job-limit': 1 });
    expect(log.byRouteAndStatus['POST /jobs']).toEqual({ '201': 3, '429': 1 });
    expect(log.recent.filter((r: { refusal?: string }) => r.refusal)).toMatchObject([
      { route: 'POST /jobs', status: 429, subject: 'user-a', refusal: 'concurrent-job-limit' },
    ]);

    now += 359_000;
    expect((await p.createJob()).headers['retry-after']).toBe('1');
    now += 1_000;
    expect((await gemJob(first.body.job_id)).status).toBe('SUCCESS');
    expect((await p.createJob()).status).toBe(201);
    expect((await p.admin('GET', '/requests')).body.byRefusal).toEqual({ 'concurrent-job-limit': 2 });
  });

  it('holds jobs beyond the running-job limit in REQUESTED and starts them as running ones end', async () => {
    await p.admin('POST', '/limits', { maxRunningJobsPerUser: 1 });
    const a = (await p.createJob()).body.job_id as number;
    const b = (await p.createJob()).body.job_id as number;
    now += 60_000;
    expect([(await gemJob(a)).status, (await gemJob(b)).status]).toEqual(['IN_PROGRESS', 'REQUESTED']);
    const timeline = (await p.admin('GET', '/jobs/timeline')).body.jobs;
    expect(timeline.map((t: { waiting_for_slot: boolean }) => t.waiting_for_slot)).toEqual([false, true]);
    expect((await p.admin('GET', '/limits')).body.users).toEqual([
      { user: 'user-a', requested: 1, inProgress: 1, waitingForSlot: 1 },
    ]);
    now += 300_000;
    expect([(await gemJob(a)).status, (await gemJob(b)).status]).toEqual(['SUCCESS', 'IN_PROGRESS']);
    const started = (await p.admin('GET', '/jobs/timeline')).body.jobs[1];
    expect(started).toMatchObject({
      starts_at: '2026-02-18T09:06:00.000000Z',
      completes_at: '2026-02-18T09:11:00.000000Z',
      input_rows: 20,
    });
  });
});
