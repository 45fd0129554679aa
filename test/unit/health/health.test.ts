// shared/health.ts: liveness is a constant; the keyed report shows settings without secrets, lists every
// settings problem, and reuses its dependency probes for PROBE_CACHE_MS (a fake clock moves time here).
import { beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { buildOpenApiDocument } from '../../../shared/api/openapi.js';
import type { healthReportSchema } from '../../../shared/api/schemas.js';
import {
  type HealthReport,
  healthReport,
  liveness,
  PROBE_CACHE_MS,
  resetHealthCache,
} from '../../../shared/health.js';
import type { Services } from '../../../shared/services.js';
import { schemaProblems } from '../api/jsonSchemaCheck.js';

const SIGNING_SECRET = 'a-signing-secret-of-some-length';
const env = {
  TOMTOM_API_KEY: 'local-key-123456',
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  INBOX_CONTAINER: 'inbox',
  SWEEP_SCHEDULE: '0 */15 * * * *',
  RETENTION_SCHEDULE: '0 30 2 * * *',
  NOTIFY_SIGNING_SECRET: SIGNING_SECRET,
  KEY_VAULT_URL: 'https://kv-gemflow.vault.azure.net',
};

/** Services whose probes count their calls; `fail` makes TomTom refuse. */
function fakeServices(options: { fail?: boolean } = {}) {
  const calls = { storage: 0, apiKey: 0, token: 0, tomtom: 0 };
  const services = {
    outbox: {
      containerName: 'outbox',
      exists: async () => {
        calls.storage++;
        return true;
      },
    },
    apiKeys: {
      getApiKey: async () => {
        calls.apiKey++;
        return 'k';
      },
    },
    credential: {
      getToken: async () => {
        calls.token++;
        return { token: 't', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    },
    tomtom: {
      listStorages: async () => {
        calls.tomtom++;
        if (options.fail) throw new Error('TomTom answered 401: the API key is invalid');
        return [{ id: 'storage-001' }];
      },
    },
  } as unknown as Services;
  return { calls, services: () => services };
}

let time = 1_000_000;
const now = () => time;

beforeEach(() => {
  resetHealthCache();
  time = 1_000_000;
});

describe('liveness', () => {
  it('is a constant that names nothing', () => {
    expect(liveness()).toEqual({ status: 'alive' });
  });
});

describe('the keyed report', () => {
  it('shows the settings in force, secrets only as set or not set, and the Node version', async () => {
    const fake = fakeServices();
    const report = await healthReport({ env, services: fake.services, now });
    expect(report.status).toBe('ok');
    expect(report.node).toBe(process.version);
    expect(report.settingsProblems).toEqual([]);
    expect(report.settings.KEY_VAULT_URL).toEqual({ set: true, value: env.KEY_VAULT_URL });
    expect(report.settings.TOMTOM_API_BASE_URL).toEqual({
      set: false,
      value: 'https://api.tomtom.com',
      default: true,
    });
    expect(report.settings.NOTIFY_SIGNING_SECRET).toEqual({ set: true, secret: true });
    expect(report.settings.TOMTOM_API_KEY).toEqual({ set: true, secret: true });
    expect(report.settings.AzureWebJobsStorage).toEqual({ set: true, secret: true });
    const text = JSON.stringify(report);
    for (const secret of [SIGNING_SECRET, env.TOMTOM_API_KEY, env.AzureWebJobsStorage]) {
      expect(text).not.toContain(secret);
    }
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['app-storage', true],
      ['api-key', true],
      ['gem-token', true],
      ['tomtom', true],
    ]);
  });

  it('lists every settings problem and runs no probe while the settings cannot be used', async () => {
    const fake = fakeServices();
    const report = await healthReport({
      env: { ...env, MONITOR_BACKOFF_FACTOR: 'abc', KEY_VAULT_URL: '', TOMTOM_API_KEY: '' },
      services: fake.services,
      now,
    });
    expect(report.status).toBe('misconfigured');
    expect(report.settingsProblems.map((p) => p.setting)).toEqual([
      'MONITOR_BACKOFF_FACTOR',
      'TOMTOM_API_KEY / KEY_VAULT_URL',
    ]);
    expect(report.checks.every((c) => !c.ok && c.detail.startsWith('not run'))).toBe(true);
    expect(fake.calls).toEqual({ storage: 0, apiKey: 0, token: 0, tomtom: 0 });
  });

  it('reports a problem that only disables one trigger, and still probes the dependencies', async () => {
    const fake = fakeServices();
    const report = await healthReport({ env: { ...env, SWEEP_SCHEDULE: '' }, services: fake.services, now });
    expect(report.status).toBe('misconfigured');
    expect(report.settingsProblems).toEqual([
      expect.objectContaining({ setting: 'SWEEP_SCHEDULE', disables: 'sweep' }),
    ]);
    expect(report.checks.every((c) => c.ok)).toBe(true);
  });

  it('reuses its probes within the window, shares one probe between concurrent calls, and probes again after', async () => {
    const fake = fakeServices();
    const [first, second] = await Promise.all([
      healthReport({ env, services: fake.services, now }),
      healthReport({ env, services: fake.services, now }),
    ]);
    time += PROBE_CACHE_MS - 1;
    const third = await healthReport({ env, services: fake.services, now });
    expect(fake.calls).toEqual({ storage: 1, apiKey: 1, token: 1, tomtom: 1 });
    expect(second.checkedAt).toBe(first.checkedAt);
    expect(third.checkedAt).toBe(first.checkedAt);
    expect(third.cachedForSeconds).toBe(PROBE_CACHE_MS / 1000);
    time += 1;
    const fourth = await healthReport({ env, services: fake.services, now });
    expect(fake.calls.tomtom).toBe(2);
    expect(fourth.checkedAt).toBe(new Date(time).toISOString());
  });

  it('reuses a failed probe too, so a failing dependency is not hammered', async () => {
    const fake = fakeServices({ fail: true });
    const first = await healthReport({ env, services: fake.services, now });
    const second = await healthReport({ env, services: fake.services, now });
    expect(first.status).toBe('degraded');
    expect(second.checks.find((c) => c.name === 'tomtom')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('the API key is invalid'),
    });
    expect(fake.calls.tomtom).toBe(1);
  });

  it('is what the published HealthReport schema describes', async () => {
    expectTypeOf<HealthReport>().toEqualTypeOf<z.output<typeof healthReportSchema>>();
    const root = buildOpenApiDocument() as unknown as Record<string, unknown>;
    const schema = { $ref: '#/components/schemas/HealthReport' };
    const good = await healthReport({ env, services: fakeServices().services, now });
    resetHealthCache();
    const bad = await healthReport({
      env: { ...env, SWEEP_SCHEDULE: 'x' },
      services: fakeServices().services,
      now,
    });
    expect(schemaProblems(schema, good, root)).toEqual([]);
    expect(schemaProblems(schema, bad, root)).toEqual([]);
    expect(schemaProblems(schema, { ...good, status: 'fine' }, root)).not.toEqual([]);
  });
});
