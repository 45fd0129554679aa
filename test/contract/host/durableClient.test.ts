/**
 * The real DurableClient (durable-functions 3.5.0) against the engine's Durable HTTP API, in rpc mode
 * (rpcBaseUrl, loopback listener) and webhook mode (URL templates on the public host, system key).
 */
import * as df from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { invokeFunction } from '../../../local/host/core.js';
import { useDurableHarness, waitForStatus } from './durableHarness.js';

// A page size of 2 makes the client follow x-ms-continuation-token in getStatusAll.
const h = useDurableHarness({ hub: 'Client', scale: 1000, listPageSize: 2 });

const runningOrPending = (s: { runtimeStatus: string }) => s.runtimeStatus === 'Running';

describe.each(['rpc', 'webhook'] as const)('DurableClient in %s mode', (mode) => {
  const prefix = `${mode}-${Date.now().toString(36)}`;

  it('starts with an id, reports Running with custom status, raises an event, completes', async () => {
    const client = h.client(mode);
    const id = await client.startNew('Waiter', { instanceId: `${prefix}-a`, input: { who: mode } });
    expect(id).toBe(`${prefix}-a`);
    const running = await waitForStatus(client, id, (s) => s.customStatus === 'waiting');
    expect(running.runtimeStatus).toBe('Running');
    expect(running.name).toBe('Waiter');
    expect(running.input).toEqual({ who: mode });
    expect(running.output).toBeNull();

    // A running deterministic id is never started twice.
    await expect(client.startNew('Waiter', { instanceId: id })).rejects.toThrow(/409/);

    await client.raiseEvent(id, 'Approval', { ok: 1 });
    const done = await waitForStatus(client, id);
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toEqual({ first: { ok: 1 }, input: { who: mode } });
    // Raising to a finished instance is a 410, which the client treats as success.
    await expect(client.raiseEvent(id, 'Approval', {})).resolves.toBeUndefined();
    const withHistory = await client.getStatus(id, { showHistory: true, showHistoryOutput: true });
    expect(withHistory.runtimeStatus).toBe('Completed');
  });

  it('terminates, suspends and resumes', async () => {
    const client = h.client(mode);
    const killed = await client.startNew('Waiter', { instanceId: `${prefix}-t` });
    await waitForStatus(client, killed, runningOrPending);
    await client.terminate(killed, 'no longer needed');
    const terminated = await client.getStatus(killed);
    expect(terminated.runtimeStatus).toBe('Terminated');
    expect(terminated.output).toBe('no longer needed');
    await expect(client.terminate(killed, 'again')).resolves.toBeUndefined(); // 410

    const paused = await client.startNew('Waiter', { instanceId: `${prefix}-s` });
    await waitForStatus(client, paused, (s) => s.customStatus === 'waiting');
    await client.suspend(paused, 'hold');
    expect((await client.getStatus(paused)).runtimeStatus).toBe('Suspended');
    await client.raiseEvent(paused, 'Approval', 'while suspended');
    // The event is buffered, not processed: still suspended after the engine had time to act on it.
    await new Promise((r) => setTimeout(r, 100));
    expect((await client.getStatus(paused)).runtimeStatus).toBe('Suspended');
    await client.resume(paused, 'go on');
    const resumed = await waitForStatus(client, paused);
    expect(resumed.runtimeStatus).toBe('Completed');
    // startNew without input posts the JSON string "" (axios encodes the empty body), as against Azure.
    expect(resumed.output).toEqual({ first: 'while suspended', input: '' });
  });

  it('lists across continuation pages, filters by status, purges', async () => {
    const client = h.client(mode);
    const ids = [`${prefix}-l1`, `${prefix}-l2`, `${prefix}-l3`];
    for (const id of ids) await client.startNew('Waiter', { instanceId: id });
    for (const id of ids) await waitForStatus(client, id, runningOrPending);

    const all = await client.getStatusAll(); // pages of 2: the client must follow the token
    expect(all.map((s) => s.instanceId)).toEqual(expect.arrayContaining(ids));
    const running = await client.getStatusBy({ runtimeStatus: [df.OrchestrationRuntimeStatus.Running] });
    expect(running.map((s) => s.instanceId)).toEqual(expect.arrayContaining(ids));
    expect(running.every((s) => s.runtimeStatus === 'Running')).toBe(true);

    await client.terminate(ids[0], 'cleanup');
    const purged = await client.purgeInstanceHistory(ids[0]);
    expect(purged.instancesDeleted).toBe(1);
    await expect(client.getStatus(ids[0])).rejects.toThrow();
    expect((await client.purgeInstanceHistory(ids[0])).instancesDeleted).toBe(0);
    await expect(client.raiseEvent(ids[0], 'Approval', 1)).rejects.toThrow(/No instance with ID/);
    for (const id of ids.slice(1)) await client.terminate(id, 'cleanup');
  });
});

