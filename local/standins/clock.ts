/**
 * Virtual time for the local stack. GEM jobs take hours; with `scale` 600 one real second is ten virtual
 * minutes. Virtual time equals real time at `epochMs` and then runs `scale` times faster:
 *
 *   now() = epochMs + (Date.now() - epochMs) * scale
 *
 * The local Functions host reads LOCAL_TIME_SCALE / LOCAL_TIME_EPOCH_MS and must apply this same formula,
 * so the simulator's job timestamps and the orchestrations' durable timers agree.
 */

export interface VirtualClock {
  readonly scale: number;
  readonly epochMs: number;
  /** Virtual epoch milliseconds. */
  now(): number;
  /** Real milliseconds to wait for `virtualMs` of virtual time to pass (never negative). */
  toRealDelayMs(virtualMs: number): number;
  /** Resolves after `virtualMs` of virtual time. */
  sleep(virtualMs: number): Promise<void>;
}

export interface VirtualClockOptions {
  /** Virtual milliseconds per real millisecond; 1 = real time. */
  scale?: number;
  /** Real epoch ms at which virtual and real time coincide; default: now. */
  epochMs?: number;
}

export function createVirtualClock(options: VirtualClockOptions = {}): VirtualClock {
  const scale = options.scale ?? 1;
  const epochMs = options.epochMs ?? Date.now();
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(`virtual clock: scale must be a positive number, got ${scale}; use 1 for real time`);
  }
  if (!Number.isFinite(epochMs))
    throw new Error(`virtual clock: epochMs must be a finite number, got ${epochMs}`);
  const toRealDelayMs = (virtualMs: number): number => Math.max(0, virtualMs / scale);
  return {
    scale,
    epochMs,
    now: () => epochMs + (Date.now() - epochMs) * scale,
    toRealDelayMs,
    sleep: (virtualMs) => new Promise((resolve) => setTimeout(resolve, toRealDelayMs(virtualMs))),
  };
}

/** The settings that carry a clock to another process (the local Functions host). */
export function clockSettings(clock: VirtualClock): {
  LOCAL_TIME_SCALE: string;
  LOCAL_TIME_EPOCH_MS: string;
} {
  return { LOCAL_TIME_SCALE: String(clock.scale), LOCAL_TIME_EPOCH_MS: String(clock.epochMs) };
}

/** Rebuilds the clock from those settings; missing settings mean real time. */
export function clockFromSettings(env: Record<string, string | undefined>): VirtualClock {
  const scale = env.LOCAL_TIME_SCALE === undefined ? 1 : Number(env.LOCAL_TIME_SCALE);
  const epochMs = env.LOCAL_TIME_EPOCH_MS === undefined ? undefined : Number(env.LOCAL_TIME_EPOCH_MS);
  return createVirtualClock({ scale, epochMs });
}
