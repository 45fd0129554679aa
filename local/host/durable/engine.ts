/**
 * The extension side of Durable Functions: history, episodes, activities, retries, timers, events,
 * sub-orchestrations, continueAsNew, terminate/suspend/resume/purge and non-determinism detection. The replay
 * itself is durable-functions' own code, reached through the worker protocol (`invokeFunction`).
 *
 * ONE new completion event per episode: `OrchestratorStarted(now)` + exactly one event. With that rule the
 * engine allocates sequence ids exactly as the SDK does (new actions take the next ids in flattened order; a
 * retryable failure takes the next id for its retry timer; a retry timer firing with attempts left takes the
 * next id for the re-attempt; a piece of a long timer firing takes the next id for the next piece). DTFx
 * batches messages instead; the outcome is the same for deterministic code. Where DTFx itself schedules
 * nothing (a retry whose timeout has passed), the engine schedules nothing either, as on Azure.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { coreState, hostValue, type InvocationLogLine, invokeFunction, triggerBinding } from '../core.js';
import { activityFailure, orchestratorFailure } from './failures.js';
import {
  type Action,
  ActionType,
  actionSignature,
  EventType,
  flattenActions,
  type HistoryEvent,
  isoNow,
  type LocalRetry,
  type OrchestratorState,
} from './history.js';
import {
  firstPieceFireAt,
  LONG_RUNNING_TIMER_INTERVAL_DURATION,
  MAXIMUM_SHORT_TIMER_DURATION,
  nextPieceFireAt,
} from './longTimers.js';
import { nextRetry } from './retry.js';
import {
  type CommittedAction,
  type DurableStore,
  type InboxMessage,
  type InstanceRecord,
  type ParentLink,
  PayloadTooLargeError,
  type StoredMessage,
  TERMINAL,
} from './store.js';

export interface EngineOptions {
  store: DurableStore;
  clock: Pick<Clock, 'now' | 'toRealDelayMs'>;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  log: (line: string) => void;
}

/** Retry bookkeeping plus what a re-attempt needs to schedule the same work again. */
interface RetryInfo extends LocalRetry {
  kind: 'activity' | 'suborchestration';
  name: string;
  input: string | null;
  instanceId?: string;
}

class Semaphore {
  #free: number;
  #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = Math.max(1, Math.floor(size) || 1);
  }
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** In-memory view of one instance; the store is the truth, this is rebuilt from it on start. */
class Live {
  history: HistoryEvent[] = [];
  committed: CommittedAction[] = [];
  canceledTimers = new Set<number>();
  /** id → TaskScheduled / SubOrchestrationInstanceCreated / TimerCreated */
  scheduled = new Map<number, HistoryEvent>();
  /** ids whose completion is in history */
  done = new Set<number>();
  nextSeq = 0;
  inbox: StoredMessage[] = [];
  timers = new Map<number, NodeJS.Timeout>();
  dispatched = new Set<string>();
  lock: Promise<unknown> = Promise.resolve();
  pumping = false;
  gone = false;
  constructor(public record: InstanceRecord) {}

  reset(): void {
    this.history = [];
    this.committed = [];
    this.canceledTimers.clear();
    this.scheduled.clear();
    this.done.clear();
    this.nextSeq = 0;
    this.clearTimers();
  }
  clearTimers(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
  absorb(events: HistoryEvent[]): void {
    for (const event of events) {
      event.IsPlayed = true; // later episodes replay it
      this.history.push(event);
      switch (event.EventType) {
        case EventType.TaskScheduled:
        case EventType.SubOrchestrationInstanceCreated:
        case EventType.TimerCreated:
          this.scheduled.set(event.EventId, event);
          this.nextSeq = Math.max(this.nextSeq, event.EventId + 1);
          break;
        default: {
          const id = completionId(event);
          if (id !== undefined) this.done.add(id);
        }
      }
    }
  }
}

export class OrchestrationError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

function completionId(event: HistoryEvent): number | undefined {
  switch (event.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return event.TaskScheduledId;
    case EventType.TimerFired:
      return event.TimerId;
    default:
      return undefined;
  }
}

function errorText(error: unknown): { message: string; stack: string } {
  if (error instanceof Error) return { message: error.message, stack: error.stack ?? error.message };
  const text = typeof error === 'string' ? error : JSON.stringify(error);
  return { message: text, stack: text };
}

const OUT_OF_PROC = '$OutOfProcData$:';
const UNSUPPORTED: Record<number, string> = {
  [ActionType.CallEntity]: 'callEntity (durable entities)',
  [ActionType.SignalEntity]: 'signalEntity (durable entities)',
  [ActionType.LockEntities]: 'lock (durable entities)',
  [ActionType.ReleaseEntities]: 'entity locks',
  [ActionType.CallHttp]: 'callHttp',
};

export class DurableEngineCore {
  readonly instances = new Map<string, Live>();
  /** The latest pending `create` per instance id (see `create`). */
  readonly #creating = new Map<string, Promise<void>>();
  readonly #store: DurableStore;
  readonly #clock: EngineOptions['clock'];
  readonly #log: (line: string) => void;
  readonly #activities: Semaphore;
  readonly #orchestrators: Semaphore;
  readonly #activityLimit: number;
  /** Activity invocations running right now, the most at once, and how many have run. */
  readonly #activityGauge = { running: 0, peak: 0, invocations: 0 };
  #closed = false;

  constructor(options: EngineOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#activities = new Semaphore(options.maxConcurrentActivityFunctions);
    this.#activityLimit = options.maxConcurrentActivityFunctions;
    this.#orchestrators = new Semaphore(options.maxConcurrentOrchestratorFunctions);
  }

  get store(): DurableStore {
    return this.#store;
  }

