// The reconciliation sweep: an upload whose BlobCreated event never arrived is found by the timer sweep and
// matched; later sweeps (scheduled or run by hand) start nothing more for it.
import { describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import {
  api,
  type CompactMatchStatus,
  getMatch,
  readOutboxJson,
  runDocuments,
  runFunctionNow,
  simulatorAdmin,
  uploadInbox,
  useApp,
  waitForMatch,
  waitForSweeps,
} from '../harness.js';

// No watcher: nothing raises the upload's event, as when Event Grid loses it. The sweep keeps its default
// schedule (every 15 virtual minutes, 1.5 real seconds at this scale).
const app = useApp({ name: 'sweep', timeScale: 600, env: { LOCAL_BLOB_WATCH: 'false' } });

const sweepLines = () => app.hostLog.filter((line) => /\bSweep: inventory/.test(line));
describe('the sweep', () => {
  it('starts a match for an upload whose event was missed, once', async () => {
    const upload = await uploadInbox(
      app,
      'missed.parquet',
      roadMatchingSample('valid', { rows: 15, seed: 51 }),
    );

    const status = await waitForMatch(app, upload.matchId, { timeoutMs: 60_000 });
    expect(status).toMatchObject({ runtimeStatus: 'Completed', phase: 'completed', outcome: 'succeeded' });
    const summary = await readOutboxJson<{ input: { trigger: string } }>(
      app,
      runDocuments('missed.parquet', upload.matchId).summary,
    );
    expect(summary?.input.trigger).toBe('sweep');
    expect(sweepLines().filter((l) => new RegExp(`started 1 \\(${upload.matchId}\\)`).test(l))).toHaveLength(
      1,
    );

    // Two more scheduled sweeps, and two run by hand, find the same blob again: they start nothing, and a
    // sweep that did nothing prints nothing (the terminal of npm start stays readable at any time scale).
    const seen = sweepLines().length;
    const later = await waitForSweeps(app, 2, 'two more scheduled sweeps');
    for (let run = 0; run < 2; run++) {
      expect(await runFunctionNow(app, 'sweep')).toBe(202);
      later.push(...(await waitForSweeps(app, 1, 'the sweep run by hand')));
    }
    for (const report of later) expect(report.inbox).toMatchObject({ scanned: 1, started: [] });
    expect(sweepLines().slice(seen)).toEqual([]);

    const again = await getMatch(app, upload.matchId);
    expect(again).toMatchObject({
      runtimeStatus: 'Completed',
      createdTime: status.createdTime,
      jobId: status.jobId,
    });
    const listed = await api(app).get<{ matches: CompactMatchStatus[] }>('/api/matches');
    expect(listed.body.matches.map((m) => m.id)).toEqual([upload.matchId]);
    expect(await simulatorAdmin(app).jobs()).toHaveLength(1);
  });
});
