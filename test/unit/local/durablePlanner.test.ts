// The local durable engine's pure planner (local/host/durable/planner.ts), episode by episode, without storage:
// histories are built by hand with the engine's event factory, as durable-functions' own
// test/testobjects/testhistories.ts builds them, and the orchestrators are the durable fixture app's, replayed by
// the real durable-functions executor through the worker protocol (invokeFunction). Where a case is clearer
// with a hand-built OrchestratorState (an id the SDK leaves to the extension, an action the host refuses), the
// test builds it. The ids, retry timers and long-timer pieces expected here are the extension's
// (DurableTask.Core RetryInterceptor.cs, DurableOrchestrationContext.cs CreateTimer) as the module comments of
// retry.ts and longTimers.ts cite them.
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { installCoreShim, invokeFunction } from '../../../local/host/core.js';
import { historyEvent } from '../../../local/host/durable/events.js';
import { activityFailure } from '../../../local/host/durable/failures.js';
import {
  ActionType,
  EventType,
  eventTypeName,
  type HistoryEvent,
  type OrchestratorState,
} from '../../../local/host/durable/history.js';
import {
  continuedRecord,
  type EpisodePlan,
  executionStartedMessage,
  InstanceHistory,
  isStale,
  type OrchestratorResult,
  openEpisode,
  planEpisode,
  type RetryInfo,
  unfinishedWork,
} from '../../../local/host/durable/planner.js';
import type { EpisodeRow } from '../../../local/host/durable/store.js';

installCoreShim();
createRequire(__filename)(path.resolve(__dirname, '../../fixtures/durable-app'));

const t0 = Date.parse('2026-03-01T00:00:00Z');
const SECOND = 1000;
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

function newInstance(name: string, input: unknown, instanceId = 'planned'): InstanceHistory {
  return new InstanceHistory({
    instanceId,
    name,
    executionId: 'exec1',
    runtimeStatus: 'Pending',
    input,
    output: null,
    customStatus: null,
    createdTime: iso(t0),
    lastUpdatedTime: iso(t0),
    parent: null,
    version: '',
    episodes: 0,
  });
}

/** The instance's ExecutionStarted, as the engine queues it when the instance is created. */
const executionStarted = (view: InstanceHistory) => executionStartedMessage(view.record, t0).event;

/** One episode: the planner opens it, `run` answers for the orchestrator, the planner decides. */
async function plan(
  view: InstanceHistory,
  event: HistoryEvent,
  at: number,
  run: (payload: string) => Promise<OrchestratorResult> = replay(view.record.name),
): Promise<EpisodePlan> {
  const opening = openEpisode(view, { executionId: view.record.executionId, event }, at);
  return planEpisode(view, opening, await run(JSON.stringify(opening.payload)));
}

/** The real durable-functions executor, as the engine calls it. */
const replay = (name: string) => (payload: string) =>
  invokeFunction(name, { string: payload }, { log: () => undefined });

/** A hand-built OrchestratorState standing in for the orchestrator. */
const returns = (state: OrchestratorState) => async () => ({ returnValue: { json: JSON.stringify(state) } });

/** The episode of a timer firing at its due time `at`. */
const fire = (view: InstanceHistory, timerId: number, at: number) =>
  plan(view, historyEvent.timerFired(timerId, at, iso(at)), at);

/** What the engine keeps in memory once the plan is committed. */
function commit(view: InstanceHistory, episode: EpisodePlan): EpisodePlan {
  view.record = episode.record;
  view.absorbEpisode(episode.row);
  return episode;
}

/** An episode row, e.g. a committed part of a hand-built history. */
function row(
  events: HistoryEvent[],
  actions: EpisodeRow['actions'] = [],
  canceledTimers: number[] = [],
): EpisodeRow {
  return { events, actions, canceledTimers };
}

/** A hand-built first episode: the execution starts and the orchestrator schedules `scheduled`. */
function firstEpisode(
  view: InstanceHistory,
  scheduled: HistoryEvent[],
  actions: EpisodeRow['actions'],
  canceledTimers: number[] = [],
): void {
  const events = [
    historyEvent.orchestratorStarted(t0),
    executionStarted(view),
    ...scheduled,
    historyEvent.orchestratorCompleted(t0),
  ];
  view.absorbEpisode(row(events, actions, canceledTimers));
}