  /**
   * Activity concurrency as measured around the function invocations themselves (not the semaphore), so it
   * shows what really ran at once against `maxConcurrentActivityFunctions`.
   */
  activityStats(): { limit: number; running: number; peak: number; invocations: number } {
    return { limit: this.#activityLimit, ...this.#activityGauge };
  }

  now(): number {
    return this.#clock.now();
  }

  isOrchestration(name: string): boolean {
    const registration = coreState.registrations.get(name);
    return !!registration && triggerBinding(registration).type === 'orchestrationTrigger';
  }

  // ---------------------------------------------------------------- start-up and crash recovery

  /** Loads every instance; non-terminal ones get their pending work re-armed and their inbox replayed. */
  async start(): Promise<void> {
    const records = await this.#store.listRecords();
    for (const record of records) this.instances.set(record.instanceId, new Live(record));
    let resumed = 0;
    for (const live of this.instances.values()) {
      if (TERMINAL.has(live.record.runtimeStatus)) continue;
      await this.#recover(live);
      resumed++;
    }
    if (resumed) this.#log(`[durable] resumed ${resumed} unfinished orchestration instance(s)`);
  }

  async #recover(live: Live): Promise<void> {
    const state = await this.#store.loadPartition(live.record.instanceId);
    if (!state.record) return;
    live.record = state.record;
    live.reset();
    for (const episode of state.episodes) {
      live.absorb(episode.events);
      live.committed.push(...episode.actions);
      for (const id of episode.canceledTimers) live.canceledTimers.add(id);
    }
    live.inbox = state.messages;
    sortInbox(live);
    if (state.staleKeys.length) await this.#store.deleteRows(live.record.instanceId, state.staleKeys);
    this.#rearm(live);
    this.#pump(live);
  }

  /** Re-dispatches activities, re-arms timers and re-checks children whose completion is not yet known. */
  #rearm(live: Live): void {
    const executionId = live.record.executionId;
    const waiting = new Set(
      live.inbox
        .filter((m) => !m.executionId || m.executionId === executionId)
        .map((m) => completionId(m.event))
        .filter((id): id is number => id !== undefined),
    );
    for (const [id, event] of live.scheduled) {
      if (live.done.has(id) || waiting.has(id)) continue;
      if (event.EventType === EventType.TaskScheduled) this.#dispatchActivity(live, executionId, event);
      else if (event.EventType === EventType.TimerCreated && !live.canceledTimers.has(id)) {
        this.#armTimer(live, executionId, event);
      } else if (event.EventType === EventType.SubOrchestrationInstanceCreated) {
        void this.#ensureChild(live, executionId, event).catch((e) => this.#fault(live, e));
      }
    }
  }

  // ---------------------------------------------------------------- the episode loop

