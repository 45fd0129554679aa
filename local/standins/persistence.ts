/**
 * The stand-ins' state across restarts of a persistent stack (`npm start`), in two versioned files under
 * `<dir>/standins/` (mode 0600: they hold local stand-in keys, the same ones stack.json shows), each written
 * atomically:
 *
 * - `state.json`: the simulator's jobs, keys and request counters, Key Vault's secret versions and the stack's
 *   generated local keys. Written after every change a client relies on (a job created, a key or secret stored;
 *   the caller awaits it), within a second of any other change (a job finishing), and when the stack closes.
 * - `clock.json`: the virtual clock, a few bytes written once a second and when the stack closes.
 *
 * Virtual time while the stack is down: compressed time (scale ≠ 1) stands still, so a restarted stack goes on
 * from the virtual instant it stopped at, and a job still needs the virtual time it had left. After a crash
 * (no clean save) it goes on from the last checkpoint plus one checkpoint interval of virtual time, the most
 * that can have passed since, so time never runs backwards. Real time (scale 1) is the wall clock and keeps
 * passing while the stack is down, as GEM's jobs keep running while an app is stopped, unless an earlier
 * compressed run left virtual time ahead of the wall clock: then it goes on from there.
 *
 * A file that cannot be read, is not valid, or has another version is reported, moved aside and ignored: the
 * stand-ins then start afresh instead of failing.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { jsonFileWriter } from '../host/state.js';
import type { SecretVersion } from './keyvault.js';
import { type SimulatorState, simulatorStateSchema } from './simulator/state.js';

export const STANDIN_STATE_KIND = 'gem-flow.local-standins-state';
export const CLOCK_CHECKPOINT_KIND = 'gem-flow.local-clock';
export const STANDIN_STATE_VERSION = 1;
/** Real ms between clock checkpoints: after a crash, virtual time resumes at most this × scale later. */
export const CHECKPOINT_INTERVAL_MS = 1000;

export interface SavedClock {
  /** Virtual epoch ms when saved. */
  virtualMs: number;
  /** The scale it ran at. */
  scale: number;
  /** Real ms between checkpoints of that run. */
  checkpointMs: number;
}

/** What both files start with. */
interface SaveHeader<Kind extends string> {
  kind: Kind;
  version: typeof STANDIN_STATE_VERSION;
  /** Wall-clock ISO time of the save. */
  savedAt: string;
  /** True for the save made when the stack closed; false for checkpoints. */
  clean: boolean;
  /** The clock when saved. */
  clock: SavedClock;
}

/** The stand-ins' own state, without the header. */
export interface StandIns {
  /** The stack's generated local values, kept so stack.json and the app's settings stay the same. */
  stack: { apiKey: string; apiKeyWithoutGem: string; notifySigningSecret: string };
  simulator: SimulatorState;
  keyVault: Record<string, SecretVersion[]>;
}

export type StandInState = SaveHeader<typeof STANDIN_STATE_KIND> & StandIns;
export type ClockCheckpoint = SaveHeader<typeof CLOCK_CHECKPOINT_KIND>;

const secretVersionSchema = z.object({
  version: z.string(),
  value: z.string(),
  contentType: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  created: z.number(),
});

const clockSchema = z.object({
  virtualMs: z.number(),
  scale: z.number().positive(),
  checkpointMs: z.number().nonnegative(),
});

const headerShape = {
  version: z.literal(STANDIN_STATE_VERSION),
  savedAt: z.string(),
  clean: z.boolean(),
  clock: clockSchema,
};

const stateSchema: z.ZodType<StandInState> = z.object({
  kind: z.literal(STANDIN_STATE_KIND),
  ...headerShape,
  stack: z.object({
    apiKey: z.string().min(1),
    apiKeyWithoutGem: z.string().min(1),
    notifySigningSecret: z.string().min(1),
  }),
  simulator: simulatorStateSchema,
  keyVault: z.record(z.string(), z.array(secretVersionSchema)),
});

const clockCheckpointSchema: z.ZodType<ClockCheckpoint> = z.object({
  kind: z.literal(CLOCK_CHECKPOINT_KIND),
  ...headerShape,
});

export function standInStatePath(dir: string): string {
  return join(dir, 'standins', 'state.json');
}

export function clockCheckpointPath(dir: string): string {
  return join(dir, 'standins', 'clock.json');
}

export interface SavedStandIns {
  state?: StandInState;
  clock?: ClockCheckpoint;
  /** One sentence per unusable file, for the caller to report. */
  problems: string[];
}

