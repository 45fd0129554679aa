// Outputs belong to one run, end to end through the unmodified app on the local host: names the old rules
// reduced alike get documents of their own, a re-upload while the first run is still monitoring keeps its
// results as the latest even though the first run finishes after it, and seven concurrent matches of one blob
// each send a callback carrying their own summary.
//
// GEM job durations are set per segment (20 s of virtual time per row, at least 5 min) so that a large upload
// takes far longer than a small one; at time scale 600 that is 2 s of real time per 60 rows.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { SIGNATURE_HEADER, verifySignature } from '../../../shared/workflow/notify.js';
import { nameKeyFor } from '../../../shared/workflow/outboxNames.js';
import {
  api,
  type CallbackReceiver,
  readLatest,
  readOutbox,
  readOutboxJson,
  readParquet,
  runDocuments,
  startCallbackReceiver,
  uploadInbox,
  useApp,
  waitForMatch,
  waitUntil,
} from '../harness.js';

const app = useApp({
  name: 'outputs',
  timeScale: 600,
  // For `npm run outbox`, which finds the stack through stack.json.
  writeStackJson: true,
  jobDurations: { queuedMs: 10_000, perSegmentMs: 20_000, minRunningMs: 5 * 60_000 },
});
let receiver: CallbackReceiver;

beforeAll(async () => {
  receiver = await startCallbackReceiver();
});

afterAll(async () => {
  receiver?.close();
});

interface Summary {
  instanceId: string;
  input: { source: { blobName?: string } };
  statistics: { num_roads_processed: number };
  outputs: { results: string; summary: string };
}

const idsOf = async (bytes: Uint8Array | Buffer) =>
  new Set((await readParquet(bytes)).map((row) => String(row.id)));

describe('names the old rules reduced alike', () => {
  it('my roads / my-roads and 路线 / дороги each get their own documents', async () => {
    const names = ['my roads.parquet', 'my-roads.parquet', '路线.parquet', 'дороги.parquet'];
    const uploads = await Promise.all(
      names.map((name, i) =>
        uploadInbox(app, name, roadMatchingSample('valid', { rows: 10 + i, seed: 60 + i })),
      ),
    );
    const statuses = await Promise.all(uploads.map((u) => waitForMatch(app, u.matchId)));
    expect(statuses.map((s) => s.outcome)).toEqual(names.map(() => 'succeeded'));

    expect(new Set(names.map((n) => nameKeyFor('inbox', n))).size).toBe(4);
    for (const [i, upload] of uploads.entries()) {
      const documents = runDocuments(upload.name, upload.matchId);
      expect(statuses[i]!.outputs.results?.blob).toBe(documents.results);
      const summary = await readOutboxJson<Summary>(app, documents.summary);
      expect(summary).toMatchObject({
        instanceId: upload.matchId,
        input: { source: { blobName: upload.name } },
        statistics: { num_roads_processed: 10 + i },
      });
      expect(await readLatest(app, upload.name)).toMatchObject({ run: upload.matchId, outcome: 'succeeded' });
      const results = await readOutbox(app, documents.results);
      const inputIds = await idsOf(roadMatchingSample('valid', { rows: 10 + i, seed: 60 + i }));
      for (const id of await idsOf(results!)) expect(inputIds.has(id)).toBe(true);
    }
    // Readable: each key starts with the stem in its own script.
    expect(names.map((n) => nameKeyFor('inbox', n).replace(/-[0-9a-f]{12}$/, ''))).toEqual([
      'my-roads',
      'my-roads',
      '路线',
      'дороги',
    ]);
  });
});

