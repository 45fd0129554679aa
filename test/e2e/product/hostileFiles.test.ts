// Hostile uploads end to end, through the unmodified app on the local host: a footer claiming 2³¹ rows, a row
// holding a 3,000,000-point LINESTRING (62 MB of WKT), a 20,000-deep schema and a file with no rows. Each must end
// as a validation report in the outbox naming its rule, with no GEM job and nothing staged, while the host keeps
// answering (it used to abort on the first, and crash-loop as the pending validation resumed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostileSampleKind, hostileSample } from '../../../local/standins/hostileSamples.js';
import {
  api,
  readOutbox,
  readOutboxJson,
  routeCount,
  runDocuments,
  simulatorAdmin,
  startApp,
  type TestApp,
  uploadInbox,
  waitForMatch,
} from '../harness.js';

let app: TestApp;
const hostExits: string[] = [];

beforeAll(async () => {
  app = await startApp({ name: 'hostile-files', timeScale: 600 });
  app.onUnexpectedHostExit((down) => hostExits.push(down.message));
});

afterAll(async () => {
  await app?.close();
});

const CASES: { kind: HostileSampleKind; rule: string; row?: number }[] = [
  { kind: 'claims-2e31-rows', rule: 'row-limit' },
  { kind: 'giant-row', rule: 'value-size', row: 0 },
  { kind: 'deep-schema', rule: 'schema-depth' },
  { kind: 'zero-rows', rule: 'rows-present' },
];

interface Report {
  valid: boolean;
  rowCount: number;
  problems: { row?: number; rule: string; message: string }[];
}

describe('hostile uploads', () => {
  it('each gives a validation report naming its rule, no GEM job, and the host keeps answering', async () => {
    const admin = simulatorAdmin(app);
    const uploads = [];
    for (const c of CASES) {
      const bytes = hostileSample(c.kind);
      uploads.push({ ...c, upload: await uploadInbox(app, `hostile-${c.kind}.parquet`, bytes) });
    }

    // The host answers while the four are being validated, and after.
    const healthWhileValidating = await api(app).get('/api/health');
    expect(healthWhileValidating.status).toBe(200);

    for (const { kind, rule, row, upload } of uploads) {
      const status = await waitForMatch(app, upload.matchId, { timeoutMs: 90_000 });
      expect(status, kind).toMatchObject({ runtimeStatus: 'Completed', outcome: 'invalid-input' });
      expect(status.jobId).toBeNull();
      const reportName = runDocuments(`hostile-${kind}.parquet`, upload.matchId).validationReport;
      const report = await readOutboxJson<Report>(app, reportName);
      expect(report, `outbox/${reportName}`).toBeDefined();
      expect(report!.valid).toBe(false);
      expect(report!.problems.map((p) => p.rule)).toEqual([rule]);
      if (row !== undefined) expect(report!.problems[0]!.row).toBe(row);
      expect(
        await readOutbox(app, runDocuments(`hostile-${kind}.parquet`, upload.matchId).results),
      ).toBeUndefined();
    }

    expect(await admin.jobs()).toEqual([]);
    const requests = await admin.requests(0);
    expect(routeCount(requests, 'POST /jobs')).toBe(0);
    expect(routeCount(requests, 'GET /storages/{id}/credentials'), 'nothing was staged').toBe(0);
    expect((await api(app).get('/api/health')).status).toBe(200);
    expect(hostExits).toEqual([]);
  });
});
