// Incremental re-matching end to end, through the unmodified app on the local host: a dataset of 20,000 roads
// is matched in full, then its next version (1 % of the rows changed in geometry or navigability, a few added,
// a few deleted) is uploaded under the same name with incremental on. The simulator's job for it reads exactly
// the changed and new rows (read back here from PDG storage), and its enriched output equals, feature by
// feature, that of a full re-run of the same version. A run against another Overture release matches everything.
import { describe, expect, it } from 'vitest';
import {
  encodeRoadMatchingRecords,
  type RoadSampleRecords,
  roadMatchingRecords,
} from '../../../local/standins/samples.js';
import type { SummaryDocument } from '../../../shared/workflow/summary.js';
import {
  api,
  type CompactMatchStatus,
  readOutbox,
  readOutboxJson,
  readParquet,
  readPdgFile,
  simulatorAdmin,
  type TestApp,
  uploadInbox,
  useApp,
  waitForMatch,
} from '../harness.js';

// Full runs of 20,000 roads are split into 3 parts (GEM_MAX_ROADS_PER_JOB), so the previous run's results are
// themselves a merge; the 230-row delta is one job.
const app = useApp({ name: 'incremental', timeScale: 1800, env: { GEM_MAX_ROADS_PER_JOB: '8000' } });

const NAME = 'monthly/roads.parquet';
const ROWS = 20_000;
const CHANGED_GEOMETRY = 100;
const CHANGED_NAVIGABILITY = 100;
const ADDED = 30;
const DELETED = 20;

/** The next version: 1 % of the rows changed (every 100th: half moved, half navigability flipped), some added, some deleted. */
function nextVersion(previous: RoadSampleRecords, additions: RoadSampleRecords): RoadSampleRecords {
  const ids = [...previous.ids!];
  const geometries = [...previous.geometries!];
  const isNavigable = [...previous.isNavigable!];
  for (let k = 0; k < CHANGED_GEOMETRY + CHANGED_NAVIGABILITY; k++) {
    const row = 50 + k * 100;
    if (k % 2 === 0) geometries[row] = geometries[row]!.replace('LINESTRING (4.', 'LINESTRING (5.');
    else isNavigable[row] = !(isNavigable[row] ?? false);
  }
  // Deleted: rows 99, 199, …; added: the additions' rows with ids the previous version did not have.
  const kept = ids.map((_, i) => i).filter((i) => !(i % 100 === 99 && i < DELETED * 100));
  return {
    ...previous,
    ids: [...kept.map((i) => ids[i]!), ...additions.ids!.slice(0, ADDED).map((id) => `new-${String(id)}`)],
    geometries: [...kept.map((i) => geometries[i]!), ...additions.geometries!.slice(0, ADDED)],
    isNavigable: [...kept.map((i) => isNavigable[i]!), ...additions.isNavigable!.slice(0, ADDED)],
    idType: 'string',
  };
}

const asStrings = (records: RoadSampleRecords): RoadSampleRecords => ({
  ...records,
  ids: records.ids!.map(String),
  idType: 'string',
});

async function summaryOf(app: TestApp, status: CompactMatchStatus): Promise<SummaryDocument> {
  expect(status.outcome, JSON.stringify(status)).toBe('succeeded');
  return (await readOutboxJson<SummaryDocument>(app, status.outputs.summary!.blob))!;
}

/** The ids of the file the simulator's job `jobId` read from PDG storage. */
async function jobInputIds(app: TestApp, jobId: number): Promise<string[]> {
  const job = (await simulatorAdmin(app).jobs()).find((j) => j.job_id === jobId);
  expect(job, `simulator job ${jobId}`).toBeDefined();
  const rows = await readParquet((await readPdgFile(app, job!.input_filename))!);
  return rows.map((row) => String(row.id));
}

