// One file's journey end to end, through the unmodified app on the local host: a valid upload is matched and
// delivered, invalid uploads are reported without any GEM job, a GEM failure is reported in GEM's words, and the
// optional signed callback reaches its receiver (or fails without failing the match).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startMatchTalk } from '../../../local/matchTalk.js';
import { roadMatchingRecords, roadMatchingSample } from '../../../local/standins/samples.js';
import { SIGNATURE_HEADER, verifySignature } from '../../../shared/workflow/notify.js';
import {
  durableInstance,
  readLatest,
  readOutbox,
  readOutboxJson,
  readParquet,
  readPdgFile,
  routeCount,
  runDocuments,
  simulatorAdmin,
  uploadInbox,
  useApp,
  waitForMatch,
} from '../harness.js';

// Two callback attempts keep the failing-receiver case short (the retry delay is real time).
const app = useApp({ name: 'pipeline', timeScale: 600, env: { NOTIFY_MAX_ATTEMPTS: '2' } });

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A callback receiver on loopback answering every POST with `status`. */
async function callbackServer(
  status: number,
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/gem`, received, server };
}

describe('a valid upload', () => {
  it('delivers the results and a summary that agree with the GEM job', async () => {
    const rows = 40;
    // What npm start prints, from the status API: one line per phase, then where the outputs are.
    const talked: string[] = [];
    const talk = startMatchTalk({
      baseUrl: app.baseUrl,
      functionKey: app.keys.functionKey,
      clock: app.stack.clock,
      print: (line) => talked.push(line),
      intervalMs: 200,
    });
    await talk.poll();
    const upload = await uploadInbox(
      app,
      'valid-roads.parquet',
      roadMatchingSample('valid', { rows, seed: 7 }),
    );

    const status = await waitForMatch(app, upload.matchId);
    await talk.poll();
    talk.close();
    const mine = talked.filter((line) => line.startsWith(`[match] ${upload.matchId} `));
    const phases = mine.map((line) => line.split(' ')[2]!.replace(/,$/, ''));
    for (const phase of ['validating', 'staging', 'submitting', 'monitoring', 'delivering', 'completed']) {
      expect(phases, mine.join('\n')).toContain(phase);
    }
    expect(
      mine.find((line) => / monitoring, GEM job \d+ /.test(line)),
      mine.join('\n'),
    ).toMatch(/ETA \S+Z/);
    expect(mine.at(-1)).toContain(`completed succeeded (GEM job ${status.jobId} SUCCESS)`);
    expect(mine.at(-1)).toContain(
      runDocuments('valid-roads.parquet', upload.matchId).summary.replace(/[^/]*$/, ''),
    );
    expect(status).toMatchObject({ id: upload.matchId, runtimeStatus: 'Completed', phase: 'completed' });
    expect(status.outcome).toBe('succeeded');
    expect(status.jobId).toEqual(expect.any(Number));

    const job = (await simulatorAdmin(app).jobs()).find((j) => j.job_id === status.jobId);
    expect(job, 'the status names a job the simulator holds').toBeDefined();
    expect(job!.status).toBe('SUCCESS');
    expect(job!.result_filename).toEqual(expect.any(String));

    const documents = runDocuments('valid-roads.parquet', upload.matchId);
    const summary = await readOutboxJson<{
      statistics: unknown;
      instanceId: string;
      job: unknown;
      timings: { requestedAt: string; completedAt: string; durations: { totalSeconds: number } };
      counts: unknown;
    }>(app, documents.summary);
    expect(summary, `outbox/${documents.summary}`).toBeDefined();
    // One clock at 600×: the total is completed − requested, and requested is the instance's own creation on
    // the task hub's clock (within a second), not the trigger's real time days behind the virtual clock.
    const { requestedAt, completedAt, durations } = summary!.timings;
    const measured = (Date.parse(completedAt) - Date.parse(requestedAt)) / 1000;
    expect(Math.abs(durations.totalSeconds - measured)).toBeLessThanOrEqual(1);
    expect(Math.abs(Date.parse(requestedAt) - Date.parse(status.createdTime))).toBeLessThan(1000 * 600);
    expect(Date.parse(completedAt)).toBeLessThanOrEqual(Date.parse(status.lastUpdatedTime) + 1000);
    expect(summary!.statistics).toEqual(job!.statistics);
    expect(job!.statistics).toMatchObject({ num_roads_processed: rows });
    expect(summary).toMatchObject({
      kind: 'gem-flow.match-summary',
      instanceId: upload.matchId,
      job: { jobId: status.jobId, status: 'SUCCESS' },
      outputs: { gemResultFilename: job!.result_filename },
    });
    expect(status.statistics).toEqual(job!.statistics);

    const delivered = await readOutbox(app, documents.results);
    const original = await readPdgFile(app, job!.result_filename!);
    expect(delivered, `outbox/${documents.results}`).toBeDefined();
    expect(original, 'the result file in the PDG storage').toBeDefined();
    expect(Buffer.compare(delivered!, original!)).toBe(0);
    const resultRows = await readParquet(delivered!);
    expect(resultRows.length).toBeGreaterThan(0);
    const inputIds = new Set(
      (await readParquet(roadMatchingSample('valid', { rows, seed: 7 }))).map((r) => String(r.id)),
    );
    // Every result row refers to a road of the uploaded file.
    for (const row of resultRows) expect(inputIds.has(String(row.id))).toBe(true);
    expect(status.outputs).toMatchObject({
      results: { blob: documents.results },
      summary: { blob: documents.summary },
    });
    expect(await readLatest(app, 'valid-roads.parquet')).toMatchObject({
      run: upload.matchId,
      outcome: 'succeeded',
      outputs: { results: documents.results, summary: documents.summary, matched: documents.matched },
    });

    await expectEnrichedOutput(documents.matched, roadMatchingSample('valid', { rows, seed: 7 }), resultRows);
    expect(status.outputs.matched).toEqual({ blob: documents.matched });
    expect(status.counts).toMatchObject({
      inputFeatures: rows,
      gemRows: rows,
      resultRows: resultRows.length,
    });
    expect(status.counts).toMatchObject({ unjoinedResultRows: 0 });
    expect(summary!.counts).toEqual(status.counts);
  });
});

/**
 * `matched.parquet` holds every input road once, in input order, with its own columns, its geometry (GeoParquet
 * WKB, decoded here by hyparquet itself) and the enrichment GEM's raw rows imply: the best match (highest
 * confidence, then longest `lr_id` part) and `match` from the coverage of the `lr_id` ranges, worked out here
 * from the raw text on its own.
 */
async function expectEnrichedOutput(
  blob: string,
  input: Uint8Array,
  raw: Record<string, unknown>[],
): Promise<void> {
  const bytes = await readOutbox(app, blob);
  expect(bytes, `outbox/${blob}`).toBeDefined();
  const inputRows = await readParquet(input);
  const output = await readParquet(bytes!);
  expect(output).toHaveLength(inputRows.length);
  const range = (text: unknown) => (JSON.parse(String(text)) as number[]).sort((a, b) => a - b);
  const counted = { full: 0, partial: 0, unmatched: 0 };
  output.forEach((row, i) => {
    expect(row.id).toEqual(inputRows[i]!.id);
    expect(row.is_navigable).toEqual(inputRows[i]!.is_navigable);
    expect(row.geometry).toMatchObject({ type: 'LineString' });
    const own = raw.filter((r) => String(r.id) === String(row.id));
    expect(Number(row.match_count)).toBe(own.length);
    const sorted = [...own].sort((a, b) => {
      const [a0, a1] = range(a.lr_id);
      const [b0, b1] = range(b.lr_id);
      return Number(b.confidence) - Number(a.confidence) || b1! - b0! - (a1! - a0!);
    });
    expect(row.gers).toBe(sorted[0]?.gers ?? null);
    expect(row.confidence).toBe(sorted[0] ? Number(sorted[0].confidence) : null);
    // The simulator's pieces are consecutive, so their union is from the lowest start to the highest end.
    const covered =
      own.length === 0
        ? 0
        : Math.max(...own.map((r) => range(r.lr_id)[1]!)) - Math.min(...own.map((r) => range(r.lr_id)[0]!));
    const kind = own.length === 0 ? 'unmatched' : covered >= 0.99 ? 'full' : 'partial';
    expect(row.match, `road ${String(row.id)}`).toBe(kind);
    counted[kind]++;
  });
  expect(counted.unmatched, 'unmatched roads are in the output too').toBeGreaterThan(0);
  expect(counted.full).toBeGreaterThan(0);
}

describe('an invalid upload', () => {
  it.each([
    ['duplicate-ids', 'id-unique'],
    ['not-a-linestring', 'geometry-wkt-linestring'],
  ] as const)('%s → a validation report naming rows and rules, and no GEM job', async (kind, rule) => {
    const admin = simulatorAdmin(app);
    const before = await admin.requests(0);
    const jobsBefore = (await admin.jobs()).length;
    const name = `bad-${kind}.parquet`;
    const upload = await uploadInbox(app, name, roadMatchingSample(kind, { rows: 30, seed: 3 }));

    const status = await waitForMatch(app, upload.matchId);
    expect(status).toMatchObject({
      runtimeStatus: 'Completed',
      phase: 'invalid-input',
      outcome: 'invalid-input',
    });
    expect(status.jobId).toBeNull();

    const report = await readOutboxJson<{
      valid: boolean;
      problems: { row?: number; rule: string; message: string }[];
      problemCounts: Record<string, number>;
    }>(app, runDocuments(name, upload.matchId).validationReport);
    expect(report, `outbox/${runDocuments(name, upload.matchId).validationReport}`).toBeDefined();
    expect(report!.valid).toBe(false);
    const { defectRows } = roadMatchingRecords(kind, { rows: 30, seed: 3 });
    expect(defectRows.length).toBeGreaterThan(0);
    const flagged = report!.problems.filter((p) => p.rule === rule).map((p) => p.row);
    expect(flagged.sort()).toEqual([...defectRows].sort());
    expect(report!.problems.every((p) => p.rule === rule)).toBe(true);
    expect(await readOutbox(app, runDocuments(name, upload.matchId).results)).toBeUndefined();
    expect(await readLatest(app, name)).toMatchObject({ run: upload.matchId, outcome: 'invalid-input' });

    const after = await admin.requests(0);
    expect(routeCount(after, 'POST /jobs') - routeCount(before, 'POST /jobs')).toBe(0);
    expect(
      routeCount(after, 'GET /storages/{id}/credentials') -
        routeCount(before, 'GET /storages/{id}/credentials'),
      'nothing was staged',
    ).toBe(0);
    expect((await admin.jobs()).length).toBe(jobsBefore);
  });
});

describe('a job that GEM fails', () => {
  it('writes the error document with GEM message and reports phase gem-failed', async () => {
    const message = 'Road segment 5000000039 has a self-intersecting geometry; the job was aborted.';
    await simulatorAdmin(app).action({ action: 'fail-job', message });
    const upload = await uploadInbox(
      app,
      'failing.parquet',
      roadMatchingSample('valid', { rows: 20, seed: 11 }),
    );

    const status = await waitForMatch(app, upload.matchId);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', phase: 'gem-failed', outcome: 'gem-failed' });
    const job = (await simulatorAdmin(app).jobs()).find((j) => j.job_id === status.jobId);
    expect(job).toMatchObject({ status: 'FAILED', message });

    const documents = runDocuments('failing.parquet', upload.matchId);
    const error = await readOutboxJson<{ outcome: string; message: string }>(app, documents.error);
    expect(error).toMatchObject({ outcome: 'gem-failed' });
    expect(error!.message).toContain(message);
    expect(await readOutbox(app, documents.results)).toBeUndefined();
    expect(await readOutbox(app, documents.summary)).toBeUndefined();
  });

  it('tells a failure inside GEM to resubmit and report the job, not to fix the file', async () => {
    // No message: the simulator's own "internal processing error".
    await simulatorAdmin(app).action({ action: 'fail-job' });
    const name = 'failing-inside.parquet';
    const upload = await uploadInbox(app, name, roadMatchingSample('valid', { rows: 12, seed: 13 }));
    const status = await waitForMatch(app, upload.matchId);
    expect(status).toMatchObject({ phase: 'gem-failed', outcome: 'gem-failed' });
    const error = await readOutboxJson<{ message: string; remedy: string }>(
      app,
      runDocuments(name, upload.matchId).error,
    );
    expect(error!.message).toMatch(/internal processing error/);
    expect(error!.remedy).not.toMatch(/Fix the input file/);
    expect(error!.remedy).toContain(`TomTom support with job ${status.jobId}`);
  });
});

describe('a match gem-flow cannot finish', () => {
  it('leaves an error document naming the phase and the cause, and fails the instance', async () => {
    const admin = simulatorAdmin(app);
    // Every attempt of stageInput (the activity is retried) is refused the storage credentials.
    await admin.addFault({ route: 'GET /storages/{id}/credentials', status: 403, times: 8 });
    const jobsBefore = routeCount(await admin.requests(), 'POST /jobs');
    try {
      const upload = await uploadInbox(
        app,
        'refused.parquet',
        roadMatchingSample('valid', { rows: 20, seed: 12 }),
      );
      const status = await waitForMatch(app, upload.matchId);
      expect(status).toMatchObject({ runtimeStatus: 'Failed', phase: 'failed' });
      const error = await readOutboxJson<{ outcome: string; message: string; remedy: string }>(
        app,
        runDocuments('refused.parquet', upload.matchId).error,
      );
      expect(error).toMatchObject({ outcome: 'failed' });
      expect(await readLatest(app, 'refused.parquet')).toMatchObject({
        run: upload.matchId,
        outcome: 'failed',
      });
      // The activity's own message: no "Activity function … failed:" prefix, none of the Details the extension
      // adds (the host's "Result: Failure" RpcException text, the serialised exception) and no stack.
      expect(error!.message).toMatch(/^The match failed while staging: (?!Activity function).*HTTP 403/);
      expect(error!.message).not.toMatch(/\n|\bat \S+ \(|\.js:\d+|Result: Failure|\$type/);
      // GET /api/matches/{id} reads the same message out of the failed instance's output.
      expect(error!.message).toBe(`The match failed while staging: ${status.error?.message}`);
      expect(routeCount(await admin.requests(), 'POST /jobs')).toBe(jobsBefore);
    } finally {
      await admin.clearFaults();
    }
  });
});

describe('the completion callback', () => {
  it('POSTs the summary signed with the notification secret', async () => {
    const receiver = await callbackServer(200);
    try {
      // Per-file options travel as blob metadata; the upload's own event starts the match.
      const upload = await uploadInbox(
        app,
        'callback-ok.parquet',
        roadMatchingSample('valid', { rows: 12, seed: 5 }),
        { callbackurl: receiver.url },
      );
      const status = await waitForMatch(app, upload.matchId);
      expect(status).toMatchObject({ runtimeStatus: 'Completed', phase: 'completed' });

      expect(receiver.received).toHaveLength(1);
      const [call] = receiver.received;
      const signature = String(call!.headers[SIGNATURE_HEADER] ?? '');
      expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      const secret = app.stack.settings.NOTIFY_SIGNING_SECRET!;
      expect(verifySignature(call!.body, signature, secret, { now: new Date() })).toBe(true);
      expect(verifySignature(call!.body, signature, `${secret}x`, { now: new Date() })).toBe(false);
      expect(verifySignature(`${call!.body} `, signature, secret, { now: new Date() })).toBe(false);

      const sent = JSON.parse(call!.body) as { job: { jobId: number } };
      const summary = await readOutboxJson(app, runDocuments('callback-ok.parquet', upload.matchId).summary);
      expect(sent).toEqual(summary);
      expect(sent.job.jobId).toBe(status.jobId);
      const instance = await durableInstance<{ notification: unknown }>(app, upload.matchId);
      expect(instance.output.notification).toMatchObject({ delivered: true, status: 200, attempts: 1 });
    } finally {
      receiver.server.close();
    }
  });

  it('a receiver answering 500 does not fail the match; the outcome is recorded', async () => {
    const receiver = await callbackServer(500);
    try {
      // Per-file options travel as blob metadata; the upload's own event starts the match.
      const upload = await uploadInbox(
        app,
        'callback-down.parquet',
        roadMatchingSample('valid', { rows: 12, seed: 6 }),
        { callbackurl: receiver.url },
      );
      const status = await waitForMatch(app, upload.matchId);
      expect(status).toMatchObject({ runtimeStatus: 'Completed', phase: 'completed', outcome: 'succeeded' });
      expect(
        await readOutbox(app, runDocuments('callback-down.parquet', upload.matchId).results),
      ).toBeDefined();

      // NOTIFY_MAX_ATTEMPTS=2 for this app.
      expect(receiver.received).toHaveLength(2);
      const instance = await durableInstance<{ notification: unknown }>(app, upload.matchId);
      expect(instance.output.notification).toMatchObject({ delivered: false, status: 500, attempts: 2 });
    } finally {
      receiver.server.close();
    }
  });
});
