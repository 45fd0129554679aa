// Two timer defaults of Azure the local host must keep: `useMonitor` is off by default for a schedule that
// recurs more often than once a minute (no ScheduleStatus, nothing persisted), and a timer function runs as a
// singleton — "Run now" (POST /admin/functions/<name>) waits for a run in progress instead of overlapping it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHost } from '../../../local/host/host.js';
import { fixtureApp, records, tempDir, waitFor } from './helpers.js';

interface TickRecord {
  timer: { scheduleStatus: unknown; isPastDue: boolean };
  startedAt: number;
  endedAt: number;
}

const start = (out: string, state: string, schedule: string, scale: string) =>
  startHost({
    appRoot: fixtureApp,
    port: 0,
    stateDir: state,
    env: {
      FIXTURE_OUT_DIR: out,
      FIXTURE_TICK_SCHEDULE: schedule,
      LOCAL_TIME_SCALE: scale,
    },
    eventGrid: { watch: false },
    log: () => {},
  });

afterAll(() => {
  delete process.env.FIXTURE_TICK_SLEEP_MS;
});

describe('timer defaults', () => {
  it('turns useMonitor off by default for a schedule more frequent than once a minute', async () => {
    const out = tempDir('monitor-out');
    const state = tempDir('monitor-state');
    // Every 10 s at time scale 100: a run every ~100 real ms.
    const host = await start(out, state, '*/10 * * * * *', '100');
    try {
      const [first] = await waitFor(() => {
        const r = records<TickRecord>(out, 'tick.jsonl');
        return r.length ? r : undefined;
      }, 'a tick');
      expect(first!.timer.scheduleStatus).toBeNull();
    } finally {
      await host.close();
    }
    // No schedule status is persisted for it; the yearly timer (monitored by default) has one.
    const file = join(state, 'timers.json');
    const saved = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    expect(saved.tick).toBeUndefined();
    expect(saved.yearly).toBeDefined();
  });

  it('runs "Run now" as a singleton: a second request waits for the run in progress', async () => {
    const out = tempDir('runnow-out');
    process.env.FIXTURE_TICK_SLEEP_MS = '300';
    const host = await start(out, tempDir('runnow-state'), '0 0 0 1 1 *', '1');
    try {
      const runNow = () =>
        fetch(`${host.baseUrl}/admin/functions/tick`, {
          method: 'POST',
          headers: { 'x-functions-key': host.keys.masterKey, 'content-type': 'application/json' },
          body: '{}',
        });
      const answers = await Promise.all([runNow(), runNow()]);
      expect(answers.map((r) => r.status)).toEqual([202, 202]);
      const runs = await waitFor(() => {
        const r = records<TickRecord>(out, 'tick.jsonl');
        return r.length === 2 ? r : undefined;
      }, 'both runs');
      const [a, b] = runs.sort((x, y) => x.startedAt - y.startedAt);
      expect(b!.startedAt).toBeGreaterThanOrEqual(a!.endedAt);
    } finally {
      await host.close();
      delete process.env.FIXTURE_TICK_SLEEP_MS;
    }
  });
});
