/**
 * What `npm start` says about the matches while it runs: one line when a match appears or changes phase
 * (with its GEM job id, GEM's status and the ETA once monitoring) and one when it ends, naming where its
 * outputs are. It learns this the way any client does, from the app's own status API (`GET /api/matches` with
 * the function key, read through the CLI's AppClient), so the app does not know anyone is listening and
 * nothing here is local-only in the app. Polling errors (a host restarting) are swallowed: the next poll
 * catches up, and a phase skipped between two polls is simply not printed.
 */
import { AppClient, type MatchStatus } from '../cli/appClient.js';
import { formatDuration } from '../cli/progress.js';
import type { TargetClock } from '../cli/target.js';

/** The part of a status that decides whether a line is due. */
type Seen = Pick<MatchStatus, 'phase' | 'runtimeStatus' | 'jobId' | 'gemStatus'>;

const TERMINAL_RUNTIME = new Set(['Completed', 'Failed', 'Terminated']);
/** The phases every run that gets that far passes through, in order (`notifying` only runs with a callback). */
const PHASE_ORDER: readonly string[] = ['validating', 'staging', 'submitting', 'monitoring', 'delivering'];
/** The outcomes reached through delivery. */
const DELIVERED = new Set(['succeeded', 'gem-failed', 'timed-out']);

/**
 * The lines for a match that changed since `previous` (phase, runtime status, job id or GEM status); none
 * when nothing did. A phase that began and ended between two polls gets a line saying so, so every phase a
 * run went through is on the terminal even at a time scale where phases last milliseconds.
 */
export function describeChange(
  previous: Seen | undefined,
  current: MatchStatus,
  clock: TargetClock,
): string[] {
  if (
    previous &&
    previous.phase === current.phase &&
    previous.runtimeStatus === current.runtimeStatus &&
    previous.jobId === current.jobId &&
    previous.gemStatus === current.gemStatus
  ) {
    return [];
  }
  const head = `[match] ${current.id}`;
  const skipped = skippedPhases(previous?.phase ?? null, current).map(
    (phase) => `${head} ${phase} (begun and done between two looks)`,
  );
  if (TERMINAL_RUNTIME.has(current.runtimeStatus)) return [...skipped, `${head} ${describeEnd(current)}`];
  const phase = current.phase ?? current.runtimeStatus.toLowerCase();
  const job = current.jobId === null ? '' : `, GEM job ${current.jobId}${gemStatusOf(current)}`;
  return [...skipped, `${head} ${phase}${job}${etaOf(current, clock)}`];
}

/** The phases of PHASE_ORDER strictly between the one last seen and where the run is now. */
function skippedPhases(before: string | null, current: MatchStatus): string[] {
  const from = before === null ? -1 : PHASE_ORDER.indexOf(before);
  if (before !== null && from < 0) return [];
  let to = current.phase ? PHASE_ORDER.indexOf(current.phase) : -1;
  if (to < 0) {
    // Ended: a delivered outcome went through delivering, an invalid input through validating; for a failure
    // the phase it ended in is unknown here.
    if (current.outcome === 'invalid-input') to = 1;
    else if (current.outcome && DELIVERED.has(current.outcome)) to = PHASE_ORDER.length;
    else return [];
  }
  return PHASE_ORDER.slice(from + 1, to);
}

function gemStatusOf(status: MatchStatus): string {
  return status.gemStatus ? ` ${status.gemStatus}` : '';
}

/** `, ETA 14:05:00Z (in 2h 10m; about 13s at 600×)`, or nothing before GEM has an estimate. */
function etaOf(status: MatchStatus, clock: TargetClock): string {
  const eta = status.estimatedCompletion ? Date.parse(status.estimatedCompletion) : Number.NaN;
  if (Number.isNaN(eta)) return '';
  const remainingSeconds = Math.max(0, (eta - clock.now()) / 1000);
  const realSeconds = remainingSeconds / clock.scale;
  const realText = realSeconds < 1 ? 'under 1s' : `about ${formatDuration(realSeconds)}`;
  const real = clock.scale === 1 ? '' : `; ${realText} at ${clock.scale}×`;
  return `, ETA ${new Date(eta).toISOString().slice(11, 19)}Z (in ${formatDuration(remainingSeconds)}${real})`;
}

/** The completion line: the outcome and where the outputs are (the outbox folder, and the CLI to fetch it). */
function describeEnd(status: MatchStatus): string {
  const outputs = Object.values(status.outputs).flatMap((ref) => (ref ? [ref.blob] : []));
  const folder = outputs[0]?.replace(/\/[^/]*$/, '/');
  const where = folder
    ? `; outputs in the outbox under ${folder} (${outputs.map((b) => b.slice(folder.length)).join(', ')}): ` +
      `npx gem-flow status ${status.id}, or npx gem-flow outbox ${outputs[0]}`
    : '';
  const outcome = status.outcome ?? status.runtimeStatus.toLowerCase();
  const job = status.jobId === null ? '' : ` (GEM job ${status.jobId}${gemStatusOf(status)})`;
  const error = status.error?.message ? `: ${status.error.message}` : '';
  return `${status.phase === 'completed' ? 'completed' : 'ended'} ${outcome}${job}${error}${where}`;
}

export interface MatchTalkOptions {
  baseUrl: string;
  functionKey: string;
  /** The stack's clock (the app's timestamps are on it). */
  clock: TargetClock;
  print: (line: string) => void;
  /** Real milliseconds between polls. */
  intervalMs?: number;
  fetch?: typeof fetch;
}

export interface MatchTalk {
  /** One poll now (the interval calls it too); resolves when its lines are printed. */
  poll(): Promise<void>;
  close(): void;
}

/**
 * Polls the newest page of matches. The first poll only learns what exists, printing the matches still
 * running (after a restart, where they are) and not the history of finished ones; later polls print changes.
 */
export function startMatchTalk(options: MatchTalkOptions): MatchTalk {
  const app = new AppClient({
    baseUrl: options.baseUrl,
    key: async () => options.functionKey,
    keySource: { origin: 'the stack', remedy: 'Restart npm start.' },
    unreachableRemedy: 'The host is restarting; npm start says so.',
    timeoutMs: 10_000,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const seen = new Map<string, Seen>();
  let primed = false;
  const pollOnce = async () => {
    const page = await app.listMatches({ top: 50 }).catch(() => undefined);
    if (!page) return;
    // Oldest first, so lines for several matches come in the order they were requested.
    for (const status of [...page.matches].reverse()) {
      const before = seen.get(status.id);
      const quietHistory = !primed && TERMINAL_RUNTIME.has(status.runtimeStatus);
      if (!quietHistory)
        for (const line of describeChange(before, status, options.clock)) options.print(line);
      const { phase, runtimeStatus, jobId, gemStatus } = status;
      seen.set(status.id, { phase, runtimeStatus, jobId, gemStatus });
    }
    primed = true;
  };
  // Polls run one after another: a poll asked for while one is under way runs after it, so its caller sees
  // the state from after its own call (the interval skips a beat instead of queueing).
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  const poll = () => {
    pending += 1;
    chain = chain.then(pollOnce).finally(() => {
      pending -= 1;
    });
    return chain;
  };
  const timer = setInterval(() => {
    if (pending === 0) void poll();
  }, options.intervalMs ?? 500);
  timer.unref();
  return { poll, close: () => clearInterval(timer) };
}
