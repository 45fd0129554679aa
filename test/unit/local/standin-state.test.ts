// The stand-ins' saved state (local/standins/persistence.ts): where virtual time resumes, how an unusable file is
// reported and set aside, and how the saver writes (atomically, 0600, a clean mark on close).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  loadStandInState,
  resumedVirtualMs,
  STANDIN_STATE_KIND,
  STANDIN_STATE_VERSION,
  type StandInState,
  startStateSaver,
} from '../../../local/standins/persistence.js';

const dir = mkdtempSync(join(tmpdir(), 'gemflow-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOUR = 3600_000;
const body = (virtualMs = 5 * HOUR): Omit<StandInState, 'kind' | 'version' | 'savedAt' | 'clean'> => ({
  clock: { virtualMs, scale: 600, checkpointMs: 1000 },
  stack: { apiKey: 'gemflow-local-a', apiKeyWithoutGem: 'gemflow-local-pdgonly-b', notifySigningSecret: 's' },
  simulator: {
    apiKeys: [{ key: 'gemflow-local-a', products: ['pdg', 'gem'] }],
    jobs: [],
    requests: { total: 0, byRoute: {}, byStatus: {}, byCredential: {}, byRouteAndStatus: {} },
  },
  keyVault: {},
});

describe('where virtual time resumes', () => {
  const at = (clean: boolean, virtualMs: number, scale = 600) => ({
    clean,
    clock: { virtualMs, scale, checkpointMs: 1000 },
  });

  it('stands still while a compressed stack is down: it goes on from where it stopped', () => {
    expect(resumedVirtualMs(at(true, 10 * HOUR), 600, 1 * HOUR)).toBe(10 * HOUR);
    // Also at another scale, and when the wall clock has passed it meanwhile.
    expect(resumedVirtualMs(at(true, 10 * HOUR), 60, 20 * HOUR)).toBe(10 * HOUR);
  });

  it('after a crash, goes on from the last checkpoint plus one interval of virtual time, never earlier', () => {
    expect(resumedVirtualMs(at(false, 10 * HOUR), 600, 0)).toBe(10 * HOUR + 600_000);
  });

  it('is the wall clock at scale 1, unless a compressed run left it ahead', () => {
    expect(resumedVirtualMs(at(true, 10 * HOUR, 1), 1, 12 * HOUR)).toBe(12 * HOUR);
    expect(resumedVirtualMs(at(true, 10 * HOUR), 1, 2 * HOUR)).toBe(10 * HOUR);
  });
});

describe('loading a state file', () => {
  it('treats a missing file as a first start', () => {
    expect(loadStandInState(join(dir, 'none.json'))).toEqual({});
  });

  it.each([
    ['garbage', '{not json', /cannot be read/],
    ['another kind', JSON.stringify({ kind: 'something-else', version: 1 }), /not a stand-in state file/],
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
  ])('reports %s, moves it aside and starts afresh', (name, text, reason) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, text);
    const loaded = loadStandInState(file);
    expect(loaded.state).toBeUndefined();
    expect(loaded.problem).toMatch(reason);
    expect(loaded.problem).toContain(`${file}.ignored`);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(`${file}.ignored`, 'utf8')).toBe(text);
  });
});

describe('the saver', () => {
  it('writes a checkpoint at once, owner-only, and a clean state on close that loads back', async () => {
    const file = join(dir, 'standins', 'state.json');
    let virtualMs = 5 * HOUR;
    const saver = startStateSaver(file, () => body(virtualMs), 60_000);
    await saver.save();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadStandInState(file).state).toMatchObject({ clean: false, clock: { virtualMs: 5 * HOUR } });
    virtualMs = 6 * HOUR;
    await saver.close();
    const { state } = loadStandInState(file);
    expect(state).toMatchObject({
      kind: STANDIN_STATE_KIND,
      version: 1,
      clean: true,
      clock: { virtualMs: 6 * HOUR },
    });
    expect(state!.stack.apiKey).toBe('gemflow-local-a');
    virtualMs = 7 * HOUR;
    await saver.save();
    expect(loadStandInState(file).state!.clock.virtualMs, 'nothing is written after close').toBe(6 * HOUR);
  });
});
