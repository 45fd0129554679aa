/**
 * Timer triggers as the host runs them: 6-field NCRONTAB (a 5-field schedule is refused at start-up, as in
 * Azure), `%SETTING%` schedules, UTC, `runOnStartup`, `useMonitor` with a persisted ScheduleStatus that yields
 * `IsPastDue` after downtime (default: on for schedules that recur every minute or less often, off for more
 * frequent ones, as in Azure), and no overlapping runs of one timer, "Run now" included (Azure runs a timer
 * function as a singleton). Schedules follow the host's virtual clock.
 *
 * Schedule status is persisted in `<stateDir>/timers.json` as `{ [functionName]: {Last, Next, LastUpdated} }`
 * (virtual ISO times), the local counterpart of the `azure-webjobs-hosts/timers/...` status blobs.
 */
import { Cron } from 'croner';
import type { Clock } from './clock.js';
import { coreState, type InvocationLogLine, invokeFunction, triggerBinding } from './core.js';
import { resolveSettingReferences } from './settings.js';
import { type JsonState, loadJsonState } from './state.js';

export interface ScheduleStatus {
  Last: string;
  Next: string;
  LastUpdated: string;
}

export interface TimerTriggerOptions {
  clock: Clock;
  env: Record<string, string | undefined>;
  /** Where the schedule status is kept; undefined keeps it in memory only. */
  statusFile: string | undefined;
  log: (line: string) => void;
  invocationLog: (line: InvocationLogLine) => void;
}

export interface TimerTriggers {
  /** Runs the timer function now, as the portal's "Test/Run" does (no schedule status change). */
  runNow(functionName: string): Promise<void>;
  has(functionName: string): boolean;
  close(): Promise<void>;
}

/** .NET's default(DateTime), which the host reports as `Last` before a timer has ever run. */
const neverRun = '0001-01-01T00:00:00';
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface TimerJob {
  name: string;
  cron: Cron;
  useMonitor: boolean;
  running: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** Validates every timer's schedule; throws naming the function, before anything starts. */
export function compileSchedule(
  functionName: string,
  rawSchedule: unknown,
  env: TimerTriggerOptions['env'],
): Cron {
  if (typeof rawSchedule !== 'string' || rawSchedule.trim() === '') {
    throw new Error(`Timer function "${functionName}" has no schedule.`);
  }
  const schedule = resolveSettingReferences(
    rawSchedule,
    env,
    `the schedule of timer function "${functionName}"`,
  );
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(
      `The schedule expression '${schedule}' of timer function "${functionName}" was not recognized as a valid ` +
        `6-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week}); it has ${fields.length} fields. ` +
        `For example, every 5 minutes is '0 */5 * * * *'.`,
    );
  }
  try {
    // NCRONTAB requires both day-of-month and day-of-week to match (AND), unlike Vixie cron's OR.
    return new Cron(schedule, { timezone: 'UTC', mode: '6-part', domAndDow: true, paused: true });
  } catch (error) {
    throw new Error(
      `The schedule expression '${schedule}' of timer function "${functionName}" is invalid: ${(error as Error).message}`,
    );
  }
}

/** The timer service's state: the jobs, their persisted schedule status, and whether the host is stopping. */
interface TimerState {
  options: TimerTriggerOptions;
  jobs: Map<string, TimerJob>;
  /** `{ [functionName]: ScheduleStatus }`, for the timers with `useMonitor`. */
  statuses: JsonState<Record<string, ScheduleStatus>>;
  closed: boolean;
}

/** Prepares all timer functions (validating schedules), then starts them. */
export async function startTimerTriggers(options: TimerTriggerOptions): Promise<TimerTriggers> {
  const jobs = compileJobs(options.env);
  const state: TimerState = {
    options,
    jobs,
    statuses: await loadJsonState<Record<string, ScheduleStatus>>(options.statusFile, {}, 'timer status'),
    closed: false,
  };
  const now = options.clock.now();
  for (const job of jobs.values()) startJob(state, job, now);
  await state.statuses.save();

  return {
    has: (name) => jobs.has(name),
    runNow: (name) => runNow(state, name),
    async close() {
      state.closed = true;
      for (const job of jobs.values()) clearTimeout(job.timer);
      await Promise.all([...jobs.values()].map((job) => job.running));
      await state.statuses.flushed();
    },
  };
}

/** One job per timer function, its schedule compiled (throwing naming the function) before any starts. */
function compileJobs(env: TimerTriggerOptions['env']): Map<string, TimerJob> {
  const jobs = new Map<string, TimerJob>();
  for (const registration of coreState.registrations.values()) {
    const trigger = triggerBinding(registration);
    if (trigger.type.toLowerCase() !== 'timertrigger') continue;
    const name = registration.metadata.name;
    const compiled = compileSchedule(name, trigger.schedule, env);
    jobs.set(name, {
      name,
      cron: compiled,
      useMonitor:
        typeof trigger.useMonitor === 'boolean' ? trigger.useMonitor : shortestIntervalMs(compiled) >= 60_000,
      running: undefined,
      timer: undefined,
    });
  }
  return jobs;
}