  #withLock<T>(live: Live, work: () => Promise<T>): Promise<T> {
    const next = live.lock.then(work, work);
    live.lock = next.catch(() => undefined);
    return next;
  }

  #canRun(live: Live): boolean {
    return !live.gone && (live.record.runtimeStatus === 'Running' || live.record.runtimeStatus === 'Pending');
  }

  /** Runs queued events one episode at a time; a suspended instance keeps them buffered. */
  #pump(live: Live): void {
    if (live.pumping || this.#closed) return;
    live.pumping = true;
    void (async () => {
      try {
        while (!this.#closed) {
          const message = live.inbox[0];
          if (!message) break;
          if (TERMINAL.has(live.record.runtimeStatus) || live.gone) {
            await this.#dropInbox(live);
            break;
          }
          if (!this.#canRun(live)) break;
          await this.#withLock(live, () => this.#process(live, message));
        }
      } catch (error) {
        this.#fault(live, error);
      } finally {
        live.pumping = false;
      }
    })();
  }

  #fault(live: Live, error: unknown): void {
    const { stack } = errorText(error);
    this.#log(`[durable] instance ${live.record.instanceId}: ${stack}; retrying in 1 s`);
    // Storage hiccup: nothing was applied in memory (state changes only after a commit), so try again.
    setTimeout(() => this.#pump(live), 1000).unref();
  }

  async #dropInbox(live: Live): Promise<void> {
    const keys = live.inbox.map((m) => m.key);
    live.inbox = [];
    if (!live.gone) await this.#store.deleteRows(live.record.instanceId, keys);
  }

  async #drop(live: Live, message: StoredMessage): Promise<void> {
    await this.#store.deleteRows(live.record.instanceId, [message.key]);
    live.inbox = live.inbox.filter((m) => m !== message);
  }

  async #process(live: Live, message: StoredMessage): Promise<void> {
    if (live.inbox[0] !== message || !this.#canRun(live)) return;
    const record = live.record;
    const event = message.event;
    const id = completionId(event);
    const stale =
      (message.executionId !== undefined && message.executionId !== record.executionId) ||
      (id !== undefined && live.done.has(id)) ||
      (event.EventType === EventType.TimerFired && live.canceledTimers.has(event.TimerId ?? -1)) ||
      (event.EventType === EventType.ExecutionStarted &&
        live.history.some((h) => h.EventType === EventType.ExecutionStarted));
    if (stale) return this.#drop(live, message);
    await this.#episode(live, message);
  }

  async #episode(live: Live, message: StoredMessage): Promise<void> {
    const record = live.record;
    const now = this.#clock.now();
    const newEvent: HistoryEvent = { ...message.event, IsPlayed: false };
    const started: HistoryEvent = {
      EventType: EventType.OrchestratorStarted,
      EventId: -1,
      IsPlayed: false,
      Timestamp: isoNow(now),
    };
    let nextSeq = live.nextSeq;
    const retryEvents = this.#followUpEvents(live, newEvent, now, () => nextSeq++);

    const payload = {
      history: [...live.history, started, newEvent],
      input: record.input ?? null,
      instanceId: record.instanceId,
      isReplaying: live.history.length > 0,
      parentInstanceId: record.parent?.instanceId ?? null,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      // The Azure Storage provider's limits, so long timers take the same path as on Azure (longTimers.ts).
      longRunningTimerIntervalDuration: LONG_RUNNING_TIMER_INTERVAL_DURATION,
      maximumShortTimerDuration: MAXIMUM_SHORT_TIMER_DURATION,
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    const result = await this.#orchestrators
      .run(() =>
        invokeFunction(record.name, { string: JSON.stringify(payload) }, { log: this.#invocationLog }),
      )
      // e.g. the orchestrator is no longer registered after a code change: fail the instance, don't loop.
      .catch((error: unknown) => ({ error, returnValue: undefined }));

    let state: OrchestratorState | undefined;
    let failure: { message: string; details: string } | undefined;
    if (result.error !== undefined) {
      const { message: text, stack } = errorText(result.error);
      const at = text.indexOf(OUT_OF_PROC);
      if (at >= 0) {
        state = JSON.parse(text.slice(at + OUT_OF_PROC.length)) as OrchestratorState;
        const error = state.error ?? text.slice(0, at).trim();
        failure = { message: error, details: orchestratorFailure(record.name, error).Details };
      } else {
        failure = { message: text, details: stack };
      }
    } else {
      const value = result.returnValue;
      const raw = value?.json ?? value?.string;
      if (raw === undefined) {
        failure = { message: 'the orchestrator binding returned no OrchestratorState', details: '' };
      } else {
        state = JSON.parse(raw) as OrchestratorState;
      }
    }

    const events: HistoryEvent[] = [started, newEvent, ...retryEvents];
    const committed: CommittedAction[] = [];
    const canceledTimers: number[] = [];
    const afterCommit: (() => void)[] = [];
    let nondeterminism: string | undefined;
    let continueAsNew: Action | undefined;

    if (state) {
      const flat = flattenActions(state.actions);
      nondeterminism = this.#checkDeterminism(live, flat);
      if (!nondeterminism) {
        flat.slice(0, live.committed.length).forEach((action, i) => {
          const timerId = live.committed[i].id;
          if (action.actionType === ActionType.CreateTimer && action.isCanceled && timerId !== undefined) {
            const piece = currentTimerPiece(live, timerId, retryEvents);
            if (!live.canceledTimers.has(piece)) canceledTimers.push(piece);
          }
        });
        for (const action of flat.slice(live.committed.length)) {
          const sig = actionSignature(action);
          switch (action.actionType) {
            case ActionType.CallActivity:
            case ActionType.CallActivityWithRetry: {
              const seq = nextSeq++;
              const input = encodeActivityInput(action.input);
              const scheduled: HistoryEvent = {
                EventType: EventType.TaskScheduled,
                EventId: seq,
                IsPlayed: false,
                Timestamp: isoNow(now),
                Name: action.functionName,
                Input: input,
                ...(action.retryOptions
                  ? { LocalRetry: retryInfo(action, 'activity', input, undefined, action.retryOptions, now) }
                  : {}),
              };
              events.push(scheduled);
              committed.push({ sig, id: seq });
              break;
            }
            case ActionType.CallSubOrchestrator:
            case ActionType.CallSubOrchestratorWithRetry: {
              const seq = nextSeq++;
              const input = action.input === undefined ? null : JSON.stringify(action.input);
              const created: HistoryEvent = {
                EventType: EventType.SubOrchestrationInstanceCreated,
                EventId: seq,
                IsPlayed: false,
                Timestamp: isoNow(now),
                Name: action.functionName,
                InstanceId: action.instanceId || `${record.executionId}:${seq}`,
                Input: input,
                ...(action.retryOptions
                  ? {
                      LocalRetry: retryInfo(
                        action,
                        'suborchestration',
                        input,
                        action.instanceId || undefined,
                        action.retryOptions,
                        now,
                      ),
                    }
                  : {}),
              };
              events.push(created);
              committed.push({ sig, id: seq });
              break;
            }
            case ActionType.CreateTimer: {
              const seq = nextSeq++;
              events.push(timerCreated(seq, now, Date.parse(action.fireAt ?? '') || now));
              committed.push({ sig, id: seq });
              if (action.isCanceled) canceledTimers.push(seq);
              break;
            }
            case ActionType.WaitForExternalEvent:
              committed.push({ sig });
              break;
            case ActionType.ContinueAsNew:
              continueAsNew = action;
              committed.push({ sig });
              break;
            default:
              failure ??= {
                message:
                  `${UNSUPPORTED[action.actionType] ?? `action type ${action.actionType}`} is not supported by the ` +
                  'local host (durable entities and callHttp are out of its scope); call an activity instead.',
                details: '',
              };
          }
        }
      }
    }

    // Everything new in this episode, before the outcome is decided.
    const scheduledNow = events.filter(
      (e) =>
        e.EventType === EventType.TaskScheduled ||
        e.EventType === EventType.TimerCreated ||
        e.EventType === EventType.SubOrchestrationInstanceCreated,
    );
    const next: InstanceRecord = {
      ...record,
      runtimeStatus: 'Running',
      lastUpdatedTime: isoNow(now),
      episodes: record.episodes + 1,
    };
    if (state?.customStatus !== undefined) next.customStatus = state.customStatus;

    let outcome: 'running' | 'completed' | 'failed' | 'continued' = 'running';
    let failureDetails = '';
    if (nondeterminism || failure) {
      outcome = 'failed';
      next.runtimeStatus = 'Failed';
      next.output = nondeterminism ?? orchestratorFailure(record.name, failure?.message ?? '').Reason;
      failureDetails = failure?.details ?? '';
      // A failed instance schedules nothing: drop this episode's new work from its history.
      events.splice(2, events.length - 2);
      committed.length = 0;
      events.push({
        EventType: EventType.ExecutionCompleted,
        EventId: -1,
        IsPlayed: false,
        Timestamp: isoNow(now),
        OrchestrationStatus: 'Failed',
        Result: JSON.stringify(next.output),
      });
    } else if (state?.isDone && continueAsNew) {
      outcome = 'continued';
    } else if (state?.isDone) {
      outcome = 'completed';
      next.runtimeStatus = 'Completed';
      next.output = state.output ?? null;
      events.push({
        EventType: EventType.ExecutionCompleted,
        EventId: -1,
        IsPlayed: false,
        Timestamp: isoNow(now),
        OrchestrationStatus: 'Completed',
        Result: state.output === undefined ? null : JSON.stringify(state.output),
      });
    }
    events.push({
      EventType: EventType.OrchestratorCompleted,
      EventId: -1,
      IsPlayed: false,
      Timestamp: isoNow(now),
    });

    if (outcome === 'continued') {
      // New execution, fresh history; the SDK JSON-encodes a string input (processInput), so un-quote it.
      const raw = continueAsNew?.input;
      const input = typeof raw === 'string' ? safeParse(raw) : (raw ?? null);
      const executionId = newExecutionId();
      // The Azure Storage provider's instance row takes CreatedTime from the new generation's
      // ExecutionStarted (DurableTask.AzureStorage AzureTableTrackingStore.UpdateStateAsync), and DTFx stamps
      // that event when it continues the instance as new (TaskOrchestrationDispatcher).
      const restarted: InstanceRecord = {
        ...next,
        executionId,
        input,
        output: null,
        episodes: 0,
        runtimeStatus: 'Running',
        createdTime: isoNow(now),
      };
      const startedMessage = this.#executionStarted(restarted, now);
      let key: string | undefined;
      try {
        [key] = await this.#store.commit({
          record: restarted,
          addMessages: [startedMessage],
          deleteMessages: [message.key],
        });
      } catch (error) {
        if (!(error instanceof PayloadTooLargeError)) throw error;
        return this.#failTooLarge(live, message, started, now, error);
      }
      live.record = restarted;
      live.reset();
      live.inbox = live.inbox.filter((m) => m !== message);
      live.inbox.unshift({ key: key ?? '', ...startedMessage });
      sortInbox(live);
      const stale = (await this.#store.loadPartition(record.instanceId)).staleKeys;
      await this.#store.deleteRows(record.instanceId, stale);
      return;
    }

    try {
      await this.#store.commit({
        record: next,
        episode: { index: next.episodes, row: { events, actions: committed, canceledTimers } },
        deleteMessages: [message.key],
      });
    } catch (error) {
      // Retrying cannot shrink the row: fail the instance instead of retrying it forever.
      if (!(error instanceof PayloadTooLargeError)) throw error;
      return this.#failTooLarge(live, message, started, now, error);
    }
    // Committed: now (and only now) apply to memory and start side effects.
    live.record = next;
    live.absorb(events);
    live.committed.push(...committed);
    for (const id of canceledTimers) {
      live.canceledTimers.add(id);
      clearTimeout(live.timers.get(id));
      live.timers.delete(id);
    }
    live.inbox = live.inbox.filter((m) => m !== message);

    if (outcome === 'running') {
      for (const event of scheduledNow) {
        if (event.EventType === EventType.TaskScheduled) {
          afterCommit.push(() => this.#dispatchActivity(live, next.executionId, event));
        } else if (event.EventType === EventType.TimerCreated) {
          if (!live.canceledTimers.has(event.EventId)) {
            afterCommit.push(() => this.#armTimer(live, next.executionId, event));
          }
        } else {
          afterCommit.push(
            () => void this.#ensureChild(live, next.executionId, event).catch((e) => this.#fault(live, e)),
          );
        }
      }
    } else {
      live.clearTimers();
      afterCommit.push(() => this.#notifyParentReliably(next, failureDetails));
      if (outcome === 'failed') {
        this.#log(`[durable] ${next.name} (${next.instanceId}) failed: ${next.output as string}`);
      }
    }
    for (const effect of afterCommit) effect();
  }

  /**
   * Fails the instance when an episode's row would not fit in a Table entity (a large output, custom status or
   * continueAsNew input): the event that caused the episode is consumed, nothing new is scheduled.
   */
  async #failTooLarge(
    live: Live,
    message: StoredMessage,
    started: HistoryEvent,
    now: number,
    error: PayloadTooLargeError,
  ): Promise<void> {
    const record = live.record;
    const next: InstanceRecord = {
      ...record,
      runtimeStatus: 'Failed',
      output: `Orchestrator function '${record.name}' failed: ${error.message}`,
      lastUpdatedTime: isoNow(now),
      episodes: record.episodes + 1,
    };
    const events: HistoryEvent[] = [
      started,
      {
        EventType: EventType.ExecutionCompleted,
        EventId: -1,
        IsPlayed: false,
        Timestamp: isoNow(now),
        OrchestrationStatus: 'Failed',
        Result: JSON.stringify(next.output),
      },
      { EventType: EventType.OrchestratorCompleted, EventId: -1, IsPlayed: false, Timestamp: isoNow(now) },
    ];
    await this.#store.commit({
      record: next,
      episode: { index: next.episodes, row: { events, actions: [], canceledTimers: [] } },
      deleteMessages: [message.key],
    });
    live.record = next;
    live.absorb(events);
    live.clearTimers();
    live.inbox = live.inbox.filter((m) => m !== message);
    this.#log(`[durable] ${next.name} (${next.instanceId}) failed: ${next.output as string}`);
    this.#notifyParentReliably(next, error.stack ?? error.message);
  }

  /** Delivers the child's outcome; a storage error is retried, never left as an unhandled rejection. */
  #notifyParentReliably(child: InstanceRecord, details: string): void {
    this.#notifyParent(child, details).catch((error: unknown) => {
      if (this.#closed) return;
      if (error instanceof PayloadTooLargeError) {
        // The output fitted the child's record but not the parent's event: the parent sees a (short) failure.
        const output = `Orchestrator function '${child.name}' failed: ${error.message}`;
        return this.#notifyParentReliably({ ...child, runtimeStatus: 'Failed', output }, details);
      }
      this.#log(
        `[durable] reporting ${child.instanceId} to its parent failed: ${errorText(error).message}; retrying in 1 s`,
      );
      setTimeout(() => this.#notifyParentReliably(child, details), 1000).unref();
    });
  }

  /** DTFx compares the committed (kind, lower(name)) of each position with what the code does now. */
  #checkDeterminism(live: Live, flat: Action[]): string | undefined {
    for (let i = 0; i < live.committed.length; i++) {
      const before = live.committed[i].sig;
      const now = flat[i] ? actionSignature(flat[i]) : undefined;
      if (now !== before) {
        return (
          `Non-Deterministic workflow detected: action #${i} was '${before}' when this instance last ran, but the ` +
          `orchestrator code now ${now ? `does '${now}'` : 'no longer schedules it'}. Was the orchestrator changed ` +
          'while this instance was in flight? Let in-flight instances finish (or terminate them) before deploying ' +
          'such a change, or start the new logic under a new orchestration name.'
        );
      }
    }
    return undefined;
  }

  /**
   * What the extension schedules by itself in reply to the episode's event, taking the next id as the SDK expects:
   * the timer after a failed attempt and the next attempt once it fires (retry.ts), the next piece of a long
   * timer (longTimers.ts).
   */
  #followUpEvents(live: Live, event: HistoryEvent, now: number, allocate: () => number): HistoryEvent[] {
    if (
      event.EventType === EventType.TaskFailed ||
      event.EventType === EventType.SubOrchestrationInstanceFailed
    ) {
      const retry = live.scheduled.get(event.TaskScheduledId ?? -1)?.LocalRetry as RetryInfo | undefined;
      if (!retry) return [];
      const firstAttemptAt = retry.firstAttemptAt ? Date.parse(retry.firstAttemptAt) : undefined;
      const decision = nextRetry(retry.options, retry.attempt, firstAttemptAt, now);
      if (decision.kind === 'give-up') return [];
      return [{ ...timerEvent(allocate(), now, decision.fireAt), LocalRetry: retry }];
    }
    if (event.EventType !== EventType.TimerFired) return [];
    const created = live.scheduled.get(event.TimerId ?? -1);
    if (created?.LongTimer) {
      const fireAt = nextPieceFireAt(Date.parse(created.LongTimer.fireAt), now);
      if (fireAt === undefined) return [];
      return [{ ...timerEvent(allocate(), now, fireAt), LongTimer: created.LongTimer }];
    }
    const retry = created?.LocalRetry as RetryInfo | undefined;
    if (!retry || retry.attempt >= retry.options.maxNumberOfAttempts) return [];
    return [reattempt(live.record.executionId, retry, allocate(), now)];
  }

  #invocationLog = (line: InvocationLogLine): void => {
    if (line.level === 'debug' || line.level === 'trace') return;
    this.#log(`[${line.functionName}] ${line.level}: ${line.message}`);
  };

  // ---------------------------------------------------------------- activities, timers, children

  #dispatchActivity(live: Live, executionId: string, scheduled: HistoryEvent): void {
    const key = `${executionId}:${scheduled.EventId}`;
    if (live.dispatched.has(key) || this.#closed) return;
    live.dispatched.add(key);
    const name = scheduled.Name ?? '';
    void this.#activities
      .run(async () => {
        if (this.#closed || live.gone || live.record.executionId !== executionId) return undefined;
        if (TERMINAL.has(live.record.runtimeStatus)) return undefined;
        return this.#runActivity(name, scheduled);
      })
      // Stored outside the concurrency slot: retrying a storage error must not hold up other activities.
      .then(async (completion) => {
        if (!completion) return;
        try {
          await this.#deliverCompletion(live, { executionId, event: completion }, name);
        } catch (error) {
          // A result too large to store fails the task (the orchestrator can handle that), rather than
          // leaving the orchestration waiting for a completion that can never be written.
          if (!(error instanceof PayloadTooLargeError)) throw error;
          const failed: HistoryEvent = {
            EventType: EventType.TaskFailed,
            EventId: -1,
            IsPlayed: false,
            Timestamp: isoNow(this.#clock.now()),
            TaskScheduledId: scheduled.EventId,
            ...activityFailure(name, error),
          };
          await this.#deliverCompletion(live, { executionId, event: failed }, name);
        }
      })
      .catch((error) =>
        this.#log(`[durable] activity ${name} of ${live.record.instanceId}: ${errorText(error).stack}`),
      )
      .finally(() => live.dispatched.delete(key));
  }

  /**
   * Writes an activity's completion, retrying transient storage errors with backoff (0.25 s doubling, 7 tries,
   * about 16 s in all) so the orchestration goes on without a restart. A completion that still cannot be
   * written is given up: its TaskScheduled has no completion in history or inbox, so the next start's
   * recovery (`#rearm`) runs the activity again (at least once, as in Azure). A result too large for the
   * store is not transient: it is thrown at once for the caller to turn into a task failure.
   */
  async #deliverCompletion(live: Live, message: InboxMessage, activity: string): Promise<void> {
    const attempts = 7;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#deliver(live, message);
        return;
      } catch (error) {
        if (error instanceof PayloadTooLargeError || this.#closed) throw error;
        const { message: text } = errorText(error);
        if (attempt >= attempts) {
          throw new Error(
            `the completion of activity '${activity}' could not be stored after ${attempts} attempts (${text}); ` +
              'the activity runs again when the host next starts',
          );
        }
        const delayMs = 250 * 2 ** (attempt - 1);
        this.#log(
          `[durable] storing the completion of activity '${activity}' of ${live.record.instanceId} failed ` +
            `(attempt ${attempt}/${attempts}): ${text}; retrying in ${delayMs} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      }
    }
  }

  async #runActivity(name: string, scheduled: HistoryEvent): Promise<HistoryEvent> {
    const base = { EventId: -1, IsPlayed: false, TaskScheduledId: scheduled.EventId };
    const registration = coreState.registrations.get(name);
    if (!registration || triggerBinding(registration).type !== 'activityTrigger') {
      return {
        ...base,
        EventType: EventType.TaskFailed,
        Timestamp: isoNow(this.#clock.now()),
        Reason: `The function '${name}' doesn't exist, is disabled, or is not an activity function.`,
        Details: `Registered activities: ${[...coreState.registrations.values()]
          .filter((r) => triggerBinding(r).type === 'activityTrigger')
          .map((r) => r.metadata.name)
          .join(', ')}`,
      };
    }
    // The host hands the activity its input as a string; the worker's tryJsonParse decodes it.
    const gauge = this.#activityGauge;
    gauge.running++;
    gauge.invocations++;
    gauge.peak = Math.max(gauge.peak, gauge.running);
    let result: Awaited<ReturnType<typeof invokeFunction>>;
    try {
      result = await invokeFunction(
        name,
        { string: scheduled.Input ?? 'null' },
        { log: this.#invocationLog },
      );
    } finally {
      gauge.running--;
    }
    const timestamp = isoNow(this.#clock.now());
    if (result.error !== undefined) {
      // As the worker, the host and the extension's TaskActivityShim report it on Azure (failures.ts).
      return {
        ...base,
        EventType: EventType.TaskFailed,
        Timestamp: timestamp,
        ...activityFailure(name, result.error),
      };
    }
    return {
      ...base,
      EventType: EventType.TaskCompleted,
      Timestamp: timestamp,
      Result: result.returnValue === undefined ? null : JSON.stringify(hostValue(result.returnValue)),
    };
  }

  #armTimer(live: Live, executionId: string, created: HistoryEvent): void {
    const id = created.EventId;
    const fireAt = Date.parse(created.FireAt ?? '') || this.#clock.now();
    const check = () => {
      live.timers.delete(id);
      if (this.#closed || live.gone || live.record.executionId !== executionId) return;
      const remaining = fireAt - this.#clock.now();
      if (remaining > 0) {
        // setTimeout holds at most ~24.8 days; long waits re-check.
        const delay = Math.min(Math.ceil(this.#clock.toRealDelayMs(remaining)) + 1, 2 ** 31 - 1);
        live.timers.set(id, setTimeout(check, delay));
        return;
      }
      if (live.canceledTimers.has(id)) return;
      void this.#deliver(live, {
        executionId,
        event: {
          EventType: EventType.TimerFired,
          EventId: -1,
          IsPlayed: false,
          Timestamp: isoNow(this.#clock.now()),
          TimerId: id,
          FireAt: created.FireAt,
        },
      }).catch((error) => this.#fault(live, error));
    };
    clearTimeout(live.timers.get(id));
    check();
  }

  /** Starts the child of a SubOrchestrationInstanceCreated, or reports its known outcome (recovery). */
  async #ensureChild(parent: Live, executionId: string, created: HistoryEvent): Promise<void> {
    const childId = created.InstanceId ?? '';
    const link: ParentLink = {
      instanceId: parent.record.instanceId,
      executionId,
      taskScheduledId: created.EventId,
      name: parent.record.name,
    };
    const fail = (reason: string) =>
      this.#deliver(parent, {
        executionId,
        event: {
          EventType: EventType.SubOrchestrationInstanceFailed,
          EventId: -1,
          IsPlayed: false,
          Timestamp: isoNow(this.#clock.now()),
          TaskScheduledId: created.EventId,
          Reason: reason,
          Details: '',
        },
      });
    if (childId === link.instanceId) {
      return fail(`A sub-orchestration cannot reuse its parent's instance ID '${childId}'.`);
    }
    const child = this.instances.get(childId);
    const ours =
      child?.record.parent?.instanceId === link.instanceId &&
      child.record.parent.executionId === link.executionId &&
      child.record.parent.taskScheduledId === link.taskScheduledId;
    if (child && ours) {
      if (TERMINAL.has(child.record.runtimeStatus)) await this.#notifyParent(child.record, '');
      return;
    }
    if (child && !TERMINAL.has(child.record.runtimeStatus)) {
      return fail(`An orchestration instance with ID '${childId}' is already ${child.record.runtimeStatus}.`);
    }
    try {
      await this.create(created.Name ?? '', childId, created.Input ? JSON.parse(created.Input) : null, link);
    } catch (error) {
      await fail(errorText(error).message);
    }
  }

  async #notifyParent(child: InstanceRecord, details: string): Promise<void> {
    const link = child.parent;
    if (!link) return;
    const parent = this.instances.get(link.instanceId);
    if (!parent || parent.record.executionId !== link.executionId) return;
    const base = {
      EventId: -1,
      IsPlayed: false,
      Timestamp: isoNow(this.#clock.now()),
      TaskScheduledId: link.taskScheduledId,
    };
    const event: HistoryEvent =
      child.runtimeStatus === 'Completed'
        ? {
            ...base,
            EventType: EventType.SubOrchestrationInstanceCompleted,
            Result: child.output === undefined ? null : JSON.stringify(child.output),
          }
        : {
            ...base,
            EventType: EventType.SubOrchestrationInstanceFailed,
            Reason: typeof child.output === 'string' ? child.output : JSON.stringify(child.output),
            Details: details,
          };
    await this.#deliver(parent, { executionId: link.executionId, event });
  }

  /** Durable first (inbox row), then memory, then the episode loop. */
  async #deliver(live: Live, message: InboxMessage): Promise<void> {
    if (this.#closed || live.gone || TERMINAL.has(live.record.runtimeStatus)) return;
    if (message.executionId && message.executionId !== live.record.executionId) return;
    const key = await this.#store.addMessage(live.record.instanceId, message);
    live.inbox.push({ key, ...message });
    sortInbox(live);
    this.#pump(live);
  }

  #executionStarted(record: InstanceRecord, now: number): InboxMessage {
    return {
      executionId: record.executionId,
      event: {
        EventType: EventType.ExecutionStarted,
        EventId: -1,
        IsPlayed: false,
        Timestamp: isoNow(now),
        Name: record.name,
        Version: record.version,
        Input: record.input === undefined ? null : JSON.stringify(record.input),
        OrchestrationInstance: { InstanceId: record.instanceId, ExecutionId: record.executionId },
        ...(record.parent
          ? {
              ParentInstance: {
                Name: record.parent.name,
                TaskScheduleId: record.parent.taskScheduledId,
                OrchestrationInstance: { InstanceId: record.parent.instanceId },
              },
            }
          : {}),
      },
    };
  }

  // ---------------------------------------------------------------- management operations

  /**
   * Creates (or re-creates) an instance. As the extension with its default `overridableExistingInstanceStates`
   * (NonRunningStates): an id whose instance is Pending/Running/Suspended is refused; a finished one is replaced.
   */
  async create(
    name: string,
    instanceId: string,
    input: unknown,
    parent: ParentLink | null,
    version = '',
  ): Promise<void> {
    if (!this.isOrchestration(name)) {
      throw new OrchestrationError(
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function. ` +
          `Registered orchestrators: ${this.orchestrationNames().join(', ') || '(none)'}.`,
        400,
      );
    }
    if (!instanceId || /[/\\#?]/.test(instanceId) || instanceId.length > 256) {
      throw new OrchestrationError(
        `Instance ID '${instanceId}' is invalid: use 1–256 characters without '/', '\\', '#' or '?'.`,
        400,
      );
    }
    // Creates of one id run one at a time: two simultaneous starts (a duplicated event) must not both pass
    // the "already exists" check, which only sees instances whose creation has finished.
    const createNow = async () => {
      const existing = this.instances.get(instanceId);
      const work = async () => {
        if (existing && !existing.gone && !TERMINAL.has(existing.record.runtimeStatus)) {
          throw new OrchestrationError(
            `An Orchestration instance with the status ${existing.record.runtimeStatus} already exists ` +
              `(instance '${instanceId}'). Wait for it to finish or terminate it before starting the ID again.`,
            409,
          );
        }
        if (existing) {
          existing.gone = true;
          existing.clearTimers();
          await this.#store.purge(instanceId);
        }
        const now = this.#clock.now();
        const record: InstanceRecord = {
          instanceId,
          name,
          executionId: newExecutionId(),
          runtimeStatus: 'Pending',
          input: input === undefined ? null : input,
          output: null,
          customStatus: null,
          createdTime: isoNow(now),
          lastUpdatedTime: isoNow(now),
          parent,
          version,
          episodes: 0,
        };
        const startedMessage = this.#executionStarted(record, now);
        const [key] = await this.#store.commit({ record, addMessages: [startedMessage] });
        const live = new Live(record);
        live.inbox.push({ key, ...startedMessage });
        this.instances.set(instanceId, live);
        this.#pump(live);
      };
      await (existing ? this.#withLock(existing, work) : work());
    };
    const attempt = (this.#creating.get(instanceId) ?? Promise.resolve()).then(createNow);
    const settled = attempt.then(
      () => undefined,
      () => undefined,
    );
    this.#creating.set(instanceId, settled);
    void settled.then(() => {
      if (this.#creating.get(instanceId) === settled) this.#creating.delete(instanceId);
    });
    await attempt;
  }

  orchestrationNames(): string[] {
    return [...coreState.registrations.keys()].filter((n) => this.isOrchestration(n));
  }

  #require(instanceId: string): Live {
    const live = this.instances.get(instanceId);
    if (!live || live.gone) throw new OrchestrationError(`No instance with ID '${instanceId}' found.`, 404);
    return live;
  }

  async raiseEvent(instanceId: string, eventName: string, inputJson: string | null): Promise<void> {
    const live = this.#require(instanceId);
    if (TERMINAL.has(live.record.runtimeStatus)) {
      throw new OrchestrationError(
        `Instance '${instanceId}' is ${live.record.runtimeStatus}; it no longer accepts events.`,
        410,
      );
    }
    // No executionId: a raised event follows the instance across continueAsNew, as in DTFx.
    await this.#deliver(live, {
      event: {
        EventType: EventType.EventRaised,
        EventId: -1,
        IsPlayed: false,
        Timestamp: isoNow(this.#clock.now()),
        Name: eventName,
        Input: inputJson,
      },
    });
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    const live = this.#require(instanceId);
    await this.#withLock(live, async () => {
      this.#refuseTerminal(live, 'terminated');
      const now = this.#clock.now();
      const next: InstanceRecord = {
        ...live.record,
        runtimeStatus: 'Terminated',
        output: reason,
        lastUpdatedTime: isoNow(now),
        episodes: live.record.episodes + 1,
      };
      const events: HistoryEvent[] = [
        {
          EventType: EventType.ExecutionTerminated,
          EventId: -1,
          IsPlayed: false,
          Timestamp: isoNow(now),
          Input: reason,
        },
        {
          EventType: EventType.ExecutionCompleted,
          EventId: -1,
          IsPlayed: false,
          Timestamp: isoNow(now),
          OrchestrationStatus: 'Terminated',
          Result: JSON.stringify(reason),
        },
      ];
      await this.#store.commit({
        record: next,
        episode: { index: next.episodes, row: { events, actions: [], canceledTimers: [] } },
        deleteMessages: live.inbox.map((m) => m.key),
      });
      live.record = next;
      live.absorb(events);
      live.inbox = [];
      live.clearTimers();
      // DTFx reports a terminated child to its parent as a failed sub-orchestration.
      this.#notifyParentReliably(next, '');
    });
  }

  async suspend(instanceId: string, reason: string): Promise<void> {
    await this.#setSuspended(instanceId, true, reason);
  }

  async resume(instanceId: string, reason: string): Promise<void> {
    await this.#setSuspended(instanceId, false, reason);
  }

  async #setSuspended(instanceId: string, suspend: boolean, reason: string): Promise<void> {
    const live = this.#require(instanceId);
    await this.#withLock(live, async () => {
      this.#refuseTerminal(live, suspend ? 'suspended' : 'resumed');
      const isSuspended = live.record.runtimeStatus === 'Suspended';
      if (isSuspended === suspend) return; // nothing to do, as in DTFx
      const now = this.#clock.now();
      const next: InstanceRecord = {
        ...live.record,
        runtimeStatus: suspend ? 'Suspended' : live.history.length ? 'Running' : 'Pending',
        lastUpdatedTime: isoNow(now),
        episodes: live.record.episodes + 1,
      };
      // The SDK ignores these events; they document the pause in history, as DTFx does.
      const events: HistoryEvent[] = [
        {
          EventType: suspend ? EventType.ExecutionSuspended : EventType.ExecutionResumed,
          EventId: -1,
          IsPlayed: false,
          Timestamp: isoNow(now),
          Reason: reason,
        },
      ];
      await this.#store.commit({
        record: next,
        episode: { index: next.episodes, row: { events, actions: [], canceledTimers: [] } },
      });
      live.record = next;
      live.absorb(events);
    });
    if (!suspend) this.#pump(live);
  }

  #refuseTerminal(live: Live, verb: string): void {
    if (TERMINAL.has(live.record.runtimeStatus)) {
      throw new OrchestrationError(
        `Instance '${live.record.instanceId}' is ${live.record.runtimeStatus} and cannot be ${verb}.`,
        410,
      );
    }
  }

  async purge(instanceId: string): Promise<boolean> {
    const live = this.instances.get(instanceId);
    if (!live || live.gone) return false;
    await this.#withLock(live, async () => {
      live.gone = true;
      live.clearTimers();
      this.instances.delete(instanceId);
      await this.#store.purge(instanceId);
    });
    return true;
  }

  /** Committed history of the current execution (as stored), loading it for finished instances. */
  async history(instanceId: string): Promise<HistoryEvent[]> {
    const live = this.#require(instanceId);
    if (live.history.length || !TERMINAL.has(live.record.runtimeStatus)) return live.history;
    const state = await this.#store.loadPartition(instanceId);
    return state.episodes.flatMap((e) => e.events);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const live of this.instances.values()) live.clearTimers();
    // Let in-progress episodes finish their commit so nothing is half-written by us.
    await Promise.all([...this.instances.values()].map((live) => live.lock.catch(() => undefined)));
  }
}

function retryInfo(
  action: Action,
  kind: RetryInfo['kind'],
  input: string | null,
  instanceId: string | undefined,
  options: NonNullable<Action['retryOptions']>,
  now: number,
): RetryInfo {
  const name = action.functionName ?? '';
  return { options, attempt: 1, firstAttemptAt: isoNow(now), kind, name, input, instanceId };
}

/** The next attempt of a retried call, scheduled when its retry timer fires. */
function reattempt(executionId: string, retry: RetryInfo, seq: number, now: number): HistoryEvent {
  const base = {
    EventId: seq,
    IsPlayed: false,
    Timestamp: isoNow(now),
    Name: retry.name,
    Input: retry.input,
  };
  const again: RetryInfo = { ...retry, attempt: retry.attempt + 1 };
  if (retry.kind === 'activity') return { ...base, EventType: EventType.TaskScheduled, LocalRetry: again };
  return {
    ...base,
    EventType: EventType.SubOrchestrationInstanceCreated,
    InstanceId: retry.instanceId ?? `${executionId}:${seq}`,
    LocalRetry: again,
  };
}

function timerEvent(seq: number, now: number, fireAt: number): HistoryEvent {
  return {
    EventType: EventType.TimerCreated,
    EventId: seq,
    IsPlayed: false,
    Timestamp: isoNow(now),
    FireAt: isoNow(fireAt),
  };
}

/** A CreateTimer action's TimerCreated: the whole timer, or the first piece of a long one. */
function timerCreated(seq: number, now: number, fireAt: number): HistoryEvent {
  const first = firstPieceFireAt(fireAt, now);
  const event = timerEvent(seq, now, first.fireAt);
  return first.long ? { ...event, LongTimer: { fireAt: isoNow(fireAt), rootId: seq } } : event;
}

/** The piece a cancelled CreateTimer action stands for now: a long timer's latest piece, else the timer. */
function currentTimerPiece(live: Live, timerId: number, scheduledNow: HistoryEvent[]): number {
  let piece = timerId;
  for (const event of [...live.scheduled.values(), ...scheduledNow]) {
    if (event.LongTimer?.rootId === timerId && event.EventId > piece) piece = event.EventId;
  }
  return piece;
}

/** Activity input as the host hands it over: strings as they are (already JSON-encoded by the SDK). */
function encodeActivityInput(input: unknown): string | null {
  if (input === undefined) return null;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Arrival order, except that an execution's ExecutionStarted always comes first: raised events that
 * were still queued when the instance continued as new belong to the new execution and must follow it. */
function sortInbox(live: Live): void {
  const rank = (m: StoredMessage) => (m.event.EventType === EventType.ExecutionStarted ? 0 : 1);
  live.inbox.sort((a, b) => rank(a) - rank(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** DTFx execution ids are GUIDs in "N" format. */
function newExecutionId(): string {
  return randomUUID().replace(/-/g, '');
}