/** `TaskScheduled#0`, `TaskFailed(0)`, `ExecutionCompleted` … the shape of a history at a glance. */
function shape(events: HistoryEvent[]): string[] {
  return events.map((e) => {
    const name = eventTypeName[e.EventType];
    if (e.EventId >= 0) return `${name}#${e.EventId}`;
    const ref = e.TaskScheduledId ?? e.TimerId;
    return ref === undefined ? name : `${name}(${ref})`;
  });
}

const retryOf = (event: HistoryEvent | undefined) => event?.LocalRetry as RetryInfo | undefined;

describe('activities', () => {
  it('schedules a new activity with the next id and its input as the SDK encoded it', async () => {
    const view = newInstance('MainOrchestrator', { city: 'Tokyo' });
    const episode = await plan(view, executionStarted(view), t0);
    expect(episode.outcome).toBe('running');
    expect(shape(episode.row.events)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled#0',
      'OrchestratorCompleted',
    ]);
    expect(episode.row.events[2]).toMatchObject({ Name: 'SayHello', Input: '"Tokyo"', Timestamp: iso(t0) });
    expect(episode.row.actions).toEqual([{ sig: 'activity:sayhello', id: 0 }]);
    expect(episode.start).toEqual([episode.row.events[2]]);
    expect(episode.record).toMatchObject({
      runtimeStatus: 'Running',
      episodes: 1,
      customStatus: { stage: 'greeting' },
    });
  });

  it('completes with the activity’s result from a hand-built history', async () => {
    const view = newInstance('CallUncaught', { activity: 'SayHello', input: 'Oslo' });
    firstEpisode(
      view,
      [historyEvent.taskScheduled(0, t0, 'SayHello', '"Oslo"')],
      [{ sig: 'activity:sayhello', id: 0 }],
    );
    const episode = await plan(
      view,
      historyEvent.taskCompleted(0, t0 + SECOND, '"Hello, Oslo!"'),
      t0 + SECOND,
    );
    expect(episode.outcome).toBe('completed');
    expect(shape(episode.row.events)).toEqual([
      'OrchestratorStarted',
      'TaskCompleted(0)',
      'ExecutionCompleted',
      'OrchestratorCompleted',
    ]);
    expect(episode.row.events[2]).toMatchObject({
      OrchestrationStatus: 'Completed',
      Result: '"Hello, Oslo!"',
    });
    expect(episode.record).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello, Oslo!', episodes: 1 });
    expect(episode.start).toEqual([]);
  });

  it('fails the instance with the failure the orchestrator did not catch, through $OutOfProcData$', async () => {
    const view = newInstance('CallUncaught', { activity: 'SayHello', input: 'Oslo' });
    firstEpisode(
      view,
      [historyEvent.taskScheduled(0, t0, 'SayHello', '"Oslo"')],
      [{ sig: 'activity:sayhello', id: 0 }],
    );
    const failure = activityFailure('SayHello', new Error('no such city'));
    const episode = await plan(view, historyEvent.taskFailed(0, t0 + SECOND, failure), t0 + SECOND);
    expect(episode.outcome).toBe('failed');
    // durable-functions rebuilds the error as `${Reason} \n ${Details}` and fails the orchestration with it.
    const error = `${failure.Reason} \n ${failure.Details}`;
    expect(episode.record).toMatchObject({
      runtimeStatus: 'Failed',
      output: `Orchestrator function 'CallUncaught' failed: ${error}`,
    });
    expect(episode.failureDetails).toBe(`Message: ${error}, StackTrace: `);
    expect(shape(episode.row.events)).toEqual([
      'OrchestratorStarted',
      'TaskFailed(0)',
      'ExecutionCompleted',
      'OrchestratorCompleted',
    ]);
    expect(episode.row.events[2]).toMatchObject({
      OrchestrationStatus: 'Failed',
      Result: JSON.stringify(episode.record.output),
    });
  });
});

