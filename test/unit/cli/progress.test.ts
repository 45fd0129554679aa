// The progress of a followed match, from a recorded sequence of the statuses GET /api/matches/{id} returns:
// the views advance through the phases in order, the bar never moves backwards and reaches 100 % only on
// completion, the ETA is the app's estimate converted from the stack's compressed time to real seconds, parts
// are read when a status carries them; and the terminal renderer (cli-progress on a fake TTY) shows each phase
// in turn and ticks it off, while the plain and JSON renderers print one line per change.
import { describe, expect, it } from 'vitest';
import type { MatchStatus } from '../../../cli/appClient.js';
import { createProgressTracker, formatDuration, PHASE_STEPS, partsOf } from '../../../cli/progress.js';
import {
  JsonLinesProgressRenderer,
  PlainProgressRenderer,
  TtyProgressRenderer,
} from '../../../cli/progressRender.js';
import { captured, visible } from './io.js';

const SCALE = 600;
const T0 = Date.parse('2026-03-01T10:00:00Z');
const HOUR = 3600_000;

/** A virtual clock at SCALE and the real clock it maps to, both moved by the test. */
function clocks() {
  let real = 1_000_000;
  let virtual = T0;
  return {
    clock: { now: () => virtual, scale: SCALE },
    realNow: () => real,
    /** Lets `realMs` of real time pass (SCALE × as much virtual time). */
    pass(realMs: number) {
      real += realMs;
      virtual += realMs * SCALE;
    },
  };
}

function status(fields: Partial<MatchStatus>): MatchStatus {
  return {
    id: 'match-0123456789abcdef0123456789abcdef',
    runtimeStatus: 'Running',
    phase: null,
    outcome: null,
    jobId: null,
    gemStatus: null,
    polls: 0,
    estimatedCompletion: null,
    statistics: null,
    counts: null,
    incremental: null,
    outputs: { results: null, summary: null, error: null, validationReport: null, matched: null },
    error: null,
    notification: null,
    createdTime: new Date(T0).toISOString(),
    lastUpdatedTime: new Date(T0).toISOString(),
    ...fields,
  };
}

const eta = new Date(T0 + 3 * HOUR).toISOString();

/** A 3-hour job at 600×: what a follower polling every few real seconds sees, with the time between polls. */
const RECORDED: [realMsBefore: number, status: MatchStatus][] = [
  [0, status({ runtimeStatus: 'Pending' })],
  [500, status({ phase: 'validating' })],
  [500, status({ phase: 'staging' })],
  [500, status({ phase: 'submitting' })],
  [
    500,
    status({ phase: 'monitoring', jobId: 17, gemStatus: 'REQUESTED', polls: 1, estimatedCompletion: eta }),
  ],
  [
    6_000,
    status({ phase: 'monitoring', jobId: 17, gemStatus: 'IN_PROGRESS', polls: 4, estimatedCompletion: eta }),
  ],
  [
    9_000,
    status({ phase: 'monitoring', jobId: 17, gemStatus: 'SUCCESS', polls: 7, estimatedCompletion: eta }),
  ],
  [500, status({ phase: 'delivering', jobId: 17, gemStatus: 'SUCCESS', polls: 7 })],
  [500, status({ phase: 'notifying', jobId: 17, gemStatus: 'SUCCESS', polls: 7 })],
  [
    500,
    status({
      runtimeStatus: 'Completed',
      phase: 'completed',
      outcome: 'succeeded',
      jobId: 17,
      gemStatus: 'SUCCESS',
      polls: 7,
    }),
  ],
];

function replay(recorded = RECORDED) {
  const time = clocks();
  const tracker = createProgressTracker({
    clock: time.clock,
    realNow: time.realNow,
    requestedAtMs: time.realNow(),
  });
  return recorded.map(([before, s]) => {
    time.pass(before);
    return tracker.update(s);
  });
}

