// The one virtual clock shared by the stand-ins and the local host (local/host/clock.ts): the formula, its
// anchor, and how it travels to the host process through settings.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clockFromEnv, clockSettings, createClock } from '../../../local/host/clock.js';

afterEach(() => vi.useRealTimers());

describe('virtual clock', () => {
  it('runs scale times faster than real time from the epoch', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const clock = createClock({ scale: 600 });
    expect(clock.epochMs).toBe(1_000_000);
    expect(clock.virtualEpochMs).toBe(1_000_000);
    expect(clock.now()).toBe(1_000_000);
    vi.setSystemTime(1_000_000 + 1000);
    expect(clock.now()).toBe(1_000_000 + 600_000);
    expect(clock.date().getTime()).toBe(1_000_000 + 600_000);
    expect(clock.toRealDelayMs(3 * 3600_000)).toBe(18_000);
    expect(clock.toRealDelayMs(-5)).toBe(0);
  });

  it('goes on from a virtual anchor that is not the real one (a resumed stack)', () => {
    vi.useFakeTimers({ now: 5_000_000 });
    const clock = createClock({ scale: 600, virtualEpochMs: 9_000_000 });
    expect(clock.now()).toBe(9_000_000);
    vi.setSystemTime(5_000_000 + 2000);
    expect(clock.now()).toBe(9_000_000 + 1_200_000);
  });

  it('sleeps the real equivalent of virtual time', async () => {
    vi.useFakeTimers({ now: 0 });
    const clock = createClock({ scale: 100 });
    let done = false;
    const sleeping = clock.sleep(60_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(599);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it('travels through settings to another process with the same formula', () => {
    vi.useFakeTimers({ now: 1_700_000_100_000 });
    const clock = createClock({ scale: 42, epochMs: 1_700_000_000_000, virtualEpochMs: 1_800_000_000_000 });
    const settings = clockSettings(clock);
    expect(settings).toEqual({
      LOCAL_TIME_SCALE: '42',
      LOCAL_TIME_EPOCH_MS: '1700000000000',
      LOCAL_TIME_VIRTUAL_EPOCH_MS: '1800000000000',
    });
    const copy = clockFromEnv(settings);
    expect(copy.scale).toBe(42);
    expect(copy.now()).toBe(clock.now());
  });

  it('reads unset and blank settings as their defaults: real time from now', () => {
    vi.useFakeTimers({ now: 2_000_000 });
    for (const env of [{}, { LOCAL_TIME_SCALE: '' }, { LOCAL_TIME_SCALE: ' ', LOCAL_TIME_EPOCH_MS: '' }]) {
      const clock = clockFromEnv(env);
      expect(clock.scale).toBe(1);
      expect(clock.now()).toBe(2_000_000);
    }
  });

  it('refuses a non-positive scale and a setting that is not a number, naming it', () => {
    expect(() => createClock({ scale: 0 })).toThrow(/positive/);
    expect(() => clockFromEnv({ LOCAL_TIME_SCALE: '-3' })).toThrow(/LOCAL_TIME_SCALE=1/);
    expect(() => clockFromEnv({ LOCAL_TIME_SCALE: 'fast' })).toThrow(/LOCAL_TIME_SCALE must be a number/);
    expect(() => clockFromEnv({ LOCAL_TIME_VIRTUAL_EPOCH_MS: 'x' })).toThrow(/LOCAL_TIME_VIRTUAL_EPOCH_MS/);
  });
});
