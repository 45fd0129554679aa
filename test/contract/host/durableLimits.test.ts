/**
 * host.json concurrency limits (maxConcurrentActivityFunctions / maxConcurrentOrchestratorFunctions), measured
 * from inside the functions, and a fan-out throughput measurement (printed, not asserted).
 */
import { app } from '@azure/functions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadFixtureApp,
  startHarness,
  uniqueHub,
  useDurableHarness,
  waitForStatus,
} from './durableHarness.js';

const orchestrators = { inFlight: 0, max: 0 };

beforeAll(() => {
  loadFixtureApp();
  // Worker hooks run around every invocation, so they see orchestrator episodes in flight.
  app.hook.preInvocation((context) => {
    if (context.invocationContext.functionName === 'FanOut') {
      orchestrators.inFlight++;
      orchestrators.max = Math.max(orchestrators.max, orchestrators.inFlight);
    }
  });
  app.hook.postInvocation((context) => {
    if (context.invocationContext.functionName === 'FanOut') orchestrators.inFlight--;
  });
});
// Registered after the hooks above, so the engine starts once they are in place.
const h = useDurableHarness({
  hub: 'Limits',
  maxConcurrentActivityFunctions: 3,
  maxConcurrentOrchestratorFunctions: 1,
});

describe('durable concurrency limits', () => {
  it('never runs more activities or orchestrator episodes at once than host.json allows', async () => {
    const stats = loadFixtureApp();
    stats.maxInFlight = 0;
    const client = h.client();
    const ids = await Promise.all(
      [0, 1, 2].map(() => client.startNew('FanOut', { input: { count: 8, ms: 15 } })),
    );
    for (const id of ids) expect((await waitForStatus(client, id)).output).toBe(28);
    expect(stats.maxInFlight).toBe(3); // reached, never exceeded
    expect(orchestrators.max).toBe(1);
  });
});

describe('fan-out throughput (measurement)', () => {
  it('runs a 200-activity fan-out and prints activities per second', async () => {
    const fast = await startHarness({
      storage: h.storage,
      taskHub: uniqueHub('FanOut'),
      maxConcurrentActivityFunctions: 10,
      maxConcurrentOrchestratorFunctions: 10,
    });
    try {
      const client = fast.client();
      const started = performance.now();
      const id = await client.startNew('FanOut', { input: { count: 200, ms: 0 } });
      const status = await waitForStatus(client, id);
      const seconds = (performance.now() - started) / 1000;
      expect(status.output).toBe((199 * 200) / 2);
      console.log(
        `[durable fan-out] 200 activities in ${seconds.toFixed(2)} s = ${(200 / seconds).toFixed(0)} activities/s ` +
          '(one episode per completion, history in Azurite tables)',
      );
    } finally {
      await fast.close();
    }
  }, 180_000);
});
