// Timer triggers on the virtual clock: the payload shape the worker receives, `isPastDue` from the persisted
// schedule status, and a 5-minute schedule over one virtual hour compressed into about one real second.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockSettings, createClock } from '../../../local/host/clock.js';
import { type RunningHost, startHost } from '../../../local/host/host.js';
import { fixtureApp, records, tempDir, waitFor } from './helpers.js';

interface TimerRecord {
  timer: {
    schedule: { adjustForDST: boolean };
    scheduleStatus: { last: string; next: string; lastUpdated: string } | null;
    isPastDue: boolean;
  };
}

const FIVE_MINUTES = 5 * 60_000;
const HOUR = 60 * 60_000;
const out = tempDir('timers-out');
const state = tempDir('timers-state');
let host: RunningHost;
let epochMs: number;
/** Occurrences the host skipped because the previous run was still going (virtual ms). */
const skipped: number[] = [];

beforeAll(async () => {
  // The yearly timer last ran for 2020-01-01 and expected its next run on 2021-01-01, long past: the host
  // must run it once at start-up, flagged past due.
  writeFileSync(
    join(state, 'timers.json'),
    JSON.stringify({
      yearly: {
        Last: '2020-01-01T00:00:00.000Z',
        Next: '2021-01-01T00:00:00.000Z',
        LastUpdated: '2020-01-01T00:00:01.000Z',
      },
    }),
  );
  epochMs = Date.now();
  host = await startHost({
    appRoot: fixtureApp,
    port: 0,
    stateDir: state,
    // 600 virtual ms per real ms: one virtual hour in six real seconds, a tick every 500 real ms.
    env: {
      FIXTURE_OUT_DIR: out,
      FIXTURE_TICK_SCHEDULE: '0 */5 * * * *',
      // All three clock settings: this worker's environment carries the shared stack's clock
      // (test/setup/stack.ts), whose virtual epoch is when the suite started; inherited, it would start the
      // host's hour there, before epochMs.
      ...clockSettings(createClock({ scale: 600, epochMs })),
    },
    eventGrid: { watch: false },
    log: (line) => {
      const at = /^Timer 'tick': skipping the occurrence at (\S+);/.exec(line)?.[1];
      if (at) skipped.push(Date.parse(at));
    },
  });
});
afterAll(() => host?.close());

describe('timer triggers', () => {
  it('sends the PascalCase timer payload, which the library hands over camelCased', async () => {
    const [first] = await waitFor(() => {
      const r = records<TimerRecord>(out, 'tick.jsonl');
      return r.length ? r : undefined;
    }, 'the first tick');
    expect(first!.timer.schedule).toEqual({ adjustForDST: true });
    expect(first!.timer.isPastDue).toBe(false);
    expect(Object.keys(first!.timer.scheduleStatus!).sort()).toEqual(['last', 'lastUpdated', 'next']);
    // Never run before: Last is .NET's default(DateTime), as the host reports it.
    expect(first!.timer.scheduleStatus!.last).toBe('0001-01-01T00:00:00');
  });

  it('runs a past-due timer once at start-up with isPastDue, from the persisted status', async () => {
    const yearly = await waitFor(
      () => records<TimerRecord>(out, 'yearly.jsonl')[0],
      'the past-due yearly run',
    );
    expect(yearly.timer.isPastDue).toBe(true);
    expect(yearly.timer.scheduleStatus).toMatchObject({
      last: '2020-01-01T00:00:00.000Z',
      next: '2021-01-01T00:00:00.000Z',
    });
    expect(records(out, 'yearly.jsonl')).toHaveLength(1);
  });

  it('fires a 5-minute schedule 12 times in one virtual hour at time scale 600', async () => {
    // The hour starts at the first occurrence the host ran (virtual time passes quickly while the app loads,
    // so occurrences between the epoch and the end of start-up are legitimately not run).
    const first = await waitFor(() => records<TimerRecord>(out, 'tick.jsonl')[0], 'the first tick');
    const start = Date.parse(first.timer.scheduleStatus!.next);
    const end = start + HOUR;
    // Wait until the timer has run an occurrence at or past the hour: no real-time window is counted.
    const ticks = await waitFor(() => {
      const r = records<TimerRecord>(out, 'tick.jsonl');
      return r.some((t) => Date.parse(t.timer.scheduleStatus!.next) >= end) ? r : undefined;
    }, 'a tick one virtual hour after the first');
    const inHour = ticks.map((t) => Date.parse(t.timer.scheduleStatus!.next)).filter((at) => at < end);
    // Each run reports its own occurrence as `next`; every one is on a 5-minute boundary, in order, once.
    for (const at of inHour) expect(at % FIVE_MINUTES).toBe(0);
    expect(inHour).toEqual([...inHour].sort((a, b) => a - b));
    expect(new Set(inHour).size).toBe(inHour.length);
    // [first, first + 1 h) holds exactly 12 five-minute marks, so the count is exact: it is read from the
    // virtual occurrences the host ran, not from a real-time window (which could cut a boundary and give
    // 11 or 13). Two allowances, both Azure's own behaviour on a slow instance: an occurrence that falls while
    // the previous run is still going is skipped (logged, counted here), and after a stall longer than a tick
    // (~83 real ms) the missed occurrences are coalesced into one run flagged past due.
    const skippedInHour = skipped.filter((at) => at >= start && at < end);
    const coalesced = ticks.filter(
      (t) => t.timer.isPastDue && Date.parse(t.timer.scheduleStatus!.next) < end,
    );
    if (coalesced.length === 0) expect(inHour.length + skippedInHour.length).toBe(12);
    else expect(inHour.length + skippedInHour.length).toBeLessThan(12);
    expect(epochMs).toBeLessThan(start);
  });

  it('persists each timer status (Last, Next) for the next start', () => {
    const saved = JSON.parse(readFileSync(join(state, 'timers.json'), 'utf8'));
    expect(Date.parse(saved.tick.Next) - Date.parse(saved.tick.Last)).toBe(FIVE_MINUTES);
    expect(Date.parse(saved.yearly.Next)).toBeGreaterThan(Date.parse('2021-01-01T00:00:00.000Z'));
  });
});
