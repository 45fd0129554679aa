// At-least-once delivery end to end: Event Grid delivers the same BlobCreated event (Microsoft's documented
// sample shape, test/fixtures/eventgrid) three times to the Event Grid trigger, and the create-job call executes
// at GEM but its response is lost, so the durable retry runs submitJob again. The deterministic instance id and
// submitJob's find-or-create must still leave exactly one match and one GEM job.
import { describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import {
  blobCreatedEvent,
  postEventGridEvents,
  routeCount,
  simulatorAdmin,
  uploadInbox,
  useApp,
  waitForMatch,
} from '../harness.js';

const app = useApp({
  name: 'idempotency',
  timeScale: 600,
  // This file delivers its own events: no watcher, and no sweep rediscovering the blob during the test.
  env: { LOCAL_BLOB_WATCH: 'false', SWEEP_SCHEDULE: '0 0 0 1 1 *' },
});

describe('duplicate events and a repeated activity', () => {
  it('one upload delivered three times, with a lost create-job response, makes exactly one GEM job', async () => {
    const admin = simulatorAdmin(app);
    await admin.addFault({ route: 'POST /jobs', afterHandler: 'drop-connection', times: 1 });
    const upload = await uploadInbox(
      app,
      'twice.parquet',
      roadMatchingSample('valid', { rows: 25, seed: 21 }),
    );

    // The very same event (same id) three times, the way Event Grid redelivers; two arrive together.
    const event = blobCreatedEvent(app, upload);
    const statuses = await Promise.all([
      postEventGridEvents(app, [event]),
      postEventGridEvents(app, [event]),
    ]);
    statuses.push(await postEventGridEvents(app, [event]));
    expect(statuses).toEqual([202, 202, 202]);

    const status = await waitForMatch(app, upload.matchId);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', phase: 'completed', outcome: 'succeeded' });

    const requests = await admin.requests();
    // The fault fired: the first create-job ran at GEM and its caller saw a network error.
    const dropped = requests.recent.filter((r) => r.route === 'POST /jobs' && r.faultId !== undefined);
    expect(dropped).toHaveLength(1);
    expect(dropped[0]!.status).toBe(201);
    expect(routeCount(requests, 'POST /jobs')).toBeGreaterThanOrEqual(1);
    expect(routeCount(requests, 'POST /jobs')).toBeLessThanOrEqual(2);
    // submitJob ran again after the lost response: its find step (list jobs) was called more than once.
    expect(routeCount(requests, 'GET /jobs')).toBeGreaterThanOrEqual(2);

    const jobs = await admin.jobs();
    const job = jobs.find((j) => j.job_id === status.jobId);
    expect(job).toBeDefined();
    expect(jobs.filter((j) => j.input_filename === job!.input_filename)).toHaveLength(1);
    expect(jobs).toHaveLength(1);

    // Three deliveries reached the function; one started the match, the others found it.
    const started = app.hostLog.filter((l) => l.includes(`Started matchFile ${upload.matchId}`));
    const duplicates = app.hostLog.filter((l) => l.includes('Duplicate event for inbox/twice.parquet'));
    expect(started).toHaveLength(1);
    expect(duplicates).toHaveLength(2);
  });
});