/** Runs a past-due or `runOnStartup` occurrence, records a first status, and arms the schedule. */
function startJob(state: TimerState, job: TimerJob, now: number): void {
  const { log } = state.options;
  const statuses = state.statuses.value;
  const trigger = triggerBinding(coreState.registrations.get(job.name)!);
  const stored = statuses[job.name];
  if (job.useMonitor && stored && Date.parse(stored.Next) < now) {
    // An occurrence recorded as next passed while the host was down: run it now, past due.
    log(`Timer '${job.name}' is past due (its next run was ${stored.Next}); running it now.`);
    fire(state, job, Date.parse(stored.Next), true);
  } else if (trigger.runOnStartup === true) {
    fire(state, job, now, false, false);
  }
  if (job.useMonitor && !stored) {
    const next = nextAfter(job, now);
    statuses[job.name] = { Last: neverRun, Next: iso(next ?? now), LastUpdated: iso(now) };
  }
  schedule(state, job, now);
  log(`Timer '${job.name}': next occurrence ${iso(nextAfter(job, now) ?? now)} (UTC, virtual time).`);
}

const iso = (ms: number): string => new Date(ms).toISOString();

function nextAfter(job: TimerJob, virtualMs: number): number | undefined {
  return job.cron.nextRun(new Date(virtualMs))?.getTime();
}

async function invoke(
  state: TimerState,
  job: TimerJob,
  scheduledMs: number,
  isPastDue: boolean,
  updateStatus: boolean,
): Promise<void> {
  const { clock, log } = state.options;
  const statuses = state.statuses.value;
  const stored = statuses[job.name];
  // The function sees the status as stored before this run: Last = previous occurrence, Next = this one.
  const scheduleStatus = job.useMonitor
    ? {
        Last: stored?.Last ?? neverRun,
        Next: iso(scheduledMs),
        LastUpdated: stored?.LastUpdated ?? iso(clock.now()),
      }
    : null;
  const payload = {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: scheduleStatus,
    IsPastDue: isPastDue,
  };
  const result = await invokeFunction(
    job.name,
    { json: JSON.stringify(payload) },
    { log: state.options.invocationLog },
  );
  if (result.error) {
    const error = result.error as Error;
    log(`Executed '${job.name}' (Failed, Id=${result.invocationId}): ${error?.stack ?? String(error)}`);
  }
  if (job.useMonitor && updateStatus) {
    // From the later of the occurrence and now, so a past-due catch-up doesn't leave a past `Next`.
    const next = nextAfter(job, Math.max(scheduledMs, clock.now()));
    statuses[job.name] = {
      Last: iso(scheduledMs),
      Next: next === undefined ? iso(scheduledMs) : iso(next),
      LastUpdated: iso(clock.now()),
    };
    await state.statuses.save();
  }
}

/** Starts one run unless the previous run of this timer is still going (then the tick is skipped). */
function fire(
  state: TimerState,
  job: TimerJob,
  scheduledMs: number,
  isPastDue: boolean,
  updateStatus = true,
) {
  const { log } = state.options;
  if (job.running) {
    log(
      `Timer '${job.name}': skipping the occurrence at ${iso(scheduledMs)}; the previous run is still running.`,
    );
    return;
  }
  job.running = invoke(state, job, scheduledMs, isPastDue, updateStatus)
    .catch((error: unknown) => log(`Timer '${job.name}' could not run: ${(error as Error).message}`))
    .finally(() => {
      job.running = undefined;
    });
}

/** Waits (in real time) for the next virtual occurrence after `afterMs`; never loses an occurrence to jitter. */
function schedule(state: TimerState, job: TimerJob, afterMs: number): void {
  const { clock } = state.options;
  if (state.closed) return;
  let next = nextAfter(job, afterMs);
  if (next === undefined) return;
  // After a long stall (e.g. the machine slept), several occurrences may have passed: like the host,
  // run once for the latest of them, flagged past due, rather than replaying each one.
  let pastDue = false;
  for (
    let later = nextAfter(job, next);
    later !== undefined && later <= clock.now();
    later = nextAfter(job, next)
  ) {
    next = later;
    pastDue = true;
  }
  const at = next;
  const arm = (): void => {
    if (state.closed) return;
    const delay = clock.toRealDelayMs(at - clock.now());
    // setTimeout holds at most ~24.8 days; a yearly schedule re-arms until the occurrence is near.
    if (delay > MAX_TIMEOUT_MS) {
      job.timer = setTimeout(arm, MAX_TIMEOUT_MS);
      return;
    }
    job.timer = setTimeout(() => {
      fire(state, job, at, pastDue);
      schedule(state, job, at);
    }, delay);
  };
  arm();
}

/**
 * Singleton: waits for a run in progress (scheduled or manual), then holds the timer for this run, so a
 * scheduled occurrence falling inside it is skipped as for any overlapping run.
 */
async function runNow(state: TimerState, name: string): Promise<void> {
  const job = state.jobs.get(name);
  if (!job) throw new Error(`"${name}" is not a timer function.`);
  while (job.running) await job.running;
  const run = invoke(state, job, state.options.clock.now(), false, false);
  job.running = run
    .catch(() => undefined) // reported to the caller by `await run`
    .finally(() => {
      job.running = undefined;
    });
  await run;
}

/**
 * The shortest gap between the next few occurrences (from now, real time; only the schedule's shape matters).
 * Azure turns `useMonitor` off by default when a schedule recurs more often than once a minute.
 */
function shortestIntervalMs(cron: Cron): number {
  let shortest = Number.POSITIVE_INFINITY;
  let previous = cron.nextRun();
  for (let i = 0; i < 10 && previous; i++) {
    const next = cron.nextRun(previous);
    if (!next) break;
    shortest = Math.min(shortest, next.getTime() - previous.getTime());
    previous = next;
  }
  return shortest;
}