describe('progress of a recorded match', () => {
  it('advances through the phases in order, step by step, to 100 % at completion', () => {
    const views = replay();
    expect(views.map((v) => v.phase)).toEqual([
      'queued',
      ...PHASE_STEPS.slice(0, 4),
      'monitoring',
      'monitoring',
      'delivering',
      'notifying',
      'completed',
    ]);
    expect(views.map((v) => v.step)).toEqual([null, 1, 2, 3, 4, 4, 4, 5, 6, null]);
    const percents = views.map((v) => v.percent);
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThan(percents[i - 1]!);
    expect(percents.at(-2)).toBeLessThan(100);
    expect(percents.at(-1)).toBe(100);
    expect(views.at(-1)).toMatchObject({ terminal: true, outcome: 'succeeded', etaSeconds: null });
  });

  it('gives the ETA in real seconds: 3 virtual hours at 600× are 18 s', () => {
    const views = replay();
    const monitoring = views.filter((v) => v.phase === 'monitoring');
    // Virtual time at the first monitoring status: 2 s real after T0 = 20 virtual minutes.
    expect(monitoring[0]!.etaSeconds).toBe(18 - 2);
    expect(monitoring[1]!.etaSeconds).toBe(18 - 8);
    expect(monitoring[2]!.etaSeconds).toBe(1);
    // Within monitoring the bar follows the time since monitoring began against the estimate.
    expect(monitoring[1]!.percent).toBe(Math.floor(100 * (0.15 + 0.75 * (6 / 16))));
    expect(views[5]!.elapsedSeconds).toBe(8);
  });

  it('reads parts when the status carries them, and ignores anything else in their place', () => {
    const views = replay([
      [0, status({ phase: 'monitoring', estimatedCompletion: eta, parts: { total: 4, done: 1 } })],
      [1_000, status({ phase: 'monitoring', estimatedCompletion: eta, parts: { total: 4, done: 3 } })],
    ]);
    expect(views.map((v) => v.parts)).toEqual([
      { total: 4, done: 1 },
      { total: 4, done: 3 },
    ]);
    expect(views.map((v) => v.percent)).toEqual([
      Math.floor(100 * (0.15 + 0.75 / 4)),
      Math.floor(100 * (0.15 + 0.75 * 0.75)),
    ]);
    for (const odd of [undefined, null, 3, { total: 0, done: 0 }, { total: '4', done: 1 }, { done: 1 }]) {
      expect(partsOf({ parts: odd })).toBeNull();
    }
    expect(partsOf({ parts: { total: 2, done: 5 } })).toEqual({ total: 2, done: 2 });
  });

  it('a failed match keeps the bar where it stopped instead of filling it', () => {
    const views = replay([
      [0, status({ phase: 'validating' })],
      [500, status({ runtimeStatus: 'Completed', phase: 'invalid-input', outcome: 'invalid-input' })],
    ]);
    expect(views[1]).toMatchObject({ terminal: true, phase: 'invalid-input', percent: views[0]!.percent });
    // A match cancelled while monitoring, seen for the first time after it ended: where monitoring starts.
    const [cancelled] = replay([
      [0, status({ runtimeStatus: 'Terminated', phase: 'monitoring', jobId: 17 })],
    ]);
    expect(cancelled).toMatchObject({ terminal: true, percent: 15, etaSeconds: null });
  });

  it('without a known request time, elapsed counts from the instance creation, in real time', () => {
    const time = clocks();
    time.pass(10_000); // 100 virtual minutes after T0, when the instance was created
    const view = createProgressTracker({ clock: time.clock, realNow: time.realNow }).update(
      status({ phase: 'staging' }),
    );
    expect(view.elapsedSeconds).toBe(10);
  });

  it('formats durations for people', () => {
    expect([formatDuration(null), formatDuration(42), formatDuration(185), formatDuration(3720)]).toEqual([
      '–',
      '42s',
      '3m 05s',
      '1h 02m',
    ]);
  });
});

describe('progress renderers', () => {
  it('on a terminal, draws a live bar that shows each phase in turn and ticks the finished ones off', () => {
    const out = captured(true, 200);
    const time = clocks();
    const renderer = new TtyProgressRenderer(out.stream, time.realNow);
    for (const view of replay()) {
      renderer.update(view);
      time.pass(500);
    }
    renderer.stop();
    const screen = visible(out.text());
    const firstSeen = [
      'validating (1/6)',
      'staging (2/6)',
      'submitting (3/6)',
      'monitoring (4/6)',
      'delivering (5/6)',
      'notifying (6/6)',
      '100% | completed',
    ].map((text) => screen.indexOf(text));
    expect(firstSeen.every((index) => index >= 0)).toBe(true);
    expect([...firstSeen].sort((a, b) => a - b)).toEqual(firstSeen);
    for (const phase of PHASE_STEPS) expect(screen).toMatch(new RegExp(`✓ ${phase} \\(\\d+s\\)\\n`));
    expect(screen).toContain('GEM IN_PROGRESS (job 17) | polls 4 | elapsed 8s | ETA 10s');
    // The bar itself: filled and empty cells.
    expect(screen).toMatch(/=+-+ +\d+% \| monitoring/);
  });

  it('without a terminal, prints one plain line per change and nothing for a repeated status', () => {
    const out = captured(false);
    const renderer = new PlainProgressRenderer(out.stream);
    const views = replay();
    renderer.update(views[4]!);
    renderer.update({ ...views[4]!, elapsedSeconds: views[4]!.elapsedSeconds + 5 });
    renderer.update(views[5]!);
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe(
      `${views[5]!.percent}% | monitoring (4/6) | GEM IN_PROGRESS (job 17) | polls 4 | elapsed 8s | ETA 10s`,
    );
  });

  it('with --json, prints each change as one JSON object', () => {
    const out = captured(true);
    const renderer = new JsonLinesProgressRenderer(out.stream);
    const views = replay();
    for (const view of views) renderer.update(view);
    renderer.note('a note');
    const events = out
      .text()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events).toHaveLength(views.length + 1);
    expect(events[5]).toEqual({ event: 'progress', ...views[5] });
    expect(events.at(-1)).toEqual({ event: 'note', message: 'a note' });
  });
});
