/**
 * The Durable Task history and action vocabulary as durable-functions 3.x reads and writes it (DTFx
 * HistoryEvent objects, Newtonsoft PascalCase; OrchestratorState actions, camelCase).
 */
import type { LongTimer } from './longTimers.js';

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;

export const eventTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(EventType).map(([name, value]) => [value, name]),
);

/** Retry bookkeeping the engine keeps on scheduled events; the SDK ignores unknown fields. */
export interface LocalRetry {
  options: RetryOptions;
  /** 1-based attempt this event belongs to (for a retry timer: the attempt that just failed). */
  attempt: number;
  /** When the first attempt was scheduled (the retry timeout counts from it); absent in older history. */
  firstAttemptAt?: string;
}

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string | null;
  Result?: string | null;
  Reason?: string;
  Details?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  Version?: string;
  OrchestrationStatus?: string;
  OrchestrationInstance?: { InstanceId: string; ExecutionId: string };
  ParentInstance?: { Name: string; TaskScheduleId: number; OrchestrationInstance: { InstanceId: string } };
  LocalRetry?: LocalRetry;
  /** On each piece of a timer longer than the provider's maximum (see longTimers.ts). */
  LongTimer?: LongTimer;
}

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
  ReleaseEntities: 14,
} as const;

export interface RetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  version?: string;
  retryOptions?: RetryOptions;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: Action[];
}

/** What the orchestrator binding returns (returnValue.json) or carries after `$OutOfProcData$:`. */
export interface OrchestratorState {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

/** Leaf actions in the order the SDK assigns sequence numbers (depth-first through WhenAll/WhenAny). */
export function flattenActions(actions: Action[][] | undefined): Action[] {
  const out: Action[] = [];
  const visit = (action: Action) => {
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      for (const child of action.compoundActions ?? []) visit(child);
    } else {
      out.push(action);
    }
  };
  for (const group of actions ?? []) for (const action of group) visit(action);
  return out;
}

/** (kind, lower(name)) as DTFx compares scheduled work with history, case-insensitively. */
export function actionSignature(action: Action): string {
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
      return `activity:${(action.functionName ?? '').toLowerCase()}`;
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return `suborchestration:${(action.functionName ?? '').toLowerCase()}`;
    case ActionType.CreateTimer:
      return 'timer';
    case ActionType.WaitForExternalEvent:
      return `event:${(action.externalEventName ?? '').toLowerCase()}`;
    case ActionType.ContinueAsNew:
      return 'continueAsNew';
    default:
      return `action${action.actionType}`;
  }
}

/** The scheduled id a completion answers (TaskScheduled, SubOrchestrationInstanceCreated or TimerCreated). */
export function completionId(event: HistoryEvent): number | undefined {
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

/** The events that take a sequence id: the work an orchestration scheduled. */
export function isScheduling(event: HistoryEvent): boolean {
  return (
    event.EventType === EventType.TaskScheduled ||
    event.EventType === EventType.TimerCreated ||
    event.EventType === EventType.SubOrchestrationInstanceCreated
  );
}

export function isoNow(ms: number): string {
  return new Date(ms).toISOString();
}
