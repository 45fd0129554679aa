// 100 uploads land in the inbox at once while the TomTom simulator throttles (429 + Retry-After) and fails
// (500) a share of GET requests. Every match must complete with its results delivered, GEM must see exactly
// one job per input file, and the durable engine must keep activity concurrency within host.json's
// maxConcurrentActivityFunctions while actually running activities side by side.
import { beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { sourceIdentity } from '../../../shared/staging/identity.js';
import { contentDerivedName } from '../../../shared/staging/names.js';
import { outboxBlobNames } from '../../../shared/workflow/outboxNames.js';
import {
  adminPost,
  blobService,
  type CompactMatch,
  type DurableStatus,
  durableHostSettings,
  getMatch,
  type HostStatus,
  hostStatus,
  listInstances,
  readBlobText,
  type SimulatorRequests,
  simulatorJobs,
  simulatorRequests,
  type Upload,
  uploadAll,
  useTestApp,
  waitForTerminal,
} from './helpers.js';

const UPLOADS = 100;
// 600 virtual ms per real ms: a GEM job of a few dozen rows (1 min queued + 5 min minimum run) takes ~0.6 s,
// while the 48 h monitor deadline stays minutes away in real time.
const TIME_SCALE = 600;

const t = useTestApp('load', { timeScale: TIME_SCALE });
let uploads: Upload[];
let finished: Map<string, DurableStatus>;
let matches: CompactMatch[];
let requests: SimulatorRequests;
let status: HostStatus;

beforeAll(async () => {
  const { app } = t;
  // Throttling and server errors on every GET (status reads, credentials, job list, job polls). Rules are
  // tried in order: 10 % of GETs get 429 with Retry-After: 1, then 5 % of the rest get 500.
  await adminPost(app, '/faults', [
    { route: '*', method: 'GET', status: 429, retryAfterSeconds: 1, probability: 0.1 },
    { route: '*', method: 'GET', status: 500, probability: 0.05 },
  ]);
  const files = Array.from({ length: UPLOADS }, (_, i) => ({
    name: `load/roads-${String(i).padStart(3, '0')}.parquet`,
    bytes: roadMatchingSample('valid', { rows: 20 + (i % 31), seed: 1000 + i }),
  }));
  uploads = await uploadAll(app, files);
  finished = await waitForTerminal(
    app,
    uploads.map((u) => u.instanceId),
    150_000,
  ).catch((error: Error) => {
    console.error(`${error.message}\nlast host lines:\n${t.lines.slice(-40).join('\n')}`);
    throw error;
  });
  matches = await Promise.all(uploads.map((u) => getMatch(app, u.instanceId)));
  requests = await simulatorRequests(app);
  status = await hostStatus(app);
  console.log(
    `[load] activities ${JSON.stringify(status.durable?.activities)}; TomTom in flight max ${requests.inFlight.max}; ` +
      `simulator statuses ${JSON.stringify(requests.byStatus)}`,
  );
}, 200_000);

describe('100 uploads at once, with throttling and server errors', () => {
  it('completes every match with outcome succeeded and delivers results and summary', async () => {
    expect(new Set(uploads.map((u) => u.instanceId)).size).toBe(UPLOADS);
    expect(finished.size).toBe(UPLOADS);
    const notSucceeded = matches.filter((m) => m.runtimeStatus !== 'Completed' || m.outcome !== 'succeeded');
    expect(
      notSucceeded.map((m) => `${m.id}: ${m.runtimeStatus}/${m.outcome} ${m.error?.message ?? ''}`),
    ).toEqual([]);
    const outbox = blobService(t.app).getContainerClient(t.app.stack.info.outboxContainer);
    const present = new Set<string>();
    for await (const blob of outbox.listBlobsFlat({ prefix: 'load/' })) present.add(blob.name);
    for (const upload of uploads) {
      const names = outboxBlobNames(upload.outbox);
      expect(present.has(names.results), names.results).toBe(true);
      expect(present.has(names.summary), names.summary).toBe(true);
      expect(present.has(names.error), names.error).toBe(false);
    }
  });

  it('submits exactly one GEM job per input file (no duplicates)', async () => {
    const jobs = await simulatorJobs(t.app);
    expect(jobs).toHaveLength(UPLOADS);
    // Each upload is staged under the name its source identity gives it (the blob's version, read from its
    // properties: shared/staging/identity.ts); GEM must have exactly one job for each.
    const inbox = blobService(t.app).getContainerClient(t.app.stack.info.inboxContainer);
    const expected = (
      await Promise.all(
        uploads.map(async (u) => {
          const blob = inbox.getBlobClient(u.name);
          return contentDerivedName(u.name, sourceIdentity(blob, await blob.getProperties()).contentId);
        }),
      )
    ).sort();
    expect(jobs.map((j) => j.input_filename).sort()).toEqual(expected);
    expect(jobs.every((j) => j.status === 'SUCCESS')).toBe(true);
    // And each match followed its own job: the job ids reported per match are the simulator's, all distinct.
    const jobIds = matches.map((m) => m.jobId);
    expect(new Set(jobIds).size).toBe(UPLOADS);
    expect(new Set(jobIds)).toEqual(new Set(jobs.map((j) => j.job_id)));
    // A summary names the job it reports on.
    const sample = uploads[17]!;
    const summary = JSON.parse(
      await readBlobText(t.app, t.app.stack.info.outboxContainer, outboxBlobNames(sample.outbox).summary),
    ) as { job: { jobId: number }; outcome: string };
    expect(summary.outcome).toBe('succeeded');
    expect(summary.job.jobId).toBe(matches[17]!.jobId);
  });

  it('started one orchestration per upload, even with the sweep re-scanning the inbox', async () => {
    const matchInstances = (await listInstances(t.app)).filter((s) => s.name === 'matchFile');
    expect(matchInstances).toHaveLength(UPLOADS);
  });

  it('keeps activity concurrency within maxConcurrentActivityFunctions, and really runs activities in parallel', () => {
    const limit = durableHostSettings().maxConcurrentActivityFunctions;
    const activities = status.durable!.activities;
    // The host read the limit from host.json, and the gauge measured the invocations themselves.
    expect(activities.limit).toBe(limit);
    expect(activities.invocations).toBeGreaterThanOrEqual(UPLOADS * 5); // validate, stage, submit, poll, deliver
    expect(activities.peak).toBeLessThanOrEqual(limit);
    expect(activities.peak).toBeGreaterThan(1);
    // An outside view of the same bound: each activity sends its TomTom requests one at a time, so the
    // simulator never has more of them in flight than activities running.
    expect(requests.inFlight.max).toBeGreaterThanOrEqual(1);
    expect(requests.inFlight.max).toBeLessThanOrEqual(limit);
  });

  it('really injected 429s and 500s, and absorbed them', () => {
    const s429 = requests.byStatus['429'] ?? 0;
    const s500 = requests.byStatus['500'] ?? 0;
    expect(s429).toBeGreaterThan(0);
    expect(s500).toBeGreaterThan(0);
    // Every job poll route saw faults, yet every match completed (asserted above), and after the faults
    // the same routes answered 200.
    const polls = requests.byRouteAndStatus['GET /jobs/{id}'] ?? {};
    expect((polls['429'] ?? 0) + (polls['500'] ?? 0)).toBeGreaterThan(0);
    expect(polls['200'] ?? 0).toBeGreaterThanOrEqual(UPLOADS);
  });
});
