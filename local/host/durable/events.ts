/**
 * The one place the engine builds Durable Task history events. Each builder takes what the event means (the
 * scheduled id it answers, the time, the payload) and returns the HistoryEvent as DTFx stores it and
 * durable-functions reads it: `EventId` -1 for everything but the scheduling events, whose id is the sequence
 * number the SDK expects; `IsPlayed` false (the engine sets it when the event is committed); `Timestamp` the
 * orchestration or clock time in ISO form. Keeping the shapes here means a field the SDK reads is spelt once.
 */
import { EventType, type HistoryEvent, isoNow, type LocalRetry } from './history.js';
import type { LongTimer } from './longTimers.js';

/** A builder's result: a HistoryEvent whose EventType is known to the type checker. */
export type EventOf<T extends number> = HistoryEvent & { EventType: T };

type Types = typeof EventType;

/** The fields every event carries. */
function base<T extends number>(type: T, at: number, eventId = -1): EventOf<T> {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: isoNow(at) };
}

/** Where the failure texts come from: failures.ts (as Azure words them) or the engine's own reasons. */
export interface FailureText {
  Reason: string;
  Details: string;
}

export interface ExecutionStartedFields {
  name: string;
  version: string;
  /** JSON-encoded input, or null. */
  input: string | null;
  instanceId: string;
  executionId: string;
  parent?: { name: string; taskScheduledId: number; instanceId: string };
}

export type ExecutionOutcome = 'Completed' | 'Failed' | 'Terminated';

export const historyEvent = {
  orchestratorStarted: (at: number): EventOf<Types['OrchestratorStarted']> =>
    base(EventType.OrchestratorStarted, at),

  orchestratorCompleted: (at: number): EventOf<Types['OrchestratorCompleted']> =>
    base(EventType.OrchestratorCompleted, at),

  executionStarted(at: number, fields: ExecutionStartedFields): EventOf<Types['ExecutionStarted']> {
    const { parent } = fields;
    return {
      ...base(EventType.ExecutionStarted, at),
      Name: fields.name,
      Version: fields.version,
      Input: fields.input,
      OrchestrationInstance: { InstanceId: fields.instanceId, ExecutionId: fields.executionId },
      ...(parent
        ? {
            ParentInstance: {
              Name: parent.name,
              TaskScheduleId: parent.taskScheduledId,
              OrchestrationInstance: { InstanceId: parent.instanceId },
            },
          }
        : {}),
    };
  },

  /** `result` is the JSON-encoded output (or reason), null for none. */
  executionCompleted(
    at: number,
    status: ExecutionOutcome,
    result: string | null,
  ): EventOf<Types['ExecutionCompleted']> {
    return { ...base(EventType.ExecutionCompleted, at), OrchestrationStatus: status, Result: result };
  },

  executionTerminated: (at: number, reason: string): EventOf<Types['ExecutionTerminated']> => ({
    ...base(EventType.ExecutionTerminated, at),
    Input: reason,
  }),

  executionSuspended: (at: number, reason: string): EventOf<Types['ExecutionSuspended']> => ({
    ...base(EventType.ExecutionSuspended, at),
    Reason: reason,
  }),

  executionResumed: (at: number, reason: string): EventOf<Types['ExecutionResumed']> => ({
    ...base(EventType.ExecutionResumed, at),
    Reason: reason,
  }),

  taskScheduled(
    id: number,
    at: number,
    name: string | undefined,
    input: string | null,
    retry?: LocalRetry,
  ): EventOf<Types['TaskScheduled']> {
    return {
      ...base(EventType.TaskScheduled, at, id),
      Name: name,
      Input: input,
      ...(retry ? { LocalRetry: retry } : {}),
    };
  },

  /** `result` is the JSON-encoded return value, null for none. */
  taskCompleted: (
    scheduledId: number,
    at: number,
    result: string | null,
  ): EventOf<Types['TaskCompleted']> => ({
    ...base(EventType.TaskCompleted, at),
    TaskScheduledId: scheduledId,
    Result: result,
  }),

  taskFailed: (scheduledId: number, at: number, failure: FailureText): EventOf<Types['TaskFailed']> => ({
    ...base(EventType.TaskFailed, at),
    TaskScheduledId: scheduledId,
    Reason: failure.Reason,
    Details: failure.Details,
  }),

  subOrchestrationCreated(
    id: number,
    at: number,
    name: string | undefined,
    instanceId: string,
    input: string | null,
    retry?: LocalRetry,
  ): EventOf<Types['SubOrchestrationInstanceCreated']> {
    return {
      ...base(EventType.SubOrchestrationInstanceCreated, at, id),
      Name: name,
      InstanceId: instanceId,
      Input: input,
      ...(retry ? { LocalRetry: retry } : {}),
    };
  },

  subOrchestrationCompleted: (
    scheduledId: number,
    at: number,
    result: string | null,
  ): EventOf<Types['SubOrchestrationInstanceCompleted']> => ({
    ...base(EventType.SubOrchestrationInstanceCompleted, at),
    TaskScheduledId: scheduledId,
    Result: result,
  }),

  subOrchestrationFailed: (
    scheduledId: number,
    at: number,
    failure: FailureText,
  ): EventOf<Types['SubOrchestrationInstanceFailed']> => ({
    ...base(EventType.SubOrchestrationInstanceFailed, at),
    TaskScheduledId: scheduledId,
    Reason: failure.Reason,
    Details: failure.Details,
  }),

  /** A timer (or one piece of a long one, or a retry's wait); `fireAt` in ms. */
  timerCreated(
    id: number,
    at: number,
    fireAt: number,
    bookkeeping: { LocalRetry?: LocalRetry; LongTimer?: LongTimer } = {},
  ): EventOf<Types['TimerCreated']> {
    return { ...base(EventType.TimerCreated, at, id), FireAt: isoNow(fireAt), ...bookkeeping };
  },

  /** `fireAt` as the TimerCreated stored it. */
  timerFired: (timerId: number, at: number, fireAt: string | undefined): EventOf<Types['TimerFired']> => ({
    ...base(EventType.TimerFired, at),
    TimerId: timerId,
    FireAt: fireAt,
  }),

  /** `input` is the JSON text the client sent, null for none. */
  eventRaised: (at: number, name: string, input: string | null): EventOf<Types['EventRaised']> => ({
    ...base(EventType.EventRaised, at),
    Name: name,
    Input: input,
  }),
};
