// Bounded growth: the retention timer purges finished matches older than MATCH_RETENTION_DAYS and moves the
// inbox files they read into the archive container. A match still running past the window stays, as does a
// recent one and every outbox document; the sweep, running all along, starts nothing for an archived file;
// a new upload under the same name is a new match; a second run does no harm.
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import {
  api,
  type CompactMatchStatus,
  durableInstance,
  getMatch,
  readOutbox,
  runDocuments,
  runFunctionNow,
  simulatorAdmin,
  uploadInbox,
  useApp,
  waitForMatch,
  waitForSweeps,
  waitUntil,
} from '../harness.js';

const SCALE = 600;
// 2.4 virtual hours, 14.4 real seconds at this scale.
const RETENTION_DAYS = 0.1;
const WINDOW_MS = RETENTION_DAYS * 86_400_000;

const app = useApp({
  name: 'retention',
  timeScale: SCALE,
  // The timer only runs when the test says so; the sweep keeps its 15-virtual-minute schedule.
  env: { MATCH_RETENTION_DAYS: String(RETENTION_DAYS), RETENTION_SCHEDULE: '0 0 0 1 1 *' },
  // A segment takes 36 virtual seconds: 10 roads finish in minutes, 2,000 roads run for 20 hours.
  jobDurations: { queuedMs: 60_000, minRunningMs: 5 * 60_000, perSegmentMs: 36_000 },
});
let inbox: ContainerClient;
let archive: ContainerClient;

beforeAll(async () => {
  const service = BlobServiceClient.fromConnectionString(app.stack.info.storageConnectionString);
  inbox = service.getContainerClient(app.stack.info.inboxContainer);
  archive = service.getContainerClient(app.stack.info.archiveContainer);
});

const virtualNow = () => app.stack.info.epochMs + (Date.now() - app.stack.info.epochMs) * SCALE;
const sweepLines = () => app.hostLog.filter((line) => /\bSweep: inventory/.test(line));
const exists = (container: ContainerClient, name: string) => container.getBlobClient(name).exists();

interface RetentionOutput {
  cutoff: string;
  examined: number;
  purged: number;
  archived: number;
  keptActive: number;
}

/** Runs the retention timer now and waits for the run it started (a later cutoff than `after`). */
async function runRetention(after?: string): Promise<RetentionOutput> {
  expect(await runFunctionNow(app, 'retention')).toBe(202);
  return waitUntil(async () => {
    const run = await durableInstance<RetentionOutput>(app, 'retention').catch(() => undefined);
    if (run?.runtimeStatus !== 'Completed') return undefined;
    return after === undefined || run.output.cutoff > after ? run.output : undefined;
  }, 'the retention run');
}

const runningJob = (s: CompactMatchStatus) => s.phase === 'monitoring' && s.gemStatus === 'IN_PROGRESS';

describe('retention', () => {
  it('purges and archives what is past the window, keeps the rest, and a re-upload is a new match', async () => {
    const oldBytes = roadMatchingSample('valid', { rows: 10, seed: 61 });
    const old = await uploadInbox(app, 'old.parquet', oldBytes);
    const long = await uploadInbox(
      app,
      'long.parquet',
      roadMatchingSample('valid', { rows: 2000, seed: 62 }),
    );
    const oldDone = await waitForMatch(app, old.matchId);
    expect(oldDone).toMatchObject({ runtimeStatus: 'Completed', outcome: 'succeeded' });
    await waitForMatch(app, long.matchId, { until: runningJob, timeoutMs: 60_000 });

    // Past the window for both, in the task hub's (virtual) time; then one recent match.
    const due = Math.max(
      Date.parse(oldDone.createdTime),
      Date.parse((await getMatch(app, long.matchId))!.createdTime),
    );
    await waitUntil(
      () => (virtualNow() > due + WINDOW_MS + 60_000 ? true : undefined),
      'the window to pass',
      60_000,
      250,
    );
    const young = await uploadInbox(
      app,
      'young.parquet',
      roadMatchingSample('valid', { rows: 10, seed: 63 }),
    );
    expect(await waitForMatch(app, young.matchId)).toMatchObject({ runtimeStatus: 'Completed' });
    const jobsBefore = (await simulatorAdmin(app).jobs()).length;

    const first = await runRetention();
    expect(first).toMatchObject({ purged: 1, archived: 1 });

    // Purged and archived, byte for byte, under the id of the match that read it; its outbox documents stay.
    expect(await getMatch(app, old.matchId)).toBeUndefined();
    expect(await exists(inbox, 'old.parquet')).toBe(false);
    const archived = await archive.getBlobClient(`${old.matchId}/old.parquet`).downloadToBuffer();
    expect(new Uint8Array(archived)).toEqual(oldBytes);
    const oldRun = runDocuments('old.parquet', old.matchId);
    expect(await readOutbox(app, oldRun.results)).toBeDefined();
    expect(await readOutbox(app, oldRun.summary)).toBeDefined();
    // Still running past the window: kept, with its input. Recent: kept.
    expect(await getMatch(app, long.matchId)).toMatchObject({ runtimeStatus: 'Running' });
    expect(await exists(inbox, 'long.parquet')).toBe(true);
    expect(await getMatch(app, young.matchId)).toMatchObject({ runtimeStatus: 'Completed' });
    expect(await exists(inbox, 'young.parquet')).toBe(true);
    const listed = await api(app).get<{ matches: CompactMatchStatus[] }>(
      `/api/matches?createdFrom=${new Date(app.stack.info.epochMs - 86_400_000).toISOString()}`,
    );
    expect(listed.body.matches.map((m) => m.id).sort()).toEqual([long.matchId, young.matchId].sort());

    // The sweep keeps running and finds nothing to restart (and, doing nothing, prints nothing).
    const seen = sweepLines().length;
    for (const report of await waitForSweeps(app, 2, 'two more sweeps'))
      expect(report.inbox.started).toEqual([]);
    expect(sweepLines().slice(seen)).toEqual([]);
    expect(await simulatorAdmin(app).jobs()).toHaveLength(jobsBefore);

    // The same name uploaded again (same bytes even): a new upload, a new match.
    const again = await uploadInbox(app, 'old.parquet', oldBytes);
    expect(again.matchId).not.toBe(old.matchId);
    expect(await waitForMatch(app, again.matchId)).toMatchObject({
      runtimeStatus: 'Completed',
      outcome: 'succeeded',
    });

    // A second run finds nothing due and changes nothing.
    const second = await runRetention(first.cutoff);
    expect(second).toMatchObject({ purged: 0, archived: 0 });
    expect(await getMatch(app, long.matchId)).toMatchObject({ runtimeStatus: 'Running' });
    expect(await getMatch(app, again.matchId)).toMatchObject({ runtimeStatus: 'Completed' });
    expect(await exists(inbox, 'old.parquet')).toBe(true);
    expect(await exists(archive, `${old.matchId}/old.parquet`)).toBe(true);
  });
});
