/**
 * Follows one match until it ends: polls its status, feeds the progress tracker and renderer, and returns the
 * final status. A match that does not exist yet (an upload whose event has not started it) is waited for;
 * `whileMissing` can end the wait with an error (an upload whose options were rejected never gets a match).
 * Ctrl-C (the signal) stops following, never the match.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { AppClient, MatchStatus } from './appClient.js';
import { CliError, EXIT } from './errors.js';
import type { Output } from './output.js';
import { createProgressTracker } from './progress.js';
import type { TargetClock } from './target.js';

export interface FollowOptions {
  app: AppClient;
  id: string;
  output: Output;
  clock: TargetClock;
  intervalMs: number;
  /** Real epoch ms the match was requested, when known (the CLI uploaded the file). */
  requestedAtMs?: number;
  /** Asked after each poll that found no match: a CliError ends the wait. Without it, a missing match is an error. */
  whileMissing?: () => Promise<CliError | undefined>;
  /** A note printed once when the match has not appeared after this many ms. */
  missingHint?: { afterMs: number; text: string };
  signal?: AbortSignal;
  realNow?: () => number;
}

export async function followMatch(options: FollowOptions): Promise<MatchStatus> {
  const realNow = options.realNow ?? Date.now;
  const renderer = options.output.progress();
  const tracker = createProgressTracker({
    clock: options.clock,
    realNow,
    ...(options.requestedAtMs !== undefined ? { requestedAtMs: options.requestedAtMs } : {}),
  });
  const began = realNow();
  let hinted = false;
  const read = tolerantReader(options, renderer.note.bind(renderer), realNow);
  renderer.startTicking(() => tracker.current());
  try {
    for (;;) {
      const status = await read();
      if (status === UNANSWERED) {
        await pause(options.intervalMs, options.signal, options.id);
        continue;
      }
      if (status) {
        const view = tracker.update(status);
        renderer.update(view);
        if (view.terminal) return status;
      } else {
        if (!options.whileMissing) throw matchNotFound(options.id);
        const stop = await options.whileMissing();
        if (stop) throw stop;
        if (options.missingHint && !hinted && realNow() - began > options.missingHint.afterMs) {
          hinted = true;
          renderer.note(options.missingHint.text);
        }
      }
      await pause(options.intervalMs, options.signal, options.id);
    }
  } finally {
    renderer.stop();
  }
}

/** How long a followed match may go unanswered (app restarting, a cold start, a network blip) before it is an error. */
export const UNANSWERED_TOLERANCE_MS = 120_000;
/** Failures worth waiting out: the app not answering, or answering with a server error. A refused key is not. */
const TRANSIENT = new Set(['AppUnreachable', 'AppError']);
const UNANSWERED = Symbol('unanswered');

/**
 * Reads the status, riding out transient failures for up to UNANSWERED_TOLERANCE_MS in a row (with one note
 * when they begin and one when they end): a match followed for hours outlives a host restart or a redeploy.
 */
function tolerantReader(
  options: FollowOptions,
  note: (line: string) => void,
  realNow: () => number,
): () => Promise<MatchStatus | undefined | typeof UNANSWERED> {
  let failingSince: number | undefined;
  return async () => {
    try {
      const status = await options.app.getMatch(options.id);
      if (failingSince !== undefined) note('The app answers again.');
      failingSince = undefined;
      return status;
    } catch (error) {
      if (!(error instanceof CliError) || !TRANSIENT.has(error.code)) throw error;
      if (failingSince === undefined) {
        failingSince = realNow();
        note(`${error.summary} Retrying for up to ${UNANSWERED_TOLERANCE_MS / 1000} s.`);
      } else if (realNow() - failingSince > UNANSWERED_TOLERANCE_MS) {
        throw error;
      }
      return UNANSWERED;
    }
  };
}

export interface StartWaitOptions {
  app: AppClient;
  id: string;
  intervalMs: number;
  timeoutMs: number;
  whileMissing: () => Promise<CliError | undefined>;
  signal?: AbortSignal;
  realNow?: () => number;
}

/** The match's first status once the app has started it; undefined when it has not within the timeout. */
export async function waitForStart(options: StartWaitOptions): Promise<MatchStatus | undefined> {
  const realNow = options.realNow ?? Date.now;
  const deadline = realNow() + options.timeoutMs;
  for (;;) {
    const status = await options.app.getMatch(options.id);
    if (status) return status;
    const stop = await options.whileMissing();
    if (stop) throw stop;
    if (realNow() >= deadline) return undefined;
    await pause(Math.min(options.intervalMs, Math.max(0, deadline - realNow())), options.signal, options.id);
  }
}

export function matchNotFound(id: string): CliError {
  return new CliError('MatchNotFound', EXIT.failed, `The app has no match "${id}".`, {
    remedy: 'List the matches with `gem-flow list` (finished matches are purged after MATCH_RETENTION_DAYS).',
  });
}

async function pause(ms: number, signal: AbortSignal | undefined, id: string): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error;
    throw new CliError(
      'Interrupted',
      EXIT.interrupted,
      `Stopped following ${id}; the match itself goes on.`,
      {
        remedy: `Follow it again with \`gem-flow status ${id} --watch\`, or cancel it with \`gem-flow cancel ${id}\`.`,
      },
    );
  }
}
