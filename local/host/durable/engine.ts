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
 * nothing (a retry whose timeout has passed), the engine schedules nothing either, as on Azure. What an episode
 * decides is computed by the pure planner (planner.ts); this file runs the orchestrator between its two halves,
 * commits the plan and carries out its effects (activities, timers, children, parents' notifications).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { coreState, hostValue, type InvocationLogLine, invokeFunction, triggerBinding } from '../core.js';
import { historyEvent } from './events.js';
import { activityFailure } from './failures.js';
import { EventType, type HistoryEvent, isoNow } from './history.js';
import {
  type ContinuedPlan,
  continuedRecord,
  type EpisodeOpening,
  errorText,
  executionStartedMessage,
  InstanceHistory,
  isStale,
  type OrchestrationTriggerPayload,
  type OrchestratorResult,
  openEpisode,
  planEpisode,
  tooLargeEpisode,
  unfinishedWork,
} from './planner.js';
import {
  type DurableStore,
  type EpisodeRow,
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

/**
 * In-memory view of one instance: its committed history (planner.ts) plus what runs around it. The store is
 * the truth; this is rebuilt from it on start.
 */
class Live extends InstanceHistory {
  inbox: StoredMessage[] = [];
  timers = new Map<number, NodeJS.Timeout>();
  dispatched = new Set<string>();
  lock: Promise<unknown> = Promise.resolve();
  pumping = false;
  gone = false;

  reset(): void {
    this.clearHistory();
    this.clearTimers();
  }
  clearTimers(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
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
    for (const episode of state.episodes) live.absorbEpisode(episode);
    live.inbox = state.messages;
    sortInbox(live);
    if (state.staleKeys.length) await this.#store.deleteRows(live.record.instanceId, state.staleKeys);
    this.#rearm(live);
    this.#pump(live);
  }

  /** Re-dispatches activities, re-arms timers and re-checks children whose completion is not yet known. */
  #rearm(live: Live): void {
    this.#startWork(live, live.record.executionId, unfinishedWork(live, live.inbox));
  }

  /** Starts scheduled work: runs an activity, arms a timer, starts (or re-checks) a child. */
  #startWork(live: Live, executionId: string, scheduled: HistoryEvent[]): void {
    for (const event of scheduled) {
      if (event.EventType === EventType.TaskScheduled) this.#dispatchActivity(live, executionId, event);
      else if (event.EventType === EventType.TimerCreated) this.#armTimer(live, executionId, event);
      else if (event.EventType === EventType.SubOrchestrationInstanceCreated) {
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
    if (isStale(live, message)) return this.#drop(live, message);
    await this.#episode(live, message);
  }

  /**
   * One episode: the planner opens it, the orchestrator replays, the planner decides (planner.ts); then the
   * plan is committed in one transaction and, only once it is, applied to memory and its work started.
   */
  async #episode(live: Live, message: StoredMessage): Promise<void> {
    const opening = openEpisode(live, message, this.#clock.now());
    const result = await this.#invokeOrchestrator(opening.record.name, opening.payload);
    const plan = planEpisode(live, opening, result);
    if (plan.outcome === 'continued') return this.#continueAsNew(live, message, opening, plan);
    try {
      await this.#store.commit({
        record: plan.record,
        episode: { index: plan.record.episodes, row: plan.row },
        deleteMessages: [message.key],
      });
    } catch (error) {
      // Retrying cannot shrink the row: fail the instance instead of retrying it forever.
      if (!(error instanceof PayloadTooLargeError)) throw error;
      return this.#failTooLarge(live, message, opening, error);
    }
    this.#applyEpisode(live, message, plan.record, plan.row);
    if (plan.outcome === 'running') this.#startWork(live, plan.record.executionId, plan.start);
    else this.#finish(live, plan.failureDetails);
  }

  #invokeOrchestrator(name: string, payload: OrchestrationTriggerPayload): Promise<OrchestratorResult> {
    return (
      this.#orchestrators
        .run(() => invokeFunction(name, { string: JSON.stringify(payload) }, { log: this.#invocationLog }))
        // e.g. the orchestrator is no longer registered after a code change: fail the instance, don't loop.
        .catch((error: unknown) => ({ error, returnValue: undefined }))
    );
  }

  /** Committed: now (and only now) the episode reaches memory. */
  #applyEpisode(live: Live, message: StoredMessage, record: InstanceRecord, row: EpisodeRow): void {
    live.record = record;
    live.absorbEpisode(row);
    for (const id of row.canceledTimers) {
      clearTimeout(live.timers.get(id));
      live.timers.delete(id);
    }
    live.inbox = live.inbox.filter((m) => m !== message);
  }

  /** The instance completed or failed: nothing of it runs any more, and its parent hears of it. */
  #finish(live: Live, failureDetails: string): void {
    const record = live.record;
    live.clearTimers();
    if (record.runtimeStatus === 'Failed') {
      this.#log(`[durable] ${record.name} (${record.instanceId}) failed: ${record.output as string}`);
    }
    this.#notifyParentReliably(record, failureDetails);
  }

  /** A new execution with a fresh history, started by its ExecutionStarted in the same transaction. */
  async #continueAsNew(
    live: Live,
    message: StoredMessage,
    opening: EpisodeOpening,
    plan: ContinuedPlan,
  ): Promise<void> {
    const restarted = continuedRecord(plan.record, plan.continueWith.input, newExecutionId(), opening.now);
    const startedMessage = executionStartedMessage(restarted, opening.now);
    let key: string | undefined;
    try {
      [key] = await this.#store.commit({
        record: restarted,
        addMessages: [startedMessage],
        deleteMessages: [message.key],
      });
    } catch (error) {
      if (!(error instanceof PayloadTooLargeError)) throw error;
      return this.#failTooLarge(live, message, opening, error);
    }
    live.record = restarted;
    live.reset();
    live.inbox = live.inbox.filter((m) => m !== message);
    live.inbox.unshift({ key: key ?? '', ...startedMessage });
    sortInbox(live);
    const stale = (await this.#store.loadPartition(restarted.instanceId)).staleKeys;
    await this.#store.deleteRows(restarted.instanceId, stale);
  }

  /** An episode's row would not fit in a Table entity: the instance fails (planner.ts tooLargeEpisode). */
  async #failTooLarge(
    live: Live,
    message: StoredMessage,
    opening: EpisodeOpening,
    error: PayloadTooLargeError,
  ): Promise<void> {
    const { record, row } = tooLargeEpisode(live.record, opening.started, opening.now, error.message);
    await this.#store.commit({
      record,
      episode: { index: record.episodes, row },
      deleteMessages: [message.key],
    });
    this.#applyEpisode(live, message, record, row);
    this.#finish(live, error.stack ?? error.message);
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
        return this.#runActivity(name, scheduled, live.record.instanceId);
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
          const failed = historyEvent.taskFailed(
            scheduled.EventId,
            this.#clock.now(),
            activityFailure(name, error),
          );
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

  async #runActivity(name: string, scheduled: HistoryEvent, instanceId: string): Promise<HistoryEvent> {
    const registration = coreState.registrations.get(name);
    if (!registration || triggerBinding(registration).type !== 'activityTrigger') {
      return historyEvent.taskFailed(scheduled.EventId, this.#clock.now(), {
        Reason: `The function '${name}' doesn't exist, is disabled, or is not an activity function.`,
        Details: `Registered activities: ${[...coreState.registrations.values()]
          .filter((r) => triggerBinding(r).type === 'activityTrigger')
          .map((r) => r.metadata.name)
          .join(', ')}`,
      });
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
        // The activity trigger's binding data names its orchestration (ActivityTriggerAttributeBindingProvider.cs).
        { log: this.#invocationLog, triggerMetadata: { instanceId: { string: instanceId } } },
      );
    } finally {
      gauge.running--;
    }
    const at = this.#clock.now();
    // As the worker, the host and the extension's TaskActivityShim report it on Azure (failures.ts).
    if (result.error !== undefined)
      return historyEvent.taskFailed(scheduled.EventId, at, activityFailure(name, result.error));
    const value = result.returnValue === undefined ? null : JSON.stringify(hostValue(result.returnValue));
    return historyEvent.taskCompleted(scheduled.EventId, at, value);
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
      const fired = historyEvent.timerFired(id, this.#clock.now(), created.FireAt);
      void this.#deliver(live, { executionId, event: fired }).catch((error) => this.#fault(live, error));
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
        event: historyEvent.subOrchestrationFailed(created.EventId, this.#clock.now(), {
          Reason: reason,
          Details: '',
        }),
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
    const at = this.#clock.now();
    const event: HistoryEvent =
      child.runtimeStatus === 'Completed'
        ? historyEvent.subOrchestrationCompleted(
            link.taskScheduledId,
            at,
            child.output === undefined ? null : JSON.stringify(child.output),
          )
        : historyEvent.subOrchestrationFailed(link.taskScheduledId, at, {
            Reason: typeof child.output === 'string' ? child.output : JSON.stringify(child.output),
            Details: details,
          });
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
    this.#checkCreate(name, instanceId);
    await this.#oneCreateAtATime(instanceId, async () => {
      const existing = this.instances.get(instanceId);
      const replace = () => this.#replaceInstance(existing, { instanceId, name, input, parent, version });
      await (existing ? this.#withLock(existing, replace) : replace());
    });
  }

  #checkCreate(name: string, instanceId: string): void {
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
  }

  /**
   * Creates of one id run one at a time: two simultaneous starts (a duplicated event) must not both pass
   * the "already exists" check, which only sees instances whose creation has finished.
   */
  async #oneCreateAtATime(instanceId: string, createNow: () => Promise<void>): Promise<void> {
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

  /** Refuses a running instance of the id; replaces a finished one; stores the new one and starts it. */
  async #replaceInstance(existing: Live | undefined, spec: NewInstance): Promise<void> {
    if (existing && !existing.gone && !TERMINAL.has(existing.record.runtimeStatus)) {
      throw new OrchestrationError(
        `An Orchestration instance with the status ${existing.record.runtimeStatus} already exists ` +
          `(instance '${spec.instanceId}'). Wait for it to finish or terminate it before starting the ID again.`,
        409,
      );
    }
    if (existing) {
      existing.gone = true;
      existing.clearTimers();
      await this.#store.purge(spec.instanceId);
    }
    const now = this.#clock.now();
    const record = pendingRecord(spec, newExecutionId(), now);
    const startedMessage = executionStartedMessage(record, now);
    const [key] = await this.#store.commit({ record, addMessages: [startedMessage] });
    const live = new Live(record);
    live.inbox.push({ key, ...startedMessage });
    this.instances.set(spec.instanceId, live);
    this.#pump(live);
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
    await this.#deliver(live, { event: historyEvent.eventRaised(this.#clock.now(), eventName, inputJson) });
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
        historyEvent.executionTerminated(now, reason),
        historyEvent.executionCompleted(now, 'Terminated', JSON.stringify(reason)),
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
        suspend ? historyEvent.executionSuspended(now, reason) : historyEvent.executionResumed(now, reason),
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

/** Arrival order, except that an execution's ExecutionStarted always comes first: raised events that
 * were still queued when the instance continued as new belong to the new execution and must follow it. */
function sortInbox(live: Live): void {
  const rank = (m: StoredMessage) => (m.event.EventType === EventType.ExecutionStarted ? 0 : 1);
  live.inbox.sort((a, b) => rank(a) - rank(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** What `create` was asked for. */
interface NewInstance {
  instanceId: string;
  name: string;
  input: unknown;
  parent: ParentLink | null;
  version: string;
}

function pendingRecord(spec: NewInstance, executionId: string, now: number): InstanceRecord {
  return {
    instanceId: spec.instanceId,
    name: spec.name,
    executionId,
    runtimeStatus: 'Pending',
    input: spec.input === undefined ? null : spec.input,
    output: null,
    customStatus: null,
    createdTime: isoNow(now),
    lastUpdatedTime: isoNow(now),
    parent: spec.parent,
    version: spec.version,
    episodes: 0,
  };
}

/** DTFx execution ids are GUIDs in "N" format. */
function newExecutionId(): string {
  return randomUUID().replace(/-/g, '');
}
