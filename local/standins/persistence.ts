/**
 * The stand-ins' state across restarts of a persistent stack (`npm start`): the virtual clock, the simulator's
 * jobs, keys and request counters, Key Vault's secret versions and the stack's generated local keys, in one
 * versioned file, `<dir>/standins/state.json` (mode 0600: it holds local stand-in keys, the same ones
 * stack.json shows). It is written atomically after every change a client relies on (a job created, a key or
 * secret stored), once a second as a clock checkpoint, and a last time, marked clean, when the stack closes.
 *
 * Virtual time while the stack is down: compressed time (scale ≠ 1) stands still, so a restarted stack goes on
 * from the virtual instant it stopped at, and a job still needs the virtual time it had left. After a crash
 * (no clean save) it goes on from the last checkpoint plus one checkpoint interval of virtual time, the most
 * that can have passed since, so time never runs backwards. Real time (scale 1) is the wall clock and keeps
 * passing while the stack is down, as GEM's jobs keep running while an app is stopped, unless an earlier
 * compressed run left virtual time ahead of the wall clock: then it goes on from there.
 *
 * A file that cannot be read, is not valid, or has another version is reported, moved aside and ignored: the
 * stack then starts fresh instead of failing.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { jsonFileWriter } from '../host/state.js';
import type { SecretVersion } from './keyvault.js';
import { type SimulatorState, simulatorStateSchema } from './simulator/index.js';

export const STANDIN_STATE_KIND = 'gem-flow.local-standins-state';
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

export interface StandInState {
  kind: typeof STANDIN_STATE_KIND;
  version: typeof STANDIN_STATE_VERSION;
  /** Wall-clock ISO time of the save. */
  savedAt: string;
  /** True for the save made when the stack closed; false for checkpoints. */
  clean: boolean;
  clock: SavedClock;
  /** The stack's generated local values, kept so stack.json and the app's settings stay the same. */
  stack: { apiKey: string; apiKeyWithoutGem: string; notifySigningSecret: string };
  simulator: SimulatorState;
  keyVault: Record<string, SecretVersion[]>;
}

const secretVersionSchema = z.object({
  version: z.string(),
  value: z.string(),
  contentType: z.string().optional(),
  tags: z.record(z.string(), z.string()).optional(),
  created: z.number(),
});

const stateSchema: z.ZodType<StandInState> = z.object({
  kind: z.literal(STANDIN_STATE_KIND),
  version: z.literal(STANDIN_STATE_VERSION),
  savedAt: z.string(),
  clean: z.boolean(),
  clock: z.object({
    virtualMs: z.number(),
    scale: z.number().positive(),
    checkpointMs: z.number().nonnegative(),
  }),
  stack: z.object({
    apiKey: z.string().min(1),
    apiKeyWithoutGem: z.string().min(1),
    notifySigningSecret: z.string().min(1),
  }),
  simulator: simulatorStateSchema,
  keyVault: z.record(z.string(), z.array(secretVersionSchema)),
});

export function standInStatePath(dir: string): string {
  return join(dir, 'standins', 'state.json');
}

export type LoadedState = { state?: StandInState; problem?: string };

/**
 * The saved state, if there is a usable one. A missing file is a first start; any other problem is returned
 * as a sentence for the caller to report, with the file moved to `<file>.ignored` so it is not overwritten.
 */
export function loadStandInState(file: string): LoadedState {
  if (!existsSync(file)) return {};
  const read = parseState(file);
  if ('state' in read) return read;
  const aside = `${file}.ignored`;
  try {
    renameSync(file, aside);
  } catch {
    // Leave it where it is; the next save replaces it.
  }
  return {
    problem: `The stand-ins' saved state ${file} ${read.problem}; it was moved to ${aside} and the stand-ins start afresh (delete the stack dir to reset everything).`,
  };
}

function parseState(file: string): { state: StandInState } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return { problem: `cannot be read (${(error as Error).message})` };
  }
  const header = z.object({ kind: z.string(), version: z.unknown() }).safeParse(raw);
  if (!header.success || header.data.kind !== STANDIN_STATE_KIND) {
    return { problem: 'is not a stand-in state file' };
  }
  if (header.data.version !== STANDIN_STATE_VERSION) {
    const found = JSON.stringify(header.data.version);
    return { problem: `has version ${found}; this stack reads version ${STANDIN_STATE_VERSION}` };
  }
  const parsed = stateSchema.safeParse(raw);
  if (parsed.success) return { state: parsed.data };
  const first = parsed.error.issues[0]!;
  return { problem: `is not valid (${first.path.join('.') || 'document'}: ${first.message})` };
}

/** Where virtual time goes on from after a restart at `scale` (see the module comment). */
export function resumedVirtualMs(
  saved: Pick<StandInState, 'clock' | 'clean'>,
  scale: number,
  realNowMs: number,
): number {
  const { virtualMs, scale: savedScale, checkpointMs } = saved.clock;
  const stoppedAt = saved.clean ? virtualMs : virtualMs + checkpointMs * savedScale;
  return scale === 1 ? Math.max(stoppedAt, realNowMs) : stoppedAt;
}

export interface StateSaver {
  /** Writes the current state (as a checkpoint); resolves once it is on disk. */
  save(): Promise<void>;
  /** Stops the checkpoints and writes the state a last time, marked clean. Later saves do nothing. */
  close(): Promise<void>;
}

/** Saves `collect()` to `file` now, once every `intervalMs`, on demand, and when closed. */
export function startStateSaver(
  file: string,
  collect: () => Omit<StandInState, 'kind' | 'version' | 'savedAt' | 'clean'>,
  intervalMs = CHECKPOINT_INTERVAL_MS,
): StateSaver {
  const writer = jsonFileWriter(file, { mode: 0o600 });
  let closed = false;
  const write = (clean: boolean): Promise<void> =>
    writer.write({
      kind: STANDIN_STATE_KIND,
      version: STANDIN_STATE_VERSION,
      savedAt: new Date().toISOString(),
      clean,
      ...collect(),
    } satisfies StandInState);
  const checkpoint = () => {
    write(false).catch((error: unknown) => {
      console.error(`[stack] could not save the stand-ins' state to ${file}: ${(error as Error).message}`);
    });
  };
  const timer = setInterval(checkpoint, intervalMs);
  timer.unref();
  checkpoint();
  return {
    save: () => (closed ? Promise.resolve() : write(false)),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await write(true);
    },
  };
}
