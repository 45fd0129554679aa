// A timer whose last occurrence is long past runs as soon as the host starts, and it must find its durable
// client binding ready: on Azure the host starts its listeners (the timer's among them) only once every
// extension, the Durable Task one included, has initialised (ScriptHost.StartAsyncCore → JobHost.StartAsync
// in azure-functions-host; listeners start after extension configuration). A restarted local stack at a high
// time scale hit exactly this with the sweep: "Received input is not a valid durable client input".
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { clockSettings, createClock } from '../../../local/host/clock.js';
import { type RunningHost, startHost } from '../../../local/host/host.js';
import { uniqueHub } from './durableHarness.js';
import { records, tempDir, waitFor } from './helpers.js';

const appRoot = resolve(__dirname, '../../fixtures/timer-client-app');
const out = tempDir('timer-client-out');
const state = tempDir('timer-client-state');
let host: RunningHost | undefined;

beforeAll(async () => {
  mkdirSync(state, { recursive: true });
  writeFileSync(
    join(state, 'timers.json'),
    JSON.stringify({
      catchUp: {
        Last: '2020-01-01T00:00:00.000Z',
        Next: '2021-01-01T00:00:00.000Z',
        LastUpdated: '2020-01-01T00:00:01.000Z',
      },
    }),
  );
  host = await startHost({
    appRoot,
    port: 0,
    stateDir: state,
    env: {
      FIXTURE_OUT_DIR: out,
      DURABLE_TASK_HUB: uniqueHub('TimerClient'),
      // All three clock settings, so none is inherited from the shared stack's clock in this worker's env.
      ...clockSettings(createClock({ scale: 600 })),
    },
    eventGrid: { watch: false },
    log: () => {},
  });
});
afterAll(() => host?.close());

it('runs a past-due timer at start-up with its durable client binding in place', async () => {
  const [run] = await waitFor(() => {
    const found = records<{ isPastDue: boolean; instanceId?: string; error?: string }>(out, 'catchup.jsonl');
    return found.length ? found : undefined;
  }, 'the past-due catch-up run');
  expect(run).toMatchObject({ isPastDue: true });
  expect(run!.error).toBeUndefined();
  expect(run!.instanceId).toMatch(/\S/);
});
