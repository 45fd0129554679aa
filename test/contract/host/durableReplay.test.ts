/**
 * The durable engine drives durable-functions' own replay engine: outputs, history shapes and sequence ids
 * must be what the SDK expects (reference: local-functions-host.md §3).
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { EventType } from '../../../local/host/durable/history.js';
import { idSequence, useDurableHarness, waitForStatus } from './durableHarness.js';

const require_ = createRequire(__filename);
const h = useDurableHarness({ hub: 'Replay', scale: 1000 });

describe('durable engine replay contract', () => {
  it('runs on the pinned library versions the protocol was verified with', () => {
    expect(require_('durable-functions/package.json').version).toBe('3.5.0');
    expect(require_('@azure/functions/package.json').version).toBe('4.16.5');
  });

  it('replays activity + retry + timer + external event + sub-orchestration with continueAsNew', async () => {
    const client = h.client();
    const id = await client.startNew('MainOrchestrator', { input: { city: 'Tokyo' } });
    await waitForStatus(client, id, (s) => (s.customStatus as { stage?: string })?.stage === 'approval');
    await client.raiseEvent(id, 'Approval', { approved: true, by: 'ops' });
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.customStatus).toEqual({ stage: 'done' });
    expect(status.output).toEqual({
      greeting: 'Hello, Tokyo!',
      flaky: { ok: true, attempts: 3 },
      approval: { approved: true, by: 'ops' },
      counted: ['Hello, #3!', 'Hello, #2!', 'Hello, #1!'],
    });

    // The child got DTFx's default id "<parent executionId>:<seq>" (seq 7: 0 SayHello, 1–5 retry chain, 6 timer).
    const history = await h.engine.history(id);
    const started = history.find((e) => e.EventType === EventType.ExecutionStarted);
    const created = history.find((e) => e.EventType === EventType.SubOrchestrationInstanceCreated);
    expect(created?.InstanceId).toBe(`${started?.OrchestrationInstance?.ExecutionId}:${created?.EventId}`);
    expect(created?.EventId).toBe(7);
    const child = await client.getStatus(created?.InstanceId ?? '');
    expect(child.name).toBe('CountDown');
    expect(child.runtimeStatus).toBe('Completed');
    // continueAsNew restarted the child with fresh history: its last generation has input n = 0.
    expect(child.input).toEqual({ n: 0, acc: ['Hello, #3!', 'Hello, #2!', 'Hello, #1!'] });
  });

  it('numbers a retry exactly as the SDK does, retry timer after each failed attempt, backoff from history', async () => {
    const client = h.client();
    const id = await client.startNew('RetryOnly', { input: { failTimes: 2, attempts: 3 } });
    const status = await waitForStatus(client, id);
    expect(status.output).toEqual({ ok: true, attempts: 3 });
    const history = await h.engine.history(id);
    expect(idSequence(history)).toEqual([
      'TaskScheduled#0',
      'TaskFailed(0)',
      'TimerCreated#1',
      'TimerFired(1)',
      'TaskScheduled#2',
      'TaskFailed(2)',
      'TimerCreated#3',
      'TimerFired(3)',
      'TaskScheduled#4',
      'TaskCompleted(4)',
    ]);
    // Each retry timer fires first × 2^(attempt−1) after the episode that created it (1 s, then 2 s).
    const delays = history
      .map((e, i) => ({
        e,
        started: history.slice(0, i).findLast((x) => x.EventType === EventType.OrchestratorStarted),
      }))
      .filter(({ e }) => e.EventType === EventType.TimerCreated)
      .map(({ e, started }) => Date.parse(e.FireAt ?? '') - Date.parse(started?.Timestamp ?? ''));
    expect(delays).toEqual([1000, 2000]);
    const failed = history.find((e) => e.EventType === EventType.TaskFailed);
    // The failure texts themselves are checked against the host and extension in durableAzureParity.test.ts.
    expect(failed?.Reason).toBe("Activity function 'Flaky' failed:  flaky failure 1 of 2");
    expect(typeof failed?.Details).toBe('string');
  });

  it('hands activities their input and takes their output as the Functions host does', async () => {
    const client = h.client();
    const id = await client.startNew('EncodingProbe');
    const status = await waitForStatus(client, id);
    expect(status.output).toEqual([
      { type: 'string', value: 'Tokyo' },
      { type: 'string', value: 'true' },
      { type: 'number', value: 42 },
      { type: 'object', value: { a: 1 } },
      { type: 'object', value: null },
    ]);
  });

  it('continues as new with a string input un-quoted', async () => {
    const client = h.client();
    const id = await client.startNew('StringGrow', { input: 'a' });
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe('aaa');
    expect(status.input).toBe('aaa');
  });

  it('reports a failed sub-orchestration to its parent with the Azure failure text', async () => {
    const client = h.client();
    const id = await client.startNew('ParentOfFailing');
    const status = await waitForStatus(client, id);
    expect(status.output).toMatchObject({
      caught: "Orchestrator function 'FailingChild' failed: child exploded ",
    });
    const child = await client.getStatus(`${id}-child`);
    expect(child.runtimeStatus).toBe('Failed');
    expect(child.output).toBe("Orchestrator function 'FailingChild' failed: child exploded");
  });

  it('buffers an event raised before the orchestrator waits for it', async () => {
    const client = h.client();
    const id = await client.startNew('MainOrchestrator', { input: { city: 'Oslo' } });
    await client.raiseEvent(id, 'Approval', { early: true });
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { approval: unknown }).approval).toEqual({ early: true });
  });

  it('lets an event beat a timer and never delivers the cancelled timer', async () => {
    const client = h.client();
    // 2000 virtual seconds = 2 real seconds at scale 1000; the event arrives long before.
    const id = await client.startNew('Race', { input: { timerMs: 2_000_000 } });
    await client.raiseEvent(id, 'Go', 7);
    await waitForStatus(client, id, (s) => s.customStatus === 'cancelled' || s.runtimeStatus !== 'Running');
    // Let the cancelled timer's due time pass while the instance still waits, then finish it.
    await new Promise((r) => setTimeout(r, 2300));
    await client.raiseEvent(id, 'Done', 'yes');
    const status = await waitForStatus(client, id);
    expect(status.output).toEqual({ won: 'event', value: 7, done: 'yes' });
    const history = await h.engine.history(id);
    expect(history.filter((e) => e.EventType === EventType.TimerCreated)).toHaveLength(1);
    expect(history.some((e) => e.EventType === EventType.TimerFired)).toBe(false);
  });

  it('fails entity calls with a clear message (not supported locally)', async () => {
    const client = h.client();
    const id = await client.startNew('Entities');
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toMatch(/callEntity \(durable entities\) is not supported by the local host/);
  });

  it('detects a code change of an in-flight instance as non-determinism', async () => {
    const client = h.client();
    delete process.env.DURABLE_FIXTURE_SWITCH;
    const id = await client.startNew('Switcher');
    await waitForStatus(client, id, (s) => s.runtimeStatus === 'Running');
    // Wait until ActivityA's completion is committed (the instance then only waits for 'Go').
    for (;;) {
      const history = await h.engine.history(id);
      if (history.some((e) => e.EventType === EventType.TaskCompleted)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    process.env.DURABLE_FIXTURE_SWITCH = 'B';
    try {
      await client.raiseEvent(id, 'Go', null);
      const status = await waitForStatus(client, id);
      expect(status.runtimeStatus).toBe('Failed');
      expect(status.output).toMatch(
        /^Non-Deterministic workflow detected: action #0 was 'activity:activitya' .* does 'activity:activityb'/,
      );
    } finally {
      delete process.env.DURABLE_FIXTURE_SWITCH;
    }
    // The same code without the change completes: the check does not fire on a faithful replay.
    const ok = await client.startNew('Switcher');
    await waitForStatus(client, ok, (s) => s.runtimeStatus === 'Running');
    await client.raiseEvent(ok, 'Go', null);
    expect((await waitForStatus(client, ok)).output).toBe('from A');
  });
});
