// The stand-ins' saved state (local/standins/persistence.ts): where virtual time resumes, how an unusable file is
// reported and set aside, and how the saver writes (atomically, 0600, the stand-ins only when they changed, the
// clock every tick, a clean mark on close).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CLOCK_CHECKPOINT_KIND,
  type Collected,
  clockCheckpointPath,
  loadStandIns,
  resumedVirtualMs,
  STANDIN_STATE_KIND,
  STANDIN_STATE_VERSION,
  standInStatePath,
  startStateSaver,
} from '../../../local/standins/persistence.js';

const root = mkdtempSync(join(tmpdir(), 'gemflow-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(root, String(dirs++));

const HOUR = 3600_000;
const collected = (virtualMs: number, total = 0): Collected => ({
  clock: { virtualMs, scale: 600, checkpointMs: 1000 },
  standIns: {
    stack: {
      apiKey: 'gemflow-local-a',
      apiKeyWithoutGem: 'gemflow-local-pdgonly-b',
      notifySigningSecret: 's',
    },
    simulator: {
      apiKeys: [{ key: 'gemflow-local-a', products: ['pdg', 'gem'] }],
      jobs: [],
      requests: { total, byRoute: {}, byStatus: {}, byCredential: {}, byRouteAndStatus: {} },
    },
    keyVault: {},
  },
});

describe('where virtual time resumes', () => {
  const at = (clean: boolean, virtualMs: number, scale = 600) => ({
    clean,
    clock: { virtualMs, scale, checkpointMs: 1000 },
  });

  it('stands still while a compressed stack is down: it goes on from where it stopped', () => {
    expect(resumedVirtualMs([at(true, 10 * HOUR)], 600, 1 * HOUR)).toBe(10 * HOUR);
    // Also at another scale, and when the wall clock has passed it meanwhile.
    expect(resumedVirtualMs([at(true, 10 * HOUR)], 60, 20 * HOUR)).toBe(10 * HOUR);
  });

  it('after a crash, goes on from the last checkpoint plus one interval of virtual time, never earlier', () => {
    expect(resumedVirtualMs([at(false, 10 * HOUR)], 600, 0)).toBe(10 * HOUR + 600_000);
    // The latest of the files wins (the state file may be older than the clock's checkpoint, or the reverse).
    expect(resumedVirtualMs([at(true, 9 * HOUR), at(false, 10 * HOUR)], 600, 0)).toBe(10 * HOUR + 600_000);
  });

  it('is the wall clock at scale 1, unless a compressed run left it ahead', () => {
    expect(resumedVirtualMs([at(true, 10 * HOUR, 1)], 1, 12 * HOUR)).toBe(12 * HOUR);
    expect(resumedVirtualMs([at(true, 10 * HOUR)], 1, 2 * HOUR)).toBe(10 * HOUR);
    expect(resumedVirtualMs([], 600, 2 * HOUR)).toBe(2 * HOUR);
  });
});

describe('loading the saved files', () => {
  it('treats missing files as a first start', () => {
    expect(loadStandIns(newDir())).toEqual({ problems: [] });
  });

  it.each([
    ['garbage', '{not json', /cannot be read/],
    [
      'another kind',
      JSON.stringify({ kind: 'something-else', version: 1 }),
      /is not a gem-flow.local-standins-state file/,
    ],
    [
      'a newer version',
      JSON.stringify({ kind: STANDIN_STATE_KIND, version: 99 }),
      /version 99; this stack reads version 1/,
    ],
    [
      'an invalid body',
      JSON.stringify({ kind: STANDIN_STATE_KIND, version: STANDIN_STATE_VERSION, clean: true }),
      /is not valid \(savedAt:/,
    ],
  ])('reports %s, moves it aside and leaves it out', async (_name, text, reason) => {
    const dir = newDir();
    // A valid clock checkpoint beside it is still used.
    const saver = startStateSaver(dir, () => collected(5 * HOUR), 60_000);
    await saver.close();
    const file = standInStatePath(dir);
    writeFileSync(file, text);
    const loaded = loadStandIns(dir);
    expect(loaded.state).toBeUndefined();
    expect(loaded.clock).toMatchObject({
      kind: CLOCK_CHECKPOINT_KIND,
      clean: true,
      clock: { virtualMs: 5 * HOUR },
    });
    expect(loaded.problems).toHaveLength(1);
    expect(loaded.problems[0]).toMatch(reason);
    expect(loaded.problems[0]).toContain(`${file}.ignored`);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(`${file}.ignored`, 'utf8')).toBe(text);
  });
});

describe('the saver', () => {
  it('writes both files at once, owner-only, and clean ones on close that load back', async () => {
    const dir = newDir();
    let now = collected(5 * HOUR);
    const saver = startStateSaver(dir, () => now, 60_000);
    await saver.save();
    for (const file of [standInStatePath(dir), clockCheckpointPath(dir)]) {
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
    expect(loadStandIns(dir).state).toMatchObject({ clean: false, clock: { virtualMs: 5 * HOUR } });
    now = collected(6 * HOUR);
    await saver.close();
    const { state, clock } = loadStandIns(dir);
    expect(state).toMatchObject({
      kind: STANDIN_STATE_KIND,
      version: 1,
      clean: true,
      clock: { virtualMs: 6 * HOUR },
    });
    expect(clock).toMatchObject({ kind: CLOCK_CHECKPOINT_KIND, clean: true, clock: { virtualMs: 6 * HOUR } });
    expect(state!.stack.apiKey).toBe('gemflow-local-a');
    now = collected(7 * HOUR);
    await saver.save();
    expect(loadStandIns(dir).state!.clock.virtualMs, 'nothing is written after close').toBe(6 * HOUR);
  });

  it('checkpoints the clock every tick, and the stand-ins only when they changed', async () => {
    const dir = newDir();
    let now = collected(5 * HOUR);
    const saver = startStateSaver(dir, () => now, 20);
    const settle = () => new Promise((resolve) => setTimeout(resolve, 80));
    await settle();
    now = collected(6 * HOUR);
    await settle();
    expect(loadStandIns(dir).clock!.clock.virtualMs).toBe(6 * HOUR);
    expect(loadStandIns(dir).state!.clock.virtualMs, 'unchanged stand-ins are not rewritten').toBe(5 * HOUR);
    now = collected(7 * HOUR, 3);
    await settle();
    expect(loadStandIns(dir).state).toMatchObject({
      clock: { virtualMs: 7 * HOUR },
      simulator: { requests: { total: 3 } },
    });
    await saver.close();
  });
});
