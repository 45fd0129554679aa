// Shutdown order: the host stops accepting HTTP requests first, then stops the triggers and the durable
// engine, and runs the app's appTerminate hook last — so nothing reaches the app after it terminated.
import { expect, it } from 'vitest';
import { startHost } from '../../../local/host/host.js';
import { fixtureApp, records, tempDir } from './helpers.js';

it('closes the HTTP server before the appTerminate hook runs', async () => {
  const out = tempDir('shutdown-out');
  const host = await startHost({
    appRoot: fixtureApp,
    port: 0,
    env: {
      FIXTURE_OUT_DIR: out,
      FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *',
      LOCAL_TIME_SCALE: '1',
    },
    eventGrid: { watch: false },
    log: () => {},
  });
  expect((await fetch(`${host.baseUrl}/`)).status).toBe(200);
  await host.close();
  // The fixture's appTerminate hook tries a request to the host and records whether it was answered.
  expect(records(out, 'shutdown.jsonl')).toEqual([{ serverAccepting: false }]);
});
