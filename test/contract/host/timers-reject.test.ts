// Schedules are validated before the host serves anything: a 5-field cron expression (which croner would
// read as minutes-first) is refused like Azure refuses it, naming the function; so is an unknown %SETTING%.
import { describe, expect, it } from 'vitest';
import { startHost } from '../../../local/host/host.js';
import { fixtureApp, tempDir } from './helpers.js';

const base = { appRoot: fixtureApp, port: 0, blob: { watch: false }, log: () => {} };

describe('timer schedule validation at start-up', () => {
  it('refuses a 5-field schedule, naming the function and the expected format', async () => {
    const start = startHost({
      ...base,
      env: {
        FIXTURE_OUT_DIR: tempDir('reject'),
        FIXTURE_TICK_SCHEDULE: '*/5 * * * *',
      },
    });
    await expect(start).rejects.toThrow(/'\*\/5 \* \* \* \*' of timer function "tick".*6-field NCRONTAB/s);
  });

  it('refuses a %SETTING% schedule whose setting is missing, naming the setting', async () => {
    delete process.env.FIXTURE_TICK_SCHEDULE;
    await expect(startHost({ ...base, env: { FIXTURE_OUT_DIR: tempDir('reject') } })).rejects.toThrow(
      /setting 'FIXTURE_TICK_SCHEDULE'.*timer function "tick"/s,
    );
  });

  it('resolves a %SETTING% schedule and starts when it is valid', async () => {
    const host = await startHost({
      ...base,
      env: {
        FIXTURE_OUT_DIR: tempDir('reject'),
        FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *',
      },
    });
    expect((await fetch(`${host.baseUrl}/`)).status).toBe(200);
    await host.close();
  });
});