describe('retries (RetryInterceptor)', () => {
  const retrying = (options: Record<string, number>) =>
    newInstance('RetryWithOptions', { options: { first: SECOND, ...options }, failTimes: 99 });
  const fails = (id: number, at: number) =>
    historyEvent.taskFailed(id, at, activityFailure('Flaky', new Error(`attempt at ${at} failed`)));

  it('waits on a retry timer after each failure, re-attempts with the next id, and after the last attempt fires the final timer at once', async () => {
    const view = retrying({ attempts: 3 });
    const first = commit(view, await plan(view, executionStarted(view), t0));
    expect(shape(first.row.events)).toContain('TaskScheduled#0');
    expect(retryOf(first.row.events[2])).toMatchObject({
      attempt: 1,
      firstAttemptAt: iso(t0),
      kind: 'activity',
    });

    const failed = commit(view, await plan(view, fails(0, t0 + SECOND), t0 + SECOND));
    expect(shape(failed.row.events)).toEqual([
      'OrchestratorStarted',
      'TaskFailed(0)',
      'TimerCreated#1',
      'OrchestratorCompleted',
    ]);
    expect(failed.row.events[2].FireAt).toBe(iso(t0 + 2 * SECOND));
    expect(failed.start.map((e) => e.EventId)).toEqual([1]);

    const again = commit(view, await fire(view, 1, t0 + 2 * SECOND));
    expect(shape(again.row.events)).toEqual([
      'OrchestratorStarted',
      'TimerFired(1)',
      'TaskScheduled#2',
      'OrchestratorCompleted',
    ]);
    expect(again.row.events[2]).toMatchObject({ Name: 'Flaky', Input: first.row.events[2].Input });
    expect(retryOf(again.row.events[2])?.attempt).toBe(2);
    // Retries are the extension's own work: the orchestrator committed one action, and still does.
    expect(view.committed).toHaveLength(1);

    commit(view, await plan(view, fails(2, t0 + 3 * SECOND), t0 + 3 * SECOND));
    commit(view, await fire(view, 3, t0 + 4 * SECOND));
    const last = commit(view, await plan(view, fails(4, t0 + 5 * SECOND), t0 + 5 * SECOND));
    // "Dummy timer for back-compat": due at the failure's own time.
    expect(shape(last.row.events)).toEqual([
      'OrchestratorStarted',
      'TaskFailed(4)',
      'TimerCreated#5',
      'OrchestratorCompleted',
    ]);
    expect(last.row.events[2].FireAt).toBe(iso(t0 + 5 * SECOND));

    const surfaced = await fire(view, 5, t0 + 5 * SECOND);
    expect(shape(surfaced.row.events)).toEqual([
      'OrchestratorStarted',
      'TimerFired(5)',
      'ExecutionCompleted',
      'OrchestratorCompleted',
    ]);
    // The SDK surfaces the last attempt's failure (`${Reason} \n ${Details}`); the fixture keeps its first line.
    const lastFailure = fails(4, t0 + 5 * SECOND).Reason;
    expect(surfaced.record.output).toEqual({ caught: `${lastFailure} ` });
  });

  it('schedules nothing once the retry timeout has passed since the first attempt: the orchestration waits', async () => {
    const view = retrying({ attempts: 5, retryTimeoutInMilliseconds: 1500 });
    commit(view, await plan(view, executionStarted(view), t0));
    commit(view, await plan(view, fails(0, t0 + SECOND), t0 + SECOND));
    commit(view, await fire(view, 1, t0 + 2 * SECOND));
    const stopped = await plan(view, fails(2, t0 + 2.5 * SECOND), t0 + 2.5 * SECOND);
    expect(stopped.outcome).toBe('running');
    expect(shape(stopped.row.events)).toEqual([
      'OrchestratorStarted',
      'TaskFailed(2)',
      'OrchestratorCompleted',
    ]);
    expect(stopped.start).toEqual([]);
  });

  it('gives a retry timer its id before the new actions of the same episode', async () => {
    const view = retrying({ attempts: 3 });
    commit(view, await plan(view, executionStarted(view), t0));
    const state: OrchestratorState = {
      isDone: false,
      actions: [
        [
          {
            actionType: ActionType.CallActivityWithRetry,
            functionName: 'Flaky',
            retryOptions: { firstRetryIntervalInMilliseconds: SECOND, maxNumberOfAttempts: 3 },
          },
        ],
        [{ actionType: ActionType.CallActivity, functionName: 'SayHello', input: 'x' }],
      ],
    };
    const episode = await plan(view, fails(0, t0 + SECOND), t0 + SECOND, returns(state));
    expect(shape(episode.row.events)).toEqual([
      'OrchestratorStarted',
      'TaskFailed(0)',
      'TimerCreated#1',
      'TaskScheduled#2',
      'OrchestratorCompleted',
    ]);
    expect(episode.row.actions).toEqual([{ sig: 'activity:sayhello', id: 2 }]);
    expect(episode.start.map((e) => e.EventId)).toEqual([1, 2]);
  });

  it('re-creates a retried sub-orchestration under the same instance id', async () => {
    const view = newInstance('ParentRetriesChild', null, 'parent');
    const created = commit(view, await plan(view, executionStarted(view), t0));
    expect(created.row.events[2]).toMatchObject({
      EventType: EventType.SubOrchestrationInstanceCreated,
      EventId: 0,
      Name: 'FailingChild',
      InstanceId: 'parent-c',
    });
    expect(retryOf(created.row.events[2])).toMatchObject({
      kind: 'suborchestration',
      instanceId: 'parent-c',
    });
    const failure = { Reason: "Orchestrator function 'FailingChild' failed: child exploded", Details: '' };
    commit(view, await plan(view, historyEvent.subOrchestrationFailed(0, t0 + SECOND, failure), t0 + SECOND));
    const again = await fire(view, 1, t0 + 2 * SECOND);
    expect(again.row.events[2]).toMatchObject({
      EventType: EventType.SubOrchestrationInstanceCreated,
      EventId: 2,
      InstanceId: 'parent-c',
    });
    expect(retryOf(again.row.events[2])?.attempt).toBe(2);
  });
});

