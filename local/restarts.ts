/**
 * When the local launcher restarts a Functions host that exited without being asked to (local/app.ts): after a
 * wait that doubles with each restart still inside a sliding window (1 s, 2 s, 4 s, … up to a cap), and not at
 * all once the window's restarts are used up, so a host that keeps dying is reported instead of spun. Pure
 * bookkeeping and wording, with the time source injectable for tests.
 */

export interface RestartPolicy {
  /** Restarts allowed within `windowMs`; the next exit inside the window leaves the host down. 0 = never. */
  maxRestarts: number;
  /** The sliding window in which restarts count. */
  windowMs: number;
  /** The wait before a restart when none is in the window; doubles for each one that is. */
  initialDelayMs: number;
  /** The longest wait. */
  maxDelayMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  maxRestarts: 5,
  windowMs: 10 * 60_000,
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
};

export interface PlannedRestart {
  /** This restart's number among those in the window (1 = the first). */
  restart: number;
  delayMs: number;
}

export interface RestartBudget {
  /** Plans a restart for an exit now, or returns undefined when the window's restarts are used up. */
  take(): PlannedRestart | undefined;
  /** Restarts in the window now. */
  inWindow(): number;
}

export function createRestartBudget(policy: RestartPolicy, now: () => number = Date.now): RestartBudget {
  let restarts: number[] = [];
  const prune = (t: number) => {
    restarts = restarts.filter((at) => t - at < policy.windowMs);
  };
  return {
    take() {
      const t = now();
      prune(t);
      if (restarts.length >= policy.maxRestarts) return undefined;
      const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** restarts.length);
      restarts.push(t);
      return { restart: restarts.length, delayMs };
    },
    inWindow() {
      prune(now());
      return restarts.length;
    },
  };
}

/** `code 1` or `signal SIGKILL`, as a child process's exit event reports it. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

/** The one line printed for each restart. */
export function restartLine(exit: string, planned: PlannedRestart, policy: RestartPolicy): string {
  return (
    `The Functions host exited unexpectedly (${exit}); restarting it in ${seconds(planned.delayMs)} on the ` +
    `same port and state (restart ${planned.restart} of at most ${policy.maxRestarts} in ${minutes(policy.windowMs)}).`
  );
}

/** Why the host stays down, the last exit, and where its output is. */
export function hostDownMessage(
  exit: string,
  restarts: number,
  policy: RestartPolicy | undefined,
  logFile: string | undefined,
): string {
  const where = logFile ? ` The host's output is in ${logFile}.` : '';
  if (!policy || policy.maxRestarts === 0) {
    return `The Functions host exited unexpectedly (${exit}).${where}`;
  }
  return (
    `The Functions host keeps exiting: ${restarts + 1} unexpected exits within ${minutes(policy.windowMs)}, the last ` +
    `one ${exit}. It is not restarted again; fix the cause and start again.${where}`
  );
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

function minutes(ms: number): string {
  return ms < 60_000 ? seconds(ms) : `${Math.round(ms / 6000) / 10} min`;
}
