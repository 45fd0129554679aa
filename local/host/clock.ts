/**
 * The one virtual clock of the local stack, used by the stand-ins (the simulator's job timestamps) and by the
 * local Functions host (durable timers, orchestration `currentUtcDateTime`, timer schedules), so both agree.
 * GEM jobs take hours; with `scale` 600 one real second is ten virtual minutes. At the real instant `epochMs`
 * virtual time is `virtualEpochMs`, and from there it runs `scale` times faster:
 *
 *   now() = virtualEpochMs + (Date.now() - epochMs) * scale
 *
 * `virtualEpochMs` defaults to `epochMs` (virtual time starts at real time); a stack restarted on persistent
 * state sets it to where virtual time stopped. The clock travels to the host process as LOCAL_TIME_SCALE,
 * LOCAL_TIME_EPOCH_MS and LOCAL_TIME_VIRTUAL_EPOCH_MS; an unset or empty setting takes its default.
 */

export interface Clock {
  readonly scale: number;
  /** Real epoch ms of the clock's anchor. */
  readonly epochMs: number;
  /** Virtual epoch ms at the anchor. */
  readonly virtualEpochMs: number;
  /** Virtual epoch milliseconds. */
  now(): number;
  /** Virtual now as a Date. */
  date(): Date;
  /** Real milliseconds to wait for `virtualMs` of virtual time to pass (never negative). */
  toRealDelayMs(virtualMs: number): number;
  /** Resolves after `virtualMs` of virtual time. */
  sleep(virtualMs: number): Promise<void>;
}

export interface ClockOptions {
  /** Virtual milliseconds per real millisecond; 1 = real time. */
  scale?: number;
  /** Real epoch ms of the anchor; default: now. */
  epochMs?: number;
  /** Virtual epoch ms at the anchor; default `epochMs`. */
  virtualEpochMs?: number;
}

export const CLOCK_SETTING_NAMES = [
  'LOCAL_TIME_SCALE',
  'LOCAL_TIME_EPOCH_MS',
  'LOCAL_TIME_VIRTUAL_EPOCH_MS',
] as const;

export type ClockSettings = Record<(typeof CLOCK_SETTING_NAMES)[number], string>;

export function createClock(options: ClockOptions = {}): Clock {
  const scale = options.scale ?? 1;
  const epochMs = options.epochMs ?? Date.now();
  const virtualEpochMs = options.virtualEpochMs ?? epochMs;
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(
      `clock: scale must be a positive number, got ${scale}; set LOCAL_TIME_SCALE=1 for real time`,
    );
  }
  for (const [name, value] of [
    ['epochMs (LOCAL_TIME_EPOCH_MS)', epochMs],
    ['virtualEpochMs (LOCAL_TIME_VIRTUAL_EPOCH_MS)', virtualEpochMs],
  ] as const) {
    if (!Number.isFinite(value)) throw new Error(`clock: ${name} must be a finite number, got ${value}`);
  }
  const now = (): number => virtualEpochMs + (Date.now() - epochMs) * scale;
  const toRealDelayMs = (virtualMs: number): number => Math.max(0, virtualMs / scale);
  return {
    scale,
    epochMs,
    virtualEpochMs,
    now,
    date: () => new Date(now()),
    toRealDelayMs,
    sleep: (virtualMs) => new Promise((resolve) => setTimeout(resolve, toRealDelayMs(virtualMs))),
  };
}

/** The settings that carry a clock to another process (the local Functions host). */
export function clockSettings(clock: Clock): ClockSettings {
  return {
    LOCAL_TIME_SCALE: String(clock.scale),
    LOCAL_TIME_EPOCH_MS: String(clock.epochMs),
    LOCAL_TIME_VIRTUAL_EPOCH_MS: String(clock.virtualEpochMs),
  };
}

/** The clock those settings describe. Unset or blank settings take their defaults (scale 1: real time). */
export function clockFromEnv(env: Record<string, string | undefined> = process.env): Clock {
  const read = (name: (typeof CLOCK_SETTING_NAMES)[number]): number | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got "${env[name]}".`);
    return value;
  };
  return createClock({
    scale: read('LOCAL_TIME_SCALE'),
    epochMs: read('LOCAL_TIME_EPOCH_MS'),
    virtualEpochMs: read('LOCAL_TIME_VIRTUAL_EPOCH_MS'),
  });
}