/** The ids every GEM job of a match read: its one job, or each of its parts' jobs. */
async function matchInputIds(app: TestApp, status: CompactMatchStatus): Promise<string[]> {
  if (!status.parts) return jobInputIds(app, status.jobId!);
  expect(status.parts.listed).toBe(status.parts.total);
  const ids: string[] = [];
  for (const part of status.parts.list) ids.push(...(await jobInputIds(app, part.jobId!)));
  return ids;
}

async function startByHttp(body: Record<string, unknown>): Promise<CompactMatchStatus> {
  const started = await api(app).post('/api/matches', { inboxBlob: NAME, ...body });
  expect(started.status, started.text).toBe(202);
  return waitForMatch(app, started.body.id, { timeoutMs: 120_000 });
}

/** The second version, and what its full re-run delivered: the later tests compare with them. */
const secondVersion = {} as {
  records: RoadSampleRecords;
  noChangeRun: string;
  bytes: Uint8Array;
  fullRerun: { id: string; features: Record<string, unknown>[]; counts: SummaryDocument['counts'] };
};

describe('incremental re-matching', () => {
  it('sends GEM only the changed and new rows, and delivers what a full re-run delivers', async () => {
    const first = asStrings(roadMatchingRecords('valid', { rows: ROWS, seed: 21 }));
    const upload = await uploadInbox(app, NAME, encodeRoadMatchingRecords(first, 5_000), {
      incremental: 'true',
    });
    const firstStatus = await waitForMatch(app, upload.matchId, { timeoutMs: 120_000 });
    expect(firstStatus.parts?.total).toBe(3);
    const full = await summaryOf(app, firstStatus);
    expect(full.incremental).toEqual({
      applied: false,
      reason: 'this input name has no earlier run to compare with',
      previousMatchId: null,
    });

    const next = nextVersion(first, roadMatchingRecords('valid', { rows: ADDED + 4, seed: 22 }));
    secondVersion.records = next;
    secondVersion.bytes = encodeRoadMatchingRecords(next, 5_000);
    const uploadNext = await uploadInbox(app, NAME, secondVersion.bytes, { incremental: 'true' });
    const incrementalStatus = await waitForMatch(app, uploadNext.matchId, { timeoutMs: 120_000 });
    const incremental = await summaryOf(app, incrementalStatus);

    const changed = CHANGED_GEOMETRY + CHANGED_NAVIGABILITY;
    expect(incremental.incremental).toEqual({
      applied: true,
      previousMatchId: upload.matchId,
      unchanged: ROWS - changed - DELETED,
      changed,
      new: ADDED,
      deleted: DELETED,
      gemRowsSubmitted: changed + ADDED,
      gemHoursAvoided: expect.any(Number),
    });
    expect(incrementalStatus.incremental).toEqual(incremental.incremental);
    expect(incrementalStatus.parts).toBeNull();
    // Exactly the changed and new rows went to GEM, in the file's order.
    const rowOf = new Map(first.ids!.map((id, row) => [String(id), row]));
    const sent = next.ids!.map(String).filter((id, i) => {
      const before = rowOf.get(id);
      return (
        before === undefined ||
        first.geometries![before] !== next.geometries![i] ||
        first.isNavigable![before] !== next.isNavigable![i]
      );
    });
    expect(sent).toHaveLength(changed + ADDED);
    expect(await jobInputIds(app, incrementalStatus.jobId!)).toEqual(sent);

    // The same version matched in full, as a new run of the same file.
    const fullRerun = await startByHttp({ idempotencyKey: 'full-rerun', incremental: false });
    expect(fullRerun.parts?.total).toBe(3);
    expect((await matchInputIds(app, fullRerun)).sort()).toEqual(next.ids!.map(String).sort());
    const fullSummary = await summaryOf(app, fullRerun);
    expect(fullSummary.incremental).toBeNull();

    const matched = async (status: CompactMatchStatus) =>
      readParquet((await readOutbox(app, status.outputs.matched!.blob))!);
    const incrementalFeatures = await matched(incrementalStatus);
    expect(incrementalFeatures).toHaveLength(next.ids!.length);
    const fullFeatures = await matched(fullRerun);
    expect(incrementalFeatures).toEqual(fullFeatures);
    expect(incremental.counts).toEqual(fullSummary.counts);
    secondVersion.fullRerun = { id: fullRerun.id, features: fullFeatures, counts: fullSummary.counts };
    // The raw results hold the same rows (carried first, then GEM's for the delta: the order differs).
    const sortedResults = async (status: CompactMatchStatus) =>
      (await readParquet((await readOutbox(app, status.outputs.results!.blob))!))
        .map((row) => JSON.stringify(row))
        .sort();
    expect(await sortedResults(incrementalStatus)).toEqual(await sortedResults(fullRerun));
  });

  it('submits no GEM job when nothing changed, and delivers the carried results alone', async () => {
    // The same bytes again (a new upload, a new etag): compared with the latest run, the full re-run.
    const same = await uploadInbox(app, NAME, secondVersion.bytes, { incremental: 'true' });
    const status = await waitForMatch(app, same.matchId, { timeoutMs: 120_000 });
    const summary = await summaryOf(app, status);
    expect(summary.incremental).toMatchObject({
      applied: true,
      previousMatchId: secondVersion.fullRerun.id,
      changed: 0,
      new: 0,
      deleted: 0,
      gemRowsSubmitted: 0,
    });
    expect(status.jobId).toBeNull();
    secondVersion.noChangeRun = same.matchId;
    expect(summary.job.jobId).toBeNull();
    const features = await readParquet((await readOutbox(app, status.outputs.matched!.blob))!);
    expect(features).toEqual(secondVersion.fullRerun.features);
    expect(summary.counts).toEqual(secondVersion.fullRerun.counts);
  });

  it('matches every row again when the previous run used another Overture release', async () => {
    const status = await startByHttp({
      idempotencyKey: 'other-release',
      overtureRelease: '2026-02-18.0',
      incremental: true,
    });
    const summary = await summaryOf(app, status);
    expect(summary.incremental).toEqual({
      applied: false,
      reason: expect.stringMatching(
        /matched Overture release .*, this run 2026-02-18\.0: every road is matched again/,
      ),
      previousMatchId: expect.stringMatching(/^match-/),
    });
    const rows = ROWS - DELETED + ADDED;
    expect(await matchInputIds(app, status)).toHaveLength(rows);
  });

  it('splits a delta larger than GEM_MAX_ROADS_PER_JOB into parts, and still delivers what a full re-run delivers', async () => {
    // Half the roads moved: a 10,000-row delta, over the 8,000 of one job. Compared with the unchanged re-upload,
    // named by id (the latest run is the one of another release).
    const previous = secondVersion.records;
    const third: RoadSampleRecords = {
      ...previous,
      geometries: previous.geometries!.map((wkt, i) =>
        i % 2 === 0 ? wkt.replace('LINESTRING (4.', 'LINESTRING (3.') : wkt,
      ),
    };
    const changed = third.geometries!.filter((wkt, i) => wkt !== previous.geometries![i]).length;
    expect(changed).toBeGreaterThan(8_000);
    const upload = await uploadInbox(app, NAME, encodeRoadMatchingRecords(third, 5_000), {
      previousmatchid: secondVersion.noChangeRun,
    });
    const status = await waitForMatch(app, upload.matchId, { timeoutMs: 120_000 });
    const summary = await summaryOf(app, status);
    expect(summary.incremental).toMatchObject({
      applied: true,
      previousMatchId: secondVersion.noChangeRun,
      changed,
      new: 0,
      deleted: 0,
      gemRowsSubmitted: changed,
    });
    expect(status.parts?.total).toBe(2);
    expect(await matchInputIds(app, status)).toHaveLength(changed);

    const full = await startByHttp({ idempotencyKey: 'full-rerun-third', incremental: false });
    const features = async (s: CompactMatchStatus) =>
      readParquet((await readOutbox(app, s.outputs.matched!.blob))!);
    expect(await features(status)).toEqual(await features(full));
    expect(summary.counts).toEqual((await summaryOf(app, full)).counts);
  });
});
