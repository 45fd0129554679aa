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
  waitUntil,
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
    expect(sweepLines().filter((l) => /started 1\b/.test(l))).toHaveLength(1);

    // Two more scheduled sweeps, and two run by hand, find the same blob again.
    const seen = sweepLines().length;
    await waitUntil(() => (sweepLines().length >= seen + 2 ? true : undefined), 'two more scheduled sweeps');
    for (let run = 0; run < 2; run++) {
      const before = sweepLines().length;
      expect(await runFunctionNow(app, 'sweep')).toBe(202);
      await waitUntil(() => (sweepLines().length > before ? true : undefined), 'the sweep run by hand');
    }
    const later = sweepLines().slice(seen);
    expect(later.length).toBeGreaterThanOrEqual(4);
    for (const line of later) expect(line).toMatch(/inbox scanned 1, started 0\b/);

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
