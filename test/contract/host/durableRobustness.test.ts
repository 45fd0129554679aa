/**
 * Failures the engine must turn into outcomes an orchestration or a caller can see, instead of hanging an
 * instance, retrying forever or revealing internals: results the worker cannot convert, rows too large for
 * the history store, and the webhook's keys.
 */
import { describe, expect, it } from 'vitest';
import { useDurableHarness, waitForStatus } from './durableHarness.js';

const masterKey = `master-${Math.random().toString(36).slice(2)}`;
const h = useDurableHarness({ hub: 'Robust', scale: 1000, masterKey });

describe('durable engine robustness', () => {
  it('fails the task when the worker cannot convert an activity result, so the orchestrator can catch it', async () => {
    const client = h.client();
    const id = await client.startNew('ActivityFailureProbe', { input: { activity: 'Circular' } });
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { caught: string }).caught).toMatch(
      /^Activity function 'Circular' failed: .*circular/i,
    );
  }, 15_000);

  it('fails the task when an activity result is too large for the history store', async () => {
    const client = h.client();
    const id = await client.startNew('ActivityFailureProbe', { input: { activity: 'Huge', input: 600_000 } });
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { caught: string }).caught).toMatch(
      /^Activity function 'Huge' failed: .*Pass large payloads by reference/,
    );
  }, 15_000);

  it('fails the instance (once) when its output is too large for the history store', async () => {
    const client = h.client();
    const id = await client.startNew('HugeOutput', { input: 600_000 });
    const status = await waitForStatus(client, id);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toMatch(
      /^Orchestrator function 'HugeOutput' failed: .*Pass large payloads by reference/,
    );
  }, 15_000);

  it('answers a start input too large to store with 413 and a message, never a stack', async () => {
    const res = await fetch(`${h.engine.rpcBaseUrl}orchestrators/Waiter`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify('z'.repeat(600_000)),
    });
    const text = await res.text();
    expect(res.status).toBe(413);
    expect(text).toMatch(/Pass large payloads by reference/);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it('accepts the master key (header or code) on the public webhook, as Azure does', async () => {
    const base = `${h.publicBaseUrl}/runtime/webhooks/durabletask/instances`;
    expect((await fetch(`${base}?code=${masterKey}`)).status).toBe(200);
    expect((await fetch(base, { headers: { 'x-functions-key': masterKey } })).status).toBe(200);
    expect((await fetch(base, { headers: { 'x-functions-key': h.systemKey } })).status).toBe(200);
    expect((await fetch(`${base}?code=${masterKey}x`)).status).toBe(401);
  });
});
