/**
 * Virtual time for the local host. Virtual time equals real time at `epochMs` and then runs `scale` times
 * faster, so hours of durable timers and polling pass in seconds:
 *
 *   now() = epochMs + (Date.now() - epochMs) * scale
 *
 * The host reads LOCAL_TIME_SCALE / LOCAL_TIME_EPOCH_MS (the stand-ins apply the same formula, so their job
 * timestamps and the orchestrations' timers agree). Orchestration `currentUtcDateTime` comes from this clock.
 */

export interface Clock {
  readonly scale: number;
  readonly epochMs: number;
  /** Virtual epoch milliseconds. */
  now(): number;
  /** Real milliseconds to wait for `virtualMs` of virtual time to pass (never negative). */
  toRealDelayMs(virtualMs: number): number;
  /** Virtual now as a Date. */
  date(): Date;
}

export interface ClockOptions {
  /** Virtual milliseconds per real millisecond; 1 = real time. */
  scale?: number;
  /** Real epoch ms at which virtual and real time coincide; default: now. */
  epochMs?: number;
}

export function createClock(options: ClockOptions = {}): Clock {
  const scale = options.scale ?? 1;
  const epochMs = options.epochMs ?? Date.now();
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(
      `clock: scale must be a positive number, got ${scale}; set LOCAL_TIME_SCALE=1 for real time`,
    );
  }
  if (!Number.isFinite(epochMs)) {
    throw new Error(`clock: epochMs must be a finite number, got ${epochMs}; check LOCAL_TIME_EPOCH_MS`);
  }
  const now = (): number => epochMs + (Date.now() - epochMs) * scale;
  return {
    scale,
    epochMs,
    now,
    toRealDelayMs: (virtualMs) => Math.max(0, virtualMs / scale),
    date: () => new Date(now()),
  };
}

/** The clock described by LOCAL_TIME_SCALE / LOCAL_TIME_EPOCH_MS; unset means real time. */
export function clockFromEnv(env: Record<string, string | undefined> = process.env): Clock {
  const scale = env.LOCAL_TIME_SCALE ? Number(env.LOCAL_TIME_SCALE) : 1;
  const epochMs = env.LOCAL_TIME_EPOCH_MS ? Number(env.LOCAL_TIME_EPOCH_MS) : undefined;
  return createClock({ scale, epochMs });
}