describe('timers', () => {
  it('creates a timer due at the time the orchestrator asked for, and completes when it fires', async () => {
    const view = newInstance('LongTimer', { ms: 5 * SECOND });
    const created = commit(view, await plan(view, executionStarted(view), t0));
    expect(created.row.events[2]).toMatchObject({
      EventType: EventType.TimerCreated,
      EventId: 0,
      FireAt: iso(t0 + 5 * SECOND),
    });
    expect(created.row.events[2].LongTimer).toBeUndefined();
    expect(created.row.actions).toEqual([{ sig: 'timer', id: 0 }]);
    const fired = await fire(view, 0, t0 + 5 * SECOND);
    expect(fired.record).toMatchObject({
      runtimeStatus: 'Completed',
      output: { firedAt: iso(t0 + 5 * SECOND) },
    });
  });

  it('splits a 10-day timer into 3-day pieces, each taking the next id, and completes after the last', async () => {
    const view = newInstance('LongTimer', { ms: 10 * DAY });
    const first = commit(view, await plan(view, executionStarted(view), t0));
    expect(first.row.events[2]).toMatchObject({
      EventId: 0,
      FireAt: iso(t0 + 3 * DAY),
      LongTimer: { fireAt: iso(t0 + 10 * DAY), rootId: 0 },
    });
    const pieces: [number, string][] = [];
    for (const [id, at] of [
      [0, t0 + 3 * DAY],
      [1, t0 + 6 * DAY],
      [2, t0 + 9 * DAY],
    ]) {
      const next = commit(view, await fire(view, id, at));
      expect(next.outcome).toBe('running');
      const piece = next.row.events[2];
      expect(piece.LongTimer).toEqual({ fireAt: iso(t0 + 10 * DAY), rootId: 0 });
      pieces.push([piece.EventId, piece.FireAt ?? '']);
    }
    // The last piece is the rest: one day, not three.
    expect(pieces).toEqual([
      [1, iso(t0 + 6 * DAY)],
      [2, iso(t0 + 9 * DAY)],
      [3, iso(t0 + 10 * DAY)],
    ]);
    const done = await fire(view, 3, t0 + 10 * DAY);
    expect(shape(done.row.events)).toEqual([
      'OrchestratorStarted',
      'TimerFired(3)',
      'ExecutionCompleted',
      'OrchestratorCompleted',
    ]);
    expect(done.record.output).toEqual({ firedAt: iso(t0 + 10 * DAY) });
    // The orchestrator committed one timer action for the whole chain.
    expect(view.committed).toEqual([{ sig: 'timer', id: 0 }]);
  });

  it('keeps a timer of exactly the provider’s maximum (6 days) in one piece', async () => {
    const view = newInstance('LongTimer', { ms: 6 * DAY });
    const episode = await plan(view, executionStarted(view), t0);
    expect(episode.row.events[2]).toMatchObject({ EventId: 0, FireAt: iso(t0 + 6 * DAY) });
    expect(episode.row.events[2].LongTimer).toBeUndefined();
  });

  it('cancels the timer that lost a race against an event', async () => {
    const view = newInstance('Race', { timerMs: 60 * SECOND });
    const raced = commit(view, await plan(view, executionStarted(view), t0));
    // Flattened in Task.any's order (event, timer); only the timer consumes an id.
    expect(raced.row.actions).toEqual([{ sig: 'event:go' }, { sig: 'timer', id: 0 }]);
    const won = await plan(view, historyEvent.eventRaised(t0 + SECOND, 'Go', '"now"'), t0 + SECOND);
    expect(won.outcome).toBe('running');
    expect(won.row.canceledTimers).toEqual([0]);
    expect(won.row.actions).toEqual([{ sig: 'event:done' }]);
    expect(won.record.customStatus).toBe('cancelled');
  });

  it('cancels the piece that is running when a long timer loses the race', async () => {
    const view = newInstance('Race', { timerMs: 10 * DAY });
    commit(view, await plan(view, executionStarted(view), t0));
    commit(view, await fire(view, 0, t0 + 3 * DAY));
    const won = await plan(view, historyEvent.eventRaised(t0 + 4 * DAY, 'Go', '"now"'), t0 + 4 * DAY);
    expect(won.row.canceledTimers).toEqual([1]);
  });
});