describe('a re-upload while the first run is still monitoring', () => {
  it('keeps the newer run as latest when the older run finishes after it', async () => {
    const name = 'reupload.parquet';
    const firstBytes = roadMatchingSample('valid', { rows: 400, seed: 71 });
    const secondBytes = roadMatchingSample('valid', { rows: 20, seed: 72 });
    const first = await uploadInbox(app, name, firstBytes);
    await waitForMatch(app, first.matchId, { until: (s) => s.phase === 'monitoring' });

    const second = await uploadInbox(app, name, secondBytes);
    expect(second.matchId).not.toBe(first.matchId);
    const secondStatus = await waitForMatch(app, second.matchId);
    expect(secondStatus.outcome).toBe('succeeded');
    const secondDocuments = runDocuments(name, second.matchId);
    const secondResults = await readOutbox(app, secondDocuments.results);

    const firstStatus = await waitForMatch(app, first.matchId, { timeoutMs: 90_000 });
    expect(firstStatus.outcome).toBe('succeeded');
    // The scenario itself: the older run delivered after the newer one.
    const firstSummary = await readOutboxJson<Summary & { timings: { completedAt: string } }>(
      app,
      runDocuments(name, first.matchId).summary,
    );
    const secondSummary = await readOutboxJson<Summary & { timings: { completedAt: string } }>(
      app,
      secondDocuments.summary,
    );
    expect(Date.parse(firstSummary!.timings.completedAt)).toBeGreaterThan(
      Date.parse(secondSummary!.timings.completedAt),
    );

    // latest.json still names the newer run, whose 20-row results are untouched.
    expect(await readLatest(app, name)).toMatchObject({
      run: second.matchId,
      outputs: { results: secondDocuments.results },
    });
    const latestResults = await readOutbox(app, secondDocuments.results);
    expect(Buffer.compare(latestResults!, secondResults!)).toBe(0);
    expect(secondSummary!.statistics.num_roads_processed).toBe(20);
    const secondIds = await idsOf(secondBytes);
    for (const id of await idsOf(latestResults!)) expect(secondIds.has(id)).toBe(true);

    // The older run's own documents are in its own folder, and its status points there.
    expect(firstSummary).toMatchObject({
      instanceId: first.matchId,
      statistics: { num_roads_processed: 400 },
    });
    expect(firstStatus.outputs.results?.blob).toBe(runDocuments(name, first.matchId).results);
    expect(firstStatus.outputs.results?.blob).not.toBe(secondDocuments.results);
  }, 150_000);
});

describe('seven concurrent matches of one blob', () => {
  it('each send a callback with their own summary', async () => {
    const name = 'seven.parquet';
    await uploadInbox(app, name, roadMatchingSample('valid', { rows: 15, seed: 81 }));
    const before = receiver.received.length;
    const responses = await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        api(app).post('/api/matches', {
          inboxBlob: name,
          idempotencyKey: `seven-${i}`,
          callbackUrl: receiver.url,
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(7).fill(202));
    const ids = responses.map((r) => r.body.id as string);
    expect(new Set(ids).size).toBe(7);
    const statuses = await Promise.all(ids.map((id) => waitForMatch(app, id, { timeoutMs: 90_000 })));
    expect(statuses.map((s) => s.notification?.delivered)).toEqual(Array(7).fill(true));

    await waitUntil(() => (receiver.received.length >= before + 7 ? true : undefined), 'seven callbacks');
    const calls = receiver.received.slice(before);
    expect(calls).toHaveLength(7);
    const secret = app.stack.settings.NOTIFY_SIGNING_SECRET!;
    const sent = calls.map((call) => {
      expect(
        verifySignature(call.body, String(call.headers[SIGNATURE_HEADER]), secret, { now: new Date() }),
      ).toBe(true);
      return JSON.parse(call.body) as Summary;
    });
    expect(sent.map((s) => s.instanceId).sort()).toEqual([...ids].sort());
    for (const summary of sent) {
      const documents = runDocuments(name, summary.instanceId);
      expect(summary.outputs).toMatchObject({ results: documents.results, summary: documents.summary });
      // What was sent is exactly what that run wrote in its own folder.
      expect(summary).toEqual(await readOutboxJson(app, documents.summary));
    }
  }, 150_000);
});

describe('npm run outbox', () => {
  /** The script as `npm run outbox -- …` runs it, against this app's stack.json. */
  const outboxScript = async (...args: string[]) =>
    (
      await promisify(execFile)(
        process.execPath,
        [join(__dirname, '../../../dist/local/outbox.js'), ...args],
        {
          env: { ...process.env, GEMFLOW_LOCAL_DIR: app.dir },
        },
      )
    ).stdout;

  it('--latest finds the newest run of an input name, and its documents', async () => {
    const name = 'cli roads.parquet';
    const upload = await uploadInbox(app, name, roadMatchingSample('valid', { rows: 11, seed: 91 }));
    await waitForMatch(app, upload.matchId);
    const documents = runDocuments(name, upload.matchId);

    expect(JSON.parse(await outboxScript('--latest', name))).toMatchObject({ run: upload.matchId });
    expect(JSON.parse(await outboxScript('--latest', name, 'summary'))).toMatchObject({
      instanceId: upload.matchId,
    });
    const saved = join(app.dir, 'latest.parquet');
    expect(await outboxScript('--latest', name, 'results', saved)).toContain(documents.results);
    const inputIds = await idsOf(roadMatchingSample('valid', { rows: 11, seed: 91 }));
    const savedIds = await idsOf(await readFile(saved));
    expect(savedIds.size).toBeGreaterThan(0);
    for (const id of savedIds) expect(inputIds.has(id)).toBe(true);
    expect(await outboxScript()).toContain(`${documents.summary}\n`);
    await expect(outboxScript('--latest', name, 'error')).rejects.toThrow(
      /has no error; it has results, summary/,
    );
  });
});