/** What the last run under `dir` saved; missing files are a first start. */
export function loadStandIns(dir: string): SavedStandIns {
  const state = loadSaved(standInStatePath(dir), STANDIN_STATE_KIND, stateSchema);
  const clock = loadSaved(clockCheckpointPath(dir), CLOCK_CHECKPOINT_KIND, clockCheckpointSchema);
  return {
    ...(state.value ? { state: state.value } : {}),
    ...(clock.value ? { clock: clock.value } : {}),
    problems: [state.problem, clock.problem].filter((p): p is string => p !== undefined),
  };
}

/**
 * One saved file, if usable. Any problem is returned as a sentence, with the file moved to `<file>.ignored`
 * so that it is neither used nor overwritten.
 */
function loadSaved<T>(file: string, kind: string, schema: z.ZodType<T>): { value?: T; problem?: string } {
  if (!existsSync(file)) return {};
  const read = parseSaved(file, kind, schema);
  if ('value' in read) return read;
  const aside = `${file}.ignored`;
  try {
    renameSync(file, aside);
  } catch {
    // Leave it where it is; the next save replaces it.
  }
  return {
    problem: `The stand-ins' saved state ${file} ${read.problem}; it was moved to ${aside} and is not used (delete the stack dir to reset everything).`,
  };
}

function parseSaved<T>(file: string, kind: string, schema: z.ZodType<T>): { value: T } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return { problem: `cannot be read (${(error as Error).message})` };
  }
  const header = z.object({ kind: z.string(), version: z.unknown() }).safeParse(raw);
  if (!header.success || header.data.kind !== kind) return { problem: `is not a ${kind} file` };
  if (header.data.version !== STANDIN_STATE_VERSION) {
    const found = JSON.stringify(header.data.version);
    return { problem: `has version ${found}; this stack reads version ${STANDIN_STATE_VERSION}` };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { value: parsed.data };
  const first = parsed.error.issues[0]!;
  return { problem: `is not valid (${first.path.join('.') || 'document'}: ${first.message})` };
}

type ClockSave = Pick<ClockCheckpoint, 'clock' | 'clean'>;

/** Where virtual time goes on from after a restart at `scale`: the latest of the saves (see the module comment). */
export function resumedVirtualMs(saves: ClockSave[], scale: number, realNowMs: number): number {
  if (saves.length === 0) return realNowMs;
  const stoppedAt = Math.max(
    ...saves.map(({ clean, clock }) =>
      clean ? clock.virtualMs : clock.virtualMs + clock.checkpointMs * clock.scale,
    ),
  );
  return scale === 1 ? Math.max(stoppedAt, realNowMs) : stoppedAt;
}

export interface StateSaver {
  /** Writes the stand-ins' state now; resolves once it is on disk. */
  save(): Promise<void>;
  /** Stops the checkpoints and writes both files a last time, marked clean. Later saves do nothing. */
  close(): Promise<void>;
}

export interface Collected {
  clock: SavedClock;
  standIns: StandIns;
}

/**
 * Saves `collect()` under `dir`: the clock every `intervalMs`, the stand-ins on demand and at the same ticks
 * when they changed since their last save, and both when closed.
 */
export function startStateSaver(
  dir: string,
  collect: () => Collected,
  intervalMs = CHECKPOINT_INTERVAL_MS,
): StateSaver {
  const stateWriter = jsonFileWriter(standInStatePath(dir), { mode: 0o600 });
  const clockWriter = jsonFileWriter(clockCheckpointPath(dir), { mode: 0o600 });
  const header = (clean: boolean, clock: SavedClock) => ({
    version: STANDIN_STATE_VERSION as typeof STANDIN_STATE_VERSION,
    savedAt: new Date().toISOString(),
    clean,
    clock,
  });
  let lastSaved: string | undefined;
  let closed = false;
  const writeState = (
    clean: boolean,
    { clock, standIns }: Collected,
    serialised = JSON.stringify(standIns),
  ) => {
    lastSaved = serialised;
    const state: StandInState = { kind: STANDIN_STATE_KIND, ...header(clean, clock), ...standIns };
    return stateWriter.write(state);
  };
  const writeClock = (clean: boolean, clock: SavedClock) => {
    const checkpoint: ClockCheckpoint = { kind: CLOCK_CHECKPOINT_KIND, ...header(clean, clock) };
    return clockWriter.write(checkpoint);
  };
  const tick = () => {
    const collected = collect();
    const serialised = JSON.stringify(collected.standIns);
    const writes = [writeClock(false, collected.clock)];
    if (serialised !== lastSaved) writes.push(writeState(false, collected, serialised));
    Promise.all(writes).catch((error: unknown) => {
      console.error(`[stack] could not save the stand-ins' state under ${dir}: ${(error as Error).message}`);
    });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    save: () => (closed ? Promise.resolve() : writeState(false, collect())),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      const collected = collect();
      await Promise.all([writeState(true, collected), writeClock(true, collected.clock)]);
    },
  };
}