describe('sub-orchestrations', () => {
  it('creates the child under the id the orchestrator chose, and reports its failure to the orchestrator', async () => {
    const view = newInstance('ParentOfFailing', null, 'parent');
    const created = commit(view, await plan(view, executionStarted(view), t0));
    expect(created.row.events[2]).toMatchObject({
      EventType: EventType.SubOrchestrationInstanceCreated,
      EventId: 0,
      Name: 'FailingChild',
      InstanceId: 'parent-child',
      Input: 'null',
    });
    expect(created.row.events[2].LocalRetry).toBeUndefined();
    expect(created.row.actions).toEqual([{ sig: 'suborchestration:failingchild', id: 0 }]);
    const failure = {
      Reason: "Orchestrator function 'FailingChild' failed: child exploded",
      Details: 'details',
    };
    const caught = await plan(
      view,
      historyEvent.subOrchestrationFailed(0, t0 + SECOND, failure),
      t0 + SECOND,
    );
    expect(caught.outcome).toBe('completed');
    expect((caught.record.output as { caught: string }).caught).toBe(`${failure.Reason} `);
  });

  it('completes the parent with the child’s output', async () => {
    const view = newInstance('ParentOfFailing', null, 'parent');
    commit(view, await plan(view, executionStarted(view), t0));
    const done = await plan(
      view,
      historyEvent.subOrchestrationCompleted(0, t0 + SECOND, '"fine"'),
      t0 + SECOND,
    );
    expect(done.record).toMatchObject({ runtimeStatus: 'Completed', output: 'no error' });
  });

  it('names a child without an id after the execution and the sequence id, as the extension does', async () => {
    const view = newInstance('ParentOfFailing', null, 'parent');
    const state: OrchestratorState = {
      isDone: false,
      actions: [[{ actionType: ActionType.CallSubOrchestrator, functionName: 'CountDown', input: { n: 1 } }]],
    };
    const episode = await plan(view, executionStarted(view), t0, returns(state));
    expect(episode.row.events[2]).toMatchObject({ InstanceId: 'exec1:0', Input: '{"n":1}' });
  });
});

describe('external events', () => {
  it('commits the wait without an id and completes with the raised event’s input', async () => {
    const view = newInstance('Waiter', { who: 'me' });
    const waiting = commit(view, await plan(view, executionStarted(view), t0));
    expect(shape(waiting.row.events)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'OrchestratorCompleted',
    ]);
    expect(waiting.row.actions).toEqual([{ sig: 'event:approval' }]);
    expect(waiting.start).toEqual([]);
    expect(waiting.record.customStatus).toBe('waiting');
    const raised = await plan(
      view,
      historyEvent.eventRaised(t0 + SECOND, 'Approval', '{"ok":true}'),
      t0 + SECOND,
    );
    expect(raised.record).toMatchObject({
      runtimeStatus: 'Completed',
      output: { first: { ok: true }, input: { who: 'me' } },
    });
  });
});

