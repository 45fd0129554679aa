/**
 * The pure half of an episode: what the Durable Task extension decides between two orchestrator replays,
 * written as functions of (committed history, committed actions, the orchestrator's returned state, now) that
 * return data. `openEpisode` builds the orchestrationTrigger payload and what the extension schedules by itself
 * in reply to the new event (retry timers, re-attempts, the next piece of a long timer); `planEpisode` decodes
 * what the SDK returned, turns its new actions into history events with the ids the SDK expects, checks
 * determinism and decides the outcome (running, completed, failed, continued as new). The engine (engine.ts)
 * runs the orchestrator between the two, commits the plan and starts the work it names; nothing here touches
 * storage, timers or the clock, so the planner is unit-tested with hand-built histories.
 */
import type { RpcTypedData } from '../core.js';
import { historyEvent } from './events.js';
import { orchestratorFailure } from './failures.js';
import {
  type Action,
  ActionType,
  actionSignature,
  completionId,
  EventType,
  flattenActions,
  type HistoryEvent,
  isoNow,
  isScheduling,
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
import type { CommittedAction, EpisodeRow, InboxMessage, InstanceRecord } from './store.js';

/** Retry bookkeeping plus what a re-attempt needs to schedule the same work again. */
export interface RetryInfo extends LocalRetry {
  kind: 'activity' | 'suborchestration';
  name: string;
  input: string | null;
  instanceId?: string;
}

/** What the planner reads of an instance: the committed state of its current execution. */
export interface InstanceView {
  readonly record: InstanceRecord;
  readonly history: readonly HistoryEvent[];
  /** The action signatures committed so far, in the SDK's flattened order (the determinism check). */
  readonly committed: readonly CommittedAction[];
  readonly canceledTimers: ReadonlySet<number>;
  /** id → TaskScheduled / SubOrchestrationInstanceCreated / TimerCreated */
  readonly scheduled: ReadonlyMap<number, HistoryEvent>;
  /** ids whose completion is in history */
  readonly done: ReadonlySet<number>;
  /** The next free sequence id. */
  readonly nextSeq: number;
}

/** An instance's committed history, rebuilt from its episode rows; the engine adds the runtime state. */
export class InstanceHistory implements InstanceView {
  history: HistoryEvent[] = [];
  committed: CommittedAction[] = [];
  canceledTimers = new Set<number>();
  scheduled = new Map<number, HistoryEvent>();
  done = new Set<number>();
  nextSeq = 0;
  constructor(public record: InstanceRecord) {}

  clearHistory(): void {
    this.history = [];
    this.committed = [];
    this.canceledTimers.clear();
    this.scheduled.clear();
    this.done.clear();
    this.nextSeq = 0;
  }

  absorb(events: HistoryEvent[]): void {
    for (const event of events) {
      event.IsPlayed = true; // later episodes replay it
      this.history.push(event);
      if (isScheduling(event)) {
        this.scheduled.set(event.EventId, event);
        this.nextSeq = Math.max(this.nextSeq, event.EventId + 1);
      } else {
        const id = completionId(event);
        if (id !== undefined) this.done.add(id);
      }
    }
  }

  /** One committed episode row: its events, the actions it committed and the timers it cancelled. */
  absorbEpisode(row: EpisodeRow): void {
    this.absorb(row.events);
    this.committed.push(...row.actions);
    for (const id of row.canceledTimers) this.canceledTimers.add(id);
  }
}

/**
 * A message that no longer means anything to the instance: it belongs to an earlier execution, answers work
 * whose completion is already in history, fires a cancelled timer, or starts an execution that has started.
 */
export function isStale(view: InstanceView, message: InboxMessage): boolean {
  const event = message.event;
  const id = completionId(event);
  return (
    (message.executionId !== undefined && message.executionId !== view.record.executionId) ||
    (id !== undefined && view.done.has(id)) ||
    (event.EventType === EventType.TimerFired && view.canceledTimers.has(event.TimerId ?? -1)) ||
    (event.EventType === EventType.ExecutionStarted &&
      view.history.some((h) => h.EventType === EventType.ExecutionStarted))
  );
}

/**
 * Scheduled work whose completion is neither in history nor waiting in the inbox (after a restart): the
 * activities to run again, the timers to re-arm (unless cancelled) and the children to re-check, in id order.
 */
export function unfinishedWork(view: InstanceView, inbox: readonly InboxMessage[]): HistoryEvent[] {
  const executionId = view.record.executionId;
  const waiting = new Set(
    inbox
      .filter((m) => !m.executionId || m.executionId === executionId)
      .map((m) => completionId(m.event))
      .filter((id): id is number => id !== undefined),
  );
  return [...view.scheduled].flatMap(([id, event]) => {
    if (view.done.has(id) || waiting.has(id)) return [];
    if (event.EventType === EventType.TimerCreated && view.canceledTimers.has(id)) return [];
    return [event];
  });
}

// ------------------------------------------------------------------ opening an episode

/** The orchestrationTrigger input as the extension sends it (reference §3.1). */
export interface OrchestrationTriggerPayload {
  history: HistoryEvent[];
  input: unknown;
  instanceId: string;
  isReplaying: boolean;
  parentInstanceId: string | null;
  upperSchemaVersion: number;
  upperSchemaVersionNew: number;
  longRunningTimerIntervalDuration: string;
  maximumShortTimerDuration: string;
  defaultHttpAsyncRequestSleepTimeMillseconds: number;
}

export interface EpisodeOpening {
  /** The orchestration time of the episode (its OrchestratorStarted). */
  now: number;
  record: InstanceRecord;
  started: HistoryEvent;
  /** The episode's one new event, unplayed. */
  event: HistoryEvent;
  /** What the extension schedules by itself in reply to the event (see followUpEvents). */
  followUps: HistoryEvent[];
  /** The first id free for the orchestrator's new actions, after the follow-ups took theirs. */
  nextSeq: number;
  payload: OrchestrationTriggerPayload;
}

/** Everything the engine needs to run the orchestrator on one new event at orchestration time `now`. */
export function openEpisode(view: InstanceView, message: InboxMessage, now: number): EpisodeOpening {
  const record = view.record;
  const event: HistoryEvent = { ...message.event, IsPlayed: false };
  const started = historyEvent.orchestratorStarted(now);
  let nextSeq = view.nextSeq;
  const followUps = followUpEvents(view, event, now, () => nextSeq++);
  const payload: OrchestrationTriggerPayload = {
    history: [...view.history, started, event],
    input: record.input ?? null,
    instanceId: record.instanceId,
    isReplaying: view.history.length > 0,
    parentInstanceId: record.parent?.instanceId ?? null,
    upperSchemaVersion: 1,
    upperSchemaVersionNew: 2,
    // The Azure Storage provider's limits, so long timers take the same path as on Azure (longTimers.ts).
    longRunningTimerIntervalDuration: LONG_RUNNING_TIMER_INTERVAL_DURATION,
    maximumShortTimerDuration: MAXIMUM_SHORT_TIMER_DURATION,
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
  return { now, record, started, event, followUps, nextSeq, payload };
}

/**
 * What the extension schedules by itself in reply to the episode's event, taking the next id as the SDK expects:
 * the timer after a failed attempt and the next attempt once it fires (retry.ts), the next piece of a long
 * timer (longTimers.ts).
 */
export function followUpEvents(
  view: InstanceView,
  event: HistoryEvent,
  now: number,
  allocate: () => number,
): HistoryEvent[] {
  if (
    event.EventType === EventType.TaskFailed ||
    event.EventType === EventType.SubOrchestrationInstanceFailed
  ) {
    const retry = view.scheduled.get(event.TaskScheduledId ?? -1)?.LocalRetry as RetryInfo | undefined;
    if (!retry) return [];
    const firstAttemptAt = retry.firstAttemptAt ? Date.parse(retry.firstAttemptAt) : undefined;
    const decision = nextRetry(retry.options, retry.attempt, firstAttemptAt, now);
    if (decision.kind === 'give-up') return [];
    return [historyEvent.timerCreated(allocate(), now, decision.fireAt, { LocalRetry: retry })];
  }
  if (event.EventType !== EventType.TimerFired) return [];
  const created = view.scheduled.get(event.TimerId ?? -1);
  if (created?.LongTimer) {
    const fireAt = nextPieceFireAt(Date.parse(created.LongTimer.fireAt), now);
    if (fireAt === undefined) return [];
    return [historyEvent.timerCreated(allocate(), now, fireAt, { LongTimer: created.LongTimer })];
  }
  const retry = created?.LocalRetry as RetryInfo | undefined;
  if (!retry || retry.attempt >= retry.options.maxNumberOfAttempts) return [];
  return [reattempt(view.record.executionId, retry, allocate(), now)];
}

/** The next attempt of a retried call, scheduled when its retry timer fires. */
function reattempt(executionId: string, retry: RetryInfo, seq: number, now: number): HistoryEvent {
  const again: RetryInfo = { ...retry, attempt: retry.attempt + 1 };
  if (retry.kind === 'activity') return historyEvent.taskScheduled(seq, now, retry.name, retry.input, again);
  const instanceId = retry.instanceId ?? `${executionId}:${seq}`;
  return historyEvent.subOrchestrationCreated(seq, now, retry.name, instanceId, retry.input, again);
}

// ------------------------------------------------------------------ what the orchestrator returned

/** The orchestrator invocation's result, as the worker protocol returns it. */
export interface OrchestratorResult {
  error?: unknown;
  returnValue?: Pick<RpcTypedData, 'json' | 'string'>;
}

/** An orchestrator failure: the message its output is built from and the Details a parent sees. */
export interface OrchestratorFailure {
  message: string;
  details: string;
}

export interface DecodedResult {
  state?: OrchestratorState;
  failure?: OrchestratorFailure;
}

const OUT_OF_PROC = '$OutOfProcData$:';

/**
 * The SDK's OrchestratorState, from the return value or, when the orchestrator threw, from the text after
 * `$OutOfProcData$:` in the error (OrchestrationFailureError): then the actions it scheduled before failing are
 * known too. Any other error (e.g. the orchestrator is no longer registered) is a failure without a state.
 */
export function decodeResult(name: string, result: OrchestratorResult): DecodedResult {
  if (result.error !== undefined) {
    const { message: text, stack } = errorText(result.error);
    const at = text.indexOf(OUT_OF_PROC);
    if (at < 0) return { failure: { message: text, details: stack } };
    const state = JSON.parse(text.slice(at + OUT_OF_PROC.length)) as OrchestratorState;
    const error = state.error ?? text.slice(0, at).trim();
    return { state, failure: { message: error, details: orchestratorFailure(name, error).Details } };
  }
  const raw = result.returnValue?.json ?? result.returnValue?.string;
  if (raw === undefined) {
    return { failure: { message: 'the orchestrator binding returned no OrchestratorState', details: '' } };
  }
  return { state: JSON.parse(raw) as OrchestratorState };
}

export function errorText(error: unknown): { message: string; stack: string } {
  if (error instanceof Error) return { message: error.message, stack: error.stack ?? error.message };
  const text = typeof error === 'string' ? error : JSON.stringify(error);
  return { message: text, stack: text };
}

/** DTFx compares the committed (kind, lower(name)) of each position with what the code does now. */
export function checkDeterminism(view: InstanceView, flat: Action[]): string | undefined {
  for (let i = 0; i < view.committed.length; i++) {
    const before = view.committed[i].sig;
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

// ------------------------------------------------------------------ new actions → history events

/** The orchestrator's new actions as history: scheduled events, committed signatures, cancelled timers. */
export interface ScheduledActions {
  events: HistoryEvent[];
  committed: CommittedAction[];
  canceledTimers: number[];
  continueAsNew?: Action;
  /** The first action the local host cannot run (durable entities, callHttp). */
  unsupported?: OrchestratorFailure;
}

const UNSUPPORTED: Record<number, string> = {
  [ActionType.CallEntity]: 'callEntity (durable entities)',
  [ActionType.SignalEntity]: 'signalEntity (durable entities)',
  [ActionType.LockEntities]: 'lock (durable entities)',
  [ActionType.ReleaseEntities]: 'entity locks',
  [ActionType.CallHttp]: 'callHttp',
};

/**
 * Timers the orchestrator cancelled since they were committed, then the new actions (past the committed ones)
 * in the SDK's flattened order, each taking the next id from `opening.nextSeq` when it consumes one.
 */
export function scheduleActions(
  view: InstanceView,
  flat: Action[],
  opening: EpisodeOpening,
): ScheduledActions {
  const { now, record } = opening;
  const out: ScheduledActions = {
    events: [],
    committed: [],
    canceledTimers: canceledCommittedTimers(view, flat, opening.followUps),
  };
  let nextSeq = opening.nextSeq;
  for (const action of flat.slice(view.committed.length)) {
    const sig = actionSignature(action);
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const seq = nextSeq++;
        const input = encodeActivityInput(action.input);
        const retry = retryInfo(action, 'activity', input, undefined, now);
        out.events.push(historyEvent.taskScheduled(seq, now, action.functionName, input, retry));
        out.committed.push({ sig, id: seq });
        break;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const seq = nextSeq++;
        const input = action.input === undefined ? null : JSON.stringify(action.input);
        const instanceId = action.instanceId || `${record.executionId}:${seq}`;
        const retry = retryInfo(action, 'suborchestration', input, action.instanceId || undefined, now);
        out.events.push(
          historyEvent.subOrchestrationCreated(seq, now, action.functionName, instanceId, input, retry),
        );
        out.committed.push({ sig, id: seq });
        break;
      }
      case ActionType.CreateTimer: {
        const seq = nextSeq++;
        out.events.push(timerCreated(seq, now, Date.parse(action.fireAt ?? '') || now));
        out.committed.push({ sig, id: seq });
        if (action.isCanceled) out.canceledTimers.push(seq);
        break;
      }
      case ActionType.WaitForExternalEvent:
        out.committed.push({ sig });
        break;
      case ActionType.ContinueAsNew:
        out.continueAsNew = action;
        out.committed.push({ sig });
        break;
      default:
        out.unsupported ??= {
          message:
            `${UNSUPPORTED[action.actionType] ?? `action type ${action.actionType}`} is not supported by the ` +
            'local host (durable entities and callHttp are out of its scope); call an activity instead.',
          details: '',
        };
    }
  }
  return out;
}

/** Committed CreateTimer actions the SDK now reports cancelled, as the piece each stands for now. */
function canceledCommittedTimers(view: InstanceView, flat: Action[], followUps: HistoryEvent[]): number[] {
  const canceled: number[] = [];
  flat.slice(0, view.committed.length).forEach((action, i) => {
    const timerId = view.committed[i].id;
    if (action.actionType === ActionType.CreateTimer && action.isCanceled && timerId !== undefined) {
      const piece = currentTimerPiece(view, timerId, followUps);
      if (!view.canceledTimers.has(piece)) canceled.push(piece);
    }
  });
  return canceled;
}

/** The piece a cancelled CreateTimer action stands for now: a long timer's latest piece, else the timer. */
function currentTimerPiece(view: InstanceView, timerId: number, scheduledNow: HistoryEvent[]): number {
  let piece = timerId;
  for (const event of [...view.scheduled.values(), ...scheduledNow]) {
    if (event.LongTimer?.rootId === timerId && event.EventId > piece) piece = event.EventId;
  }
  return piece;
}

/** The first attempt's retry bookkeeping, for a call made with retry options (else undefined). */
function retryInfo(
  action: Action,
  kind: RetryInfo['kind'],
  input: string | null,
  instanceId: string | undefined,
  now: number,
): RetryInfo | undefined {
  const options = action.retryOptions;
  if (!options) return undefined;
  const name = action.functionName ?? '';
  return { options, attempt: 1, firstAttemptAt: isoNow(now), kind, name, input, instanceId };
}

/** A CreateTimer action's TimerCreated: the whole timer, or the first piece of a long one. */
function timerCreated(seq: number, now: number, fireAt: number): HistoryEvent {
  const first = firstPieceFireAt(fireAt, now);
  if (!first.long) return historyEvent.timerCreated(seq, now, first.fireAt);
  return historyEvent.timerCreated(seq, now, first.fireAt, {
    LongTimer: { fireAt: isoNow(fireAt), rootId: seq },
  });
}

/** Activity input as the host hands it over: strings as they are (already JSON-encoded by the SDK). */
function encodeActivityInput(input: unknown): string | null {
  if (input === undefined) return null;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

// ------------------------------------------------------------------ the outcome

export type EpisodeOutcome = 'running' | 'completed' | 'failed' | 'continued';

interface PlanFields {
  /** The instance record once the episode is committed. */
  record: InstanceRecord;
  /** The episode row to commit (not written for `continued`: the new execution starts afresh). */
  row: EpisodeRow;
  /** Work to start once the row is committed (only while running): activities, timers, children. */
  start: HistoryEvent[];
  /** For a parent's SubOrchestrationInstanceFailed Details when the instance failed. */
  failureDetails: string;
}

export type ContinuedPlan = PlanFields & {
  outcome: 'continued';
  /** The next execution's input. */
  continueWith: { input: unknown };
};

export type EpisodePlan = (PlanFields & { outcome: Exclude<EpisodeOutcome, 'continued'> }) | ContinuedPlan;

/** Decodes the orchestrator's result and plans the episode it ends (see the module comment). */
export function planEpisode(
  view: InstanceView,
  opening: EpisodeOpening,
  result: OrchestratorResult,
): EpisodePlan {
  const { state, failure } = decodeResult(opening.record.name, result);
  let nondeterminism: string | undefined;
  let actions: ScheduledActions = { events: [], committed: [], canceledTimers: [] };
  if (state) {
    const flat = flattenActions(state.actions);
    nondeterminism = checkDeterminism(view, flat);
    if (!nondeterminism) actions = scheduleActions(view, flat, opening);
  }
  return decideOutcome(view, opening, state, actions, nondeterminism, failure ?? actions.unsupported);
}

function decideOutcome(
  view: InstanceView,
  opening: EpisodeOpening,
  state: OrchestratorState | undefined,
  actions: ScheduledActions,
  nondeterminism: string | undefined,
  failure: OrchestratorFailure | undefined,
): EpisodePlan {
  const { now, record, started, event } = opening;
  const next: InstanceRecord = {
    ...record,
    runtimeStatus: 'Running',
    lastUpdatedTime: isoNow(now),
    episodes: record.episodes + 1,
  };
  if (state?.customStatus !== undefined) next.customStatus = state.customStatus;
  // Every episode row ends with OrchestratorCompleted; `committed` are the action signatures it commits.
  const fields = (events: HistoryEvent[], committed = actions.committed): PlanFields => ({
    record: next,
    row: {
      events: [...events, historyEvent.orchestratorCompleted(now)],
      actions: committed,
      canceledTimers: actions.canceledTimers,
    },
    start: [],
    failureDetails: '',
  });

  if (nondeterminism || failure) {
    next.runtimeStatus = 'Failed';
    next.output = nondeterminism ?? orchestratorFailure(record.name, failure?.message ?? '').Reason;
    // A failed instance schedules nothing: this episode's new work stays out of its history.
    const failed = historyEvent.executionCompleted(now, 'Failed', JSON.stringify(next.output));
    return {
      outcome: 'failed',
      ...fields([started, event, failed], []),
      failureDetails: failure?.details ?? '',
    };
  }
  const events = [started, event, ...opening.followUps, ...actions.events];
  if (state?.isDone && actions.continueAsNew) {
    // The SDK JSON-encodes a string input (processInput), so un-quote it.
    const raw = actions.continueAsNew.input;
    const input = typeof raw === 'string' ? safeParse(raw) : (raw ?? null);
    return { outcome: 'continued', ...fields(events), continueWith: { input } };
  }
  if (state?.isDone) {
    next.runtimeStatus = 'Completed';
    next.output = state.output ?? null;
    const result = state.output === undefined ? null : JSON.stringify(state.output);
    return {
      outcome: 'completed',
      ...fields([...events, historyEvent.executionCompleted(now, 'Completed', result)]),
    };
  }
  const canceled = new Set([...view.canceledTimers, ...actions.canceledTimers]);
  const start = events.filter(
    (e) => isScheduling(e) && !(e.EventType === EventType.TimerCreated && canceled.has(e.EventId)),
  );
  return { outcome: 'running', ...fields(events), start };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// ------------------------------------------------------------------ new executions

/**
 * The record of the execution that continues an instance as new. The Azure Storage provider's instance row
 * takes CreatedTime from the new generation's ExecutionStarted (DurableTask.AzureStorage
 * AzureTableTrackingStore.UpdateStateAsync), and DTFx stamps that event when it continues the instance as new
 * (TaskOrchestrationDispatcher).
 */
export function continuedRecord(
  next: InstanceRecord,
  input: unknown,
  executionId: string,
  now: number,
): InstanceRecord {
  return {
    ...next,
    executionId,
    input,
    output: null,
    episodes: 0,
    runtimeStatus: 'Running',
    createdTime: isoNow(now),
  };
}

/** The inbox message that starts a record's execution. */
export function executionStartedMessage(record: InstanceRecord, now: number): InboxMessage {
  const parent = record.parent;
  return {
    executionId: record.executionId,
    event: historyEvent.executionStarted(now, {
      name: record.name,
      version: record.version,
      input: record.input === undefined ? null : JSON.stringify(record.input),
      instanceId: record.instanceId,
      executionId: record.executionId,
      ...(parent
        ? {
            parent: {
              name: parent.name,
              taskScheduledId: parent.taskScheduledId,
              instanceId: parent.instanceId,
            },
          }
        : {}),
    }),
  };
}

/**
 * The episode that fails an instance whose row would not fit in a Table entity (a large output, custom status
 * or continueAsNew input): the event that caused it is consumed, nothing new is scheduled.
 */
export function tooLargeEpisode(
  record: InstanceRecord,
  started: HistoryEvent,
  now: number,
  reason: string,
): { record: InstanceRecord; row: EpisodeRow } {
  const next: InstanceRecord = {
    ...record,
    runtimeStatus: 'Failed',
    output: `Orchestrator function '${record.name}' failed: ${reason}`,
    lastUpdatedTime: isoNow(now),
    episodes: record.episodes + 1,
  };
  const events: HistoryEvent[] = [
    started,
    historyEvent.executionCompleted(now, 'Failed', JSON.stringify(next.output)),
    historyEvent.orchestratorCompleted(now),
  ];
  return { record: next, row: { events, actions: [], canceledTimers: [] } };
}
