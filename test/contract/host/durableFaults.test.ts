/**
 * Storage faults and limits the engine must absorb without a restart: a transient error while storing an
 * activity's completion is retried; the loopback rpc listener refuses a body over the host's limit with 413;
 * and an engine whose start-up fails leaves no listener open behind it.
 */
import { describe, expect, it } from 'vitest';
import { createClock } from '../../../local/host/clock.js';
import { resolveStorageConnection } from '../../../local/host/connections.js';
import { EventType } from '../../../local/host/durable/history.js';
import { startDurableEngine } from '../../../local/host/durable/index.js';
import type { DurableStore } from '../../../local/host/durable/store.js';
import { uniqueHub, useDurableHarness, waitForStatus } from './durableHarness.js';
import { waitFor } from './helpers.js';

/** How many activity completions the store refuses next, and how many it has refused. */
const faults = { pending: 0, injected: 0 };
const logs: string[] = [];

/** The real store, except that `addMessage` of a TaskCompleted fails while faults are pending. */
function flakyStore(store: DurableStore): DurableStore {
  const addMessage = store.addMessage.bind(store);
  store.addMessage = async (instanceId, message) => {
    if (faults.pending > 0 && message.event.EventType === EventType.TaskCompleted) {
      faults.pending--;
      faults.injected++;
      throw Object.assign(new Error('injected: The server is busy.'), { statusCode: 503 });
    }
    return addMessage(instanceId, message);
  };
  return store;
}

const h = useDurableHarness({
  hub: 'Faults',
  scale: 1000,
  maxRequestBodyBytes: 64 * 1024,
  wrapStore: flakyStore,
  log: (line) => logs.push(line),
});

describe('durable engine under storage faults', () => {
  it('retries storing an activity completion after transient errors; the orchestration completes', async () => {
    const client = h.client();
    faults.pending = 3;
    const id = await client.startNew('EncodingProbe');
    // Bounded here so that a lost completion fails the test instead of hanging it.
    const status = await Promise.race([
      waitForStatus(client, id),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`still waiting; engine log:\n${logs.join('\n')}`)), 12_000),
      ),
    ]);
    expect(faults.injected).toBe(3);
    expect(status.runtimeStatus).toBe('Completed');
    expect((status.output as { value: unknown }[]).map((r) => r.value)).toEqual([
      'Tokyo',
      'true',
      42,
      { a: 1 },
      null,
    ]);
    expect(logs.some((l) => /storing the completion of activity 'Echo'.*retrying/.test(l))).toBe(true);
  }, 20_000);

  it('answers a body over the limit on the loopback rpc listener with 413', async () => {
    const res = await fetch(`${h.engine.rpcBaseUrl}orchestrators/Waiter`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify('z'.repeat(100 * 1024)),
    });
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/exceeds the limit of 65536 bytes/);
    // Under the limit it is served as before.
    const ok = await fetch(`${h.engine.rpcBaseUrl}orchestrators/Waiter`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify('small'),
    });
    expect(ok.status).toBe(202);
  });

  it('closes its rpc listener when start-up fails', async () => {
    const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = servers();
    const start = startDurableEngine({
      taskHub: uniqueHub('BadStart'),
      storage: resolveStorageConnection({ AzureWebJobsStorage: h.storage.connectionString }),
      publicBaseUrl: h.publicBaseUrl,
      systemKey: 'unused',
      clock: createClock({ scale: 1 }),
      maxConcurrentActivityFunctions: 1,
      maxConcurrentOrchestratorFunctions: 1,
      log: () => {},
      wrapStore: (store) => {
        store.listRecords = async () => {
          throw new Error('injected: the task hub cannot be read');
        };
        return store;
      },
    });
    await expect(start).rejects.toThrow(/task hub cannot be read/);
    // The listening handle is released asynchronously after close(); without the fix it never is.
    await waitFor(() => (servers() === before ? true : undefined), 'the rpc listener to close', 3000);
  });
});