describe('continueAsNew', () => {
  it('continues with the new input and a fresh execution that starts with its own ExecutionStarted', async () => {
    const view = newInstance('CountDown', { n: 1, acc: [] });
    commit(view, await plan(view, executionStarted(view), t0));
    const episode = await plan(view, historyEvent.taskCompleted(0, t0 + SECOND, '"Hello, #1!"'), t0 + SECOND);
    expect(episode.outcome).toBe('continued');
    if (episode.outcome !== 'continued') return;
    expect(episode.continueWith.input).toEqual({ n: 0, acc: ['Hello, #1!'] });
    const next = continuedRecord(episode.record, episode.continueWith.input, 'exec2', t0 + SECOND);
    expect(next).toMatchObject({
      executionId: 'exec2',
      runtimeStatus: 'Running',
      episodes: 0,
      output: null,
      createdTime: iso(t0 + SECOND),
      input: { n: 0, acc: ['Hello, #1!'] },
    });
    expect(executionStartedMessage(next, t0 + SECOND)).toEqual({
      executionId: 'exec2',
      event: {
        EventType: EventType.ExecutionStarted,
        EventId: -1,
        IsPlayed: false,
        Timestamp: iso(t0 + SECOND),
        Name: 'CountDown',
        Version: '',
        Input: '{"n":0,"acc":["Hello, #1!"]}',
        OrchestrationInstance: { InstanceId: 'planned', ExecutionId: 'exec2' },
      },
    });
  });

  it('un-quotes a string input, which the SDK hands over JSON-encoded', async () => {
    const view = newInstance('StringGrow', 'aa');
    commit(view, await plan(view, executionStarted(view), t0));
    const episode = await fire(view, 0, t0 + SECOND);
    expect(episode.outcome === 'continued' && episode.continueWith.input).toBe('aaa');
  });
});

describe('non-determinism', () => {
  /** A history whose first action was a different activity than the orchestrator's code schedules now. */
  function changedCode(committed: EpisodeRow['actions']): InstanceHistory {
    const view = newInstance('Switcher', null);
    const name = committed[0].sig === 'activity:activitya' ? 'ActivityA' : 'SayHello';
    firstEpisode(view, [historyEvent.taskScheduled(0, t0, name, null)], committed);
    return view;
  }

  it('fails the instance when an action differs from the committed one, and schedules nothing', async () => {
    const view = changedCode([{ sig: 'activity:sayhello', id: 0 }]);
    const episode = await plan(view, historyEvent.taskCompleted(0, t0 + SECOND, '"hi"'), t0 + SECOND);
    expect(episode.outcome).toBe('failed');
    expect(episode.record.output).toMatch(
      /^Non-Deterministic workflow detected: action #0 was 'activity:sayhello' when this instance last ran, but the orchestrator code now does 'activity:activitya'\./,
    );
    expect(shape(episode.row.events)).toEqual([
      'OrchestratorStarted',
      'TaskCompleted(0)',
      'ExecutionCompleted',
      'OrchestratorCompleted',
    ]);
    expect(episode.row.actions).toEqual([]);
    expect(episode.failureDetails).toBe('');
  });

  it('names a committed action the code no longer schedules', async () => {
    const view = changedCode([
      { sig: 'activity:activitya', id: 0 },
      { sig: 'event:go' },
      { sig: 'timer', id: 1 },
    ]);
    const episode = await plan(view, historyEvent.taskCompleted(0, t0 + SECOND, '"hi"'), t0 + SECOND);
    expect(episode.record.output).toMatch(
      /action #2 was 'timer' when this instance last ran, but the orchestrator code now no longer schedules it\./,
    );
  });

  it('compares names case-insensitively, as DTFx does', async () => {
    const view = changedCode([{ sig: 'activity:activitya', id: 0 }]);
    const episode = await plan(view, historyEvent.taskCompleted(0, t0 + SECOND, '"hi"'), t0 + SECOND);
    expect(episode.outcome).toBe('running');
    expect(episode.row.actions).toEqual([{ sig: 'event:go' }]);
  });
});