describe('Durable HTTP API details', () => {
  it('requires the system key on the public webhook path', async () => {
    const res = await fetch(`${h.publicBaseUrl}/runtime/webhooks/durabletask/instances`);
    expect(res.status).toBe(401);
    const ok = await fetch(`${h.publicBaseUrl}/runtime/webhooks/durabletask/instances?code=${h.systemKey}`);
    expect(ok.status).toBe(200);
  });

  it('answers status with 202 + Location + Retry-After while running, and pages with a token', async () => {
    const client = h.client();
    const id = await client.startNew('Waiter');
    await waitForStatus(client, id, runningOrPending);
    const url = `${h.engine.rpcBaseUrl}instances/${id}`;
    const res = await fetch(url);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(url);
    expect(res.headers.get('retry-after')).toBe('5');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(
      expect.arrayContaining(['name', 'instanceId', 'runtimeStatus', 'input', 'output', 'createdTime']),
    );
    expect(body.createdTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const page = await fetch(`${h.engine.rpcBaseUrl}instances?top=1`);
    const token = page.headers.get('x-ms-continuation-token');
    expect(token).toBeTruthy();
    const next = await fetch(`${h.engine.rpcBaseUrl}instances?top=1`, {
      headers: { 'x-ms-continuation-token': token ?? '' },
    });
    const [first] = (await page.json()) as { instanceId: string }[];
    const [second] = (await next.json()) as { instanceId: string }[];
    expect(second.instanceId).not.toBe(first.instanceId);

    const plain = await fetch(`${h.engine.rpcBaseUrl}instances/${id}/raiseEvent/Approval`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hi',
    });
    expect(plain.status).toBe(400);
    const missing = await fetch(`${h.engine.rpcBaseUrl}instances/nope-${id}/raiseEvent/Approval`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '1',
    });
    expect(missing.status).toBe(404);
    const unknown = await fetch(`${h.engine.rpcBaseUrl}orchestrators/NoSuchOrchestrator`, { method: 'POST' });
    expect(unknown.status).toBe(400);
    await client.terminate(id, 'done');
    const failedOnly = await fetch(
      `${h.engine.rpcBaseUrl}instances/${id}?returnInternalServerErrorOnFailure=true`,
    );
    expect(failedOnly.status).toBe(200); // Terminated is not Failed
  });

  it('lists with inputs unless showInput=false, in instance-id order, filtered by inclusive created-time bounds', async () => {
    // Sources: the extension's HttpApiHandler.cs (HandleGetStatusRequestAsync reads createdTimeFrom/To,
    // runtimeStatus, showInput, top and x-ms-continuation-token) with OrchestrationStatusQueryCondition.cs
    // (ShowInput = true by default); durabletask's AzureTableTrackingStore / OrchestrationInstanceStatusQueryCondition
    // (CreatedTime ge/le, rows in partition-key = instance-id order).
    const client = h.client();
    const stamp = Date.now().toString(36);
    const ids = [`list-${stamp}-c`, `list-${stamp}-a`, `list-${stamp}-b`];
    const from = new Date(Date.now() - 1000);
    for (const id of ids) await client.startNew('Waiter', { instanceId: id, input: { id } });
    for (const id of ids) await waitForStatus(client, id, runningOrPending);

    const listed = (await client.getStatusBy({ createdTimeFrom: from })).filter((s) =>
      s.instanceId.startsWith(`list-${stamp}`),
    );
    expect(listed.map((s) => s.instanceId)).toEqual([...ids].sort());
    expect(listed.map((s) => s.input)).toEqual([...ids].sort().map((id) => ({ id })));

    const bare = await fetch(`${h.engine.rpcBaseUrl}instances?showInput=false&top=100`);
    const rows = ((await bare.json()) as { instanceId: string; input: unknown }[]).filter((r) =>
      ids.includes(r.instanceId),
    );
    expect(rows.map((r) => r.input)).toEqual([null, null, null]);

    // Bounds are inclusive on the stored time; createdTime is reported to the second.
    const [one] = listed;
    const created = new Date(one!.createdTime).getTime();
    const within = await client.getStatusBy({
      createdTimeFrom: new Date(created),
      createdTimeTo: new Date(created + 999),
    });
    expect(within.map((s) => s.instanceId)).toContain(one!.instanceId);
    const before = await client.getStatusBy({
      createdTimeFrom: from,
      createdTimeTo: new Date(from.getTime()),
    });
    expect(before.map((s) => s.instanceId)).not.toContain(one!.instanceId);
    for (const id of ids) await client.terminate(id, 'cleanup');
  });

  it('purges by filter (createdTimeFrom required)', async () => {
    const client = h.client();
    const from = new Date(Date.now() - 1000);
    const id = await client.startNew('Waiter', { instanceId: `purge-by-${Date.now()}` });
    await waitForStatus(client, id, runningOrPending);
    await client.terminate(id, 'x');
    const missingFrom = await fetch(`${h.engine.rpcBaseUrl}instances?runtimeStatus=Terminated`, {
      method: 'DELETE',
    });
    expect(missingFrom.status).toBe(400);
    const result = await client.purgeInstanceHistoryBy({
      createdTimeFrom: from,
      runtimeStatus: [df.OrchestrationRuntimeStatus.Terminated],
    });
    expect(result.instancesDeleted).toBeGreaterThanOrEqual(1);
    await expect(client.getStatus(id)).rejects.toThrow();
  });

  it('supplies the durableClient binding to app functions (createCheckStatusResponse points at this host)', async () => {
    const result = await invokeFunction(
      'StartOrchestration',
      {
        http: {
          method: 'POST',
          url: `${h.publicBaseUrl}/api/orchestrators/Waiter`,
          headers: { 'content-type': 'application/json' },
          query: {},
          params: { name: 'Waiter' },
          body: { string: JSON.stringify({ from: 'http' }) },
        },
      },
      { log: () => {} },
    );
    expect(result.error).toBeUndefined();
    const http = result.returnValue?.http;
    expect(http?.statusCode).toBe('202');
    const body = JSON.parse(Buffer.from(http?.body?.bytes ?? []).toString('utf8')) as {
      id: string;
      statusQueryGetUri: string;
      sendEventPostUri: string;
    };
    expect(body.statusQueryGetUri).toBe(
      `${h.publicBaseUrl}/runtime/webhooks/durabletask/instances/${body.id}?taskHub=${h.engine.clientBinding().taskHubName}&connection=Storage&code=${h.systemKey}`,
    );
    // The check-status URLs work as given.
    const status = await fetch(body.statusQueryGetUri);
    expect([200, 202]).toContain(status.status);
    expect(((await status.json()) as { input: unknown }).input).toEqual({ from: 'http' });
    const raise = await fetch(body.sendEventPostUri.replace('{eventName}', 'Approval'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '"via webhook"',
    });
    expect(raise.status).toBe(202);
    const done = await waitForStatus(h.client(), body.id);
    expect(done.output).toEqual({ first: 'via webhook', input: { from: 'http' } });
  });
});
