/**
 * Where the local engine must behave as the Durable extension and the Durable Task Framework do on Azure, each
 * case against the source it follows: failure texts (the Node worker, the host's RpcException, the extension's
 * TaskActivityShim / OutOfProcOrchestrationShim), retries (DTFx RetryInterceptor), the start API's wait
 * (HttpApiHandler) and continue-as-new (DurableTask.AzureStorage's instance table).
 */
import { describe, expect, it } from 'vitest';
import { EventType, type HistoryEvent } from '../../../local/host/durable/history.js';
import { caughtFailureMessage, failureMessageOf } from '../../../shared/workflow/status.js';
import { episodeTime, idSequence, useDurableHarness, waitForStatus } from './durableHarness.js';

const h = useDurableHarness({ hub: 'Parity', scale: 1000 });

async function historyUntil(id: string, done: (history: HistoryEvent[]) => boolean): Promise<HistoryEvent[]> {
  for (;;) {
    const history = await h.engine.history(id);
    if (done(history)) return history;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

describe('activity trigger binding data', () => {
  // azure-functions-durable-extension Bindings/ActivityTriggerAttributeBindingProvider.cs: BindAsync puts the
  // orchestration's `instanceId` in the binding data, which the host sends the worker as trigger metadata.
  it('names the instance that scheduled the activity as triggerMetadata.instanceId', async () => {
    const client = h.client();
    const id = `who-asks-${Date.now()}`;
    await client.startNew('AskInstanceId', { instanceId: id });
    const status = await waitForStatus(client, id);
    expect(status.output).toEqual({ instanceId: id });
  });
});

describe('activity and orchestrator failures as Azure stores them', () => {
  // Node worker src/setupEventStream.ts (message, stack) → host Workers/Rpc/RpcException.cs ("Result: Failure\n
  // Exception: …\nStack: …", message through Sanitizer.cs) → extension Listener/TaskActivityShim.cs (Reason with
  // OutOfProcExceptionHelpers' friendly message, Details = the serialised exception) → durable-functions 3.5.0
  // TaskOrchestrationExecutor: `new Error(`${Reason} \n ${Details}`)`.
  it('writes TaskFailed as the extension does and the app reads the exception’s own message from it', async () => {
    const client = h.client();
    const message = 'PDG credentials refused (HTTP 403): the key lacks the Orbis Private Data Gateway API';
    const id = await client.startNew('ActivityFailureProbe', {
      input: { activity: 'Throw', input: { message } },
    });
    const status = await waitForStatus(client, id);
    const failed = (await h.engine.history(id)).find((e) => e.EventType === EventType.TaskFailed);
    expect(failed?.Reason).toBe(`Activity function 'Throw' failed:  ${message}`);
    const details = JSON.parse(failed?.Details ?? '');
    expect(details).toMatchObject({
      $type: 'System.Exception, System.Private.CoreLib',
      Message: ` ${message}`,
      InnerException: {
        $type: 'Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, Microsoft.Azure.WebJobs.Script',
        RemoteMessage: message,
      },
    });
    expect(details.InnerException.Message).toMatch(
      new RegExp(
        `^Result: Failure\\nException: ${escapeRegExp(message)}\\nStack: Error: ${escapeRegExp(message)}\\n {4}at `,
      ),
    );
    const caught = (status.output as { message: string }).message;
    expect(caught).toBe(`${failed?.Reason} \n ${failed?.Details}`);
    expect(caughtFailureMessage(new Error(caught))).toBe(message);
  });

  it('sanitises the message as the Functions host does, and reports a thrown non-Error as the worker does', async () => {
    const client = h.client();
    const secret = await client.startNew('ActivityFailureProbe', {
      input: { activity: 'Throw', input: { message: 'GET https://api.example/x?code=abc123 answered 500' } },
    });
    const raw = await client.startNew('ActivityFailureProbe', {
      input: { activity: 'Throw', input: { raw: true, message: 'a bare string' } },
    });
    await Promise.all([waitForStatus(client, secret), waitForStatus(client, raw)]);
    const reason = async (id: string) =>
      (await h.engine.history(id)).find((e) => e.EventType === EventType.TaskFailed)?.Reason;
    // Sanitizer.cs hides from "?code=" to the next quote or '<' — here to the end of the message.
    expect(await reason(secret)).toBe(
      "Activity function 'Throw' failed:  GET https://api.example/x[Hidden Credential]",
    );
    // errors.ts ensureErrorType: a string becomes the message of a new Error.
    expect(await reason(raw)).toBe("Activity function 'Throw' failed:  a bare string");
  });

  it('fails an instance that does not catch, with the output the app shows as the exception’s own message', async () => {
    const client = h.client();
    const id = await client.startNew('CallUncaught', {
      input: { activity: 'Throw', input: { message: 'boom' } },
    });
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Failed');
    // OutOfProcOrchestrationShim.cs: "Orchestrator function '<name>' failed: <the error the SDK reports>".
    expect(status.output).toMatch(
      /^Orchestrator function 'CallUncaught' failed: Activity function 'Throw' failed: {2}boom \n \{"\$type":/,
    );
    expect(failureMessageOf(status.output)).toBe('boom');
  });

  it('reports a failed sub-orchestration with the Reason and Details the parent gets on Azure', async () => {
    const client = h.client();
    const id = await client.startNew('ParentOfFailing');
    const status = await waitForStatus(client, id);
    // Reason: the child's output; Details: OutOfProcOrchestrationShim's "Message: …, StackTrace: …", passed on by
    // DTFx TaskOrchestrationDispatcher (IncludeDetails is on: DurableTaskExtension.cs).
    const caught = (status.output as { message: string }).message;
    expect(caught).toMatch(
      /^Orchestrator function 'FailingChild' failed: child exploded \n Message: child exploded, StackTrace: $/,
    );
    expect(caughtFailureMessage(new Error(caught))).toBe('child exploded');
  });
});

describe('retries as DTFx RetryInterceptor runs them', () => {
  // RetryInterceptor.cs Invoke: after the last attempt, CreateTimer(CurrentUtcDateTime, "Dummy timer for
  // back-compat") — a timer due at once — then the failure; durable-functions' RetryableTask waits for it.
  it('follows the last failed attempt with a timer due at once, then surfaces the failure', async () => {
    const client = h.client();
    const id = await client.startNew('RetryOnly', { input: { failTimes: 5, attempts: 2 } });
    const status = await waitForStatus(client, id);
    expect(status.output).toEqual({ caught: "Activity function 'Flaky' failed:  flaky failure 2 of 5 " });
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
    ]);
    const timers = history.filter((e) => e.EventType === EventType.TimerCreated);
    expect(timers.map((t) => Date.parse(t.FireAt ?? '') - episodeTime(history, t))).toEqual([1000, 0]);
  });

  it('retries a failing sub-orchestration the same way, the same child id each attempt', async () => {
    const client = h.client();
    const id = await client.startNew('ParentRetriesChild');
    const status = await waitForStatus(client, id);
    expect(status.output).toEqual({ caught: "Orchestrator function 'FailingChild' failed: child exploded " });
    const history = await h.engine.history(id);
    expect(idSequence(history)).toEqual([
      'SubOrchestrationInstanceCreated#0',
      'SubOrchestrationInstanceFailed(0)',
      'TimerCreated#1',
      'TimerFired(1)',
      'SubOrchestrationInstanceCreated#2',
      'SubOrchestrationInstanceFailed(2)',
      'TimerCreated#3',
      'TimerFired(3)',
    ]);
    const timers = history.filter((e) => e.EventType === EventType.TimerCreated);
    expect(timers.map((t) => Date.parse(t.FireAt ?? '') - episodeTime(history, t))).toEqual([1000, 0]);
    const children = history.filter((e) => e.EventType === EventType.SubOrchestrationInstanceCreated);
    expect(children.map((c) => c.InstanceId)).toEqual([`${id}-c`, `${id}-c`]);
  });

  // RetryInterceptor.ComputeNextDelay: no delay once CurrentUtcDateTime reaches firstAttempt + RetryTimeout,
  // and then no timer at all. durable-functions still waits for one, so the orchestration stops without an
  // error it could catch (Azure/azure-functions-durable-js#629) — this is what Azure does.
  it('stops retrying once retryTimeoutInMilliseconds has passed, leaving the orchestration waiting', async () => {
    const client = h.client();
    // 100 s, then 400 s (coefficient 4): the third attempt fails after the 400 s timeout.
    const options = {
      first: 100_000,
      attempts: 5,
      backoffCoefficient: 4,
      retryTimeoutInMilliseconds: 400_000,
    };
    const id = await client.startNew('RetryWithOptions', { input: { options, failTimes: 10 } });
    const history = await historyUntil(
      id,
      (events) => events.filter((e) => e.EventType === EventType.TaskFailed).length === 3,
    );
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
      'TaskFailed(4)',
    ]);
    const timers = history.filter((e) => e.EventType === EventType.TimerCreated);
    expect(timers.map((t) => Date.parse(t.FireAt ?? '') - episodeTime(history, t))).toEqual([
      100_000, 400_000,
    ]);
    // Nothing follows (the episode that took the failure scheduled nothing), and the instance keeps running.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(idSequence(await h.engine.history(id))).toHaveLength(10);
    expect((await client.getStatus(id)).runtimeStatus).toBe('Running');
    await client.terminate(id, 'test done');
  });
});