describe('orchestrator failures', () => {
  it('fails with the thrown error, and drops the work the orchestrator scheduled before it threw', async () => {
    const view = newInstance('MainOrchestrator', { city: 'x' });
    const state = {
      isDone: false,
      actions: [[{ actionType: ActionType.CallActivity, functionName: 'SayHello', input: 'x' }]],
      error: 'boom',
    };
    const thrown = async () => ({ error: new Error(`boom\n\n$OutOfProcData$:${JSON.stringify(state)}`) });
    const episode = await plan(view, executionStarted(view), t0, thrown);
    expect(episode.outcome).toBe('failed');
    expect(episode.record.output).toBe("Orchestrator function 'MainOrchestrator' failed: boom");
    expect(episode.failureDetails).toBe('Message: boom, StackTrace: ');
    expect(shape(episode.row.events)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'ExecutionCompleted',
      'OrchestratorCompleted',
    ]);
    expect(episode.start).toEqual([]);
  });

  it('fails a child with the real SDK’s error after its activity completed', async () => {
    const view = newInstance('FailingChild', null);
    commit(view, await plan(view, executionStarted(view), t0));
    const episode = await plan(
      view,
      historyEvent.taskCompleted(0, t0 + SECOND, '"Hello, child!"'),
      t0 + SECOND,
    );
    expect(episode.record.output).toBe("Orchestrator function 'FailingChild' failed: child exploded");
    expect(episode.failureDetails).toBe('Message: child exploded, StackTrace: ');
  });

  it('fails when the invocation itself fails (no $OutOfProcData$), with the error’s stack as details', async () => {
    const view = newInstance('Gone', null);
    const error = new Error('Function "Gone" is not registered');
    const episode = await plan(view, executionStarted(view), t0, async () => ({ error }));
    expect(episode.record.output).toBe(`Orchestrator function 'Gone' failed: ${error.message}`);
    expect(episode.failureDetails).toBe(error.stack);
  });

  it('fails when the binding returns no OrchestratorState', async () => {
    const view = newInstance('Gone', null);
    const episode = await plan(view, executionStarted(view), t0, async () => ({}));
    expect(episode.record.output).toBe(
      "Orchestrator function 'Gone' failed: the orchestrator binding returned no OrchestratorState",
    );
  });

  it('refuses durable entities with a message that says what to do instead', async () => {
    const view = newInstance('Entities', null);
    const episode = await plan(view, executionStarted(view), t0);
    expect(episode.outcome).toBe('failed');
    expect(episode.record.output).toBe(
      "Orchestrator function 'Entities' failed: callEntity (durable entities) is not supported by the local host " +
        '(durable entities and callHttp are out of its scope); call an activity instead.',
    );
  });
});

describe('recovery: stale messages and unfinished work', () => {
  function recovered(): InstanceHistory {
    const view = newInstance('FanOut', null);
    const scheduled = [
      historyEvent.taskScheduled(0, t0, 'Tracked', null),
      historyEvent.timerCreated(1, t0, t0 + DAY),
      historyEvent.timerCreated(2, t0, t0 + DAY),
      historyEvent.subOrchestrationCreated(3, t0, 'CountDown', 'child', null),
      historyEvent.taskScheduled(4, t0, 'Tracked', null),
    ];
    firstEpisode(view, scheduled, [], [1]);
    view.absorbEpisode(row([historyEvent.orchestratorStarted(t0), historyEvent.taskCompleted(4, t0, null)]));
    return view;
  }

  it('finds the work whose completion is neither in history nor in the inbox', () => {
    const view = recovered();
    const inbox = [
      { executionId: 'exec1', event: historyEvent.subOrchestrationCompleted(3, t0, null) },
      // A completion of an earlier execution does not count for this one.
      { executionId: 'exec0', event: historyEvent.timerFired(2, t0, undefined) },
    ];
    expect(unfinishedWork(view, inbox).map((e) => e.EventId)).toEqual([0, 2]);
  });

  it('recognises the messages that no longer mean anything', () => {
    const view = recovered();
    const stale = (executionId: string | undefined, event: HistoryEvent) =>
      isStale(view, { executionId, event });
    expect(stale('exec0', historyEvent.taskCompleted(0, t0, null))).toBe(true);
    expect(stale('exec1', historyEvent.taskCompleted(4, t0, null))).toBe(true);
    expect(stale('exec1', historyEvent.timerFired(1, t0, undefined))).toBe(true);
    expect(stale('exec1', executionStarted(view))).toBe(true);
    expect(stale('exec1', historyEvent.taskCompleted(0, t0, null))).toBe(false);
    expect(stale(undefined, historyEvent.eventRaised(t0, 'Go', null))).toBe(false);
  });
});