describe('the Durable HTTP start API with ?timeout=&pollingInterval=', () => {
  // HttpApiHandler.cs HandleStartOrchestratorRequestAsync → WaitForCompletionOrCreateCheckStatusResponseAsync.
  const start = (name: string, query: string, body: unknown = null) =>
    fetch(
      `${h.publicBaseUrl}/runtime/webhooks/durabletask/orchestrators/${name}?${query}&code=${encodeURIComponent(h.systemKey)}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    );

  it('answers 200 with the output when the instance completes within the timeout', async () => {
    const res = await start('EncodingProbe', 'timeout=10&pollingInterval=0.05');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      { type: 'string', value: 'Tokyo' },
      { type: 'string', value: 'true' },
      { type: 'number', value: 42 },
      { type: 'object', value: { a: 1 } },
      { type: 'object', value: null },
    ]);
  });

  it('answers with the status (200, even when asked for 500 on failure) when the instance fails', async () => {
    const res = await start(
      'CallUncaught',
      'timeout=10&pollingInterval=0.05&returnInternalServerErrorOnFailure=true',
      { activity: 'Throw', input: { message: 'no' } },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.json()).toMatchObject({ name: 'CallUncaught', runtimeStatus: 'Failed' });
  });

  it('answers 202 with the check-status links once the timeout passes', async () => {
    const before = Date.now();
    const res = await start('Waiter', 'timeout=0.3&pollingInterval=0.1', { n: 1 });
    expect(Date.now() - before).toBeGreaterThanOrEqual(300);
    expect(res.status).toBe(202);
    expect(res.headers.get('retry-after')).toBe('10');
    const body = (await res.json()) as { id: string; statusQueryGetUri: string };
    expect(res.headers.get('location')).toBe(body.statusQueryGetUri);
    expect(Object.keys(body)).toEqual([
      'id',
      'statusQueryGetUri',
      'sendEventPostUri',
      'terminatePostUri',
      'purgeHistoryDeleteUri',
      'restartPostUri',
      'suspendPostUri',
      'resumePostUri',
    ]);
    await h.client().terminate(body.id, 'test done');
  });

  it('does not wait without both parameters, and refuses an interval longer than the timeout after starting', async () => {
    const before = Date.now();
    const onlyTimeout = await start('Waiter', 'timeout=30');
    expect(onlyTimeout.status).toBe(202);
    expect(Date.now() - before).toBeLessThan(10_000);
    await h.client().terminate(((await onlyTimeout.json()) as { id: string }).id, 'test done');

    const id = `refused-${Date.now()}`;
    const res = await start(`Waiter/${id}`, 'timeout=1&pollingInterval=2');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      'One or more of the arguments submitted is incorrect: Total timeout 1 should be bigger than retry timeout 2',
    );
    // The extension started the instance before it checked the wait's arguments.
    expect((await h.client().getStatus(id)).name).toBe('Waiter');
    await h.client().terminate(id, 'test done');
  });
});

describe('continue-as-new', () => {
  // DurableTask.AzureStorage Tracking/AzureTableTrackingStore.cs UpdateStateAsync: the instance row's
  // CreatedTime is the new generation's ExecutionStarted timestamp, which DTFx TaskOrchestrationDispatcher
  // stamps when it continues the instance as new.
  it('reports the latest generation’s start as createdTime', async () => {
    const client = h.client();
    const id = await client.startNew('StringGrow', { input: 'a' });
    const first = (await client.getStatus(id)).createdTime;
    const status = await waitForStatus(client, id);
    expect(status.output).toBe('aaa');
    const started = (await h.engine.history(id)).find((e) => e.EventType === EventType.ExecutionStarted);
    const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000) * 1000;
    expect(new Date(status.createdTime).getTime()).toBe(seconds(started?.Timestamp ?? ''));
    expect(new Date(status.createdTime).getTime()).toBeGreaterThan(new Date(first).getTime());
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
