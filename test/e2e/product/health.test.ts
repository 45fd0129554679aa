// Health as a stranger and as an operator see it, on the unmodified app: anonymous GET /api/health is liveness
// only (it names nothing of the running stack and calls no dependency), the keyed GET /api/health/report shows
// settings, problems, the Node version and cached dependency checks, and a settings error leaves every function
// registered with the report answering 503 and listing each problem.
import { describe, expect, it } from 'vitest';
import { api, routeCount, simulatorAdmin, type TestApp, useApp } from '../harness.js';

// A yearly sweep: the default one fires every 1.5 s at this time scale and would call TomTom on its own.
const app = useApp({ name: 'health', env: { SWEEP_SCHEDULE: '0 0 0 1 1 *' } });
const misconfigured = useApp({
  name: 'health-bad',
  env: { MONITOR_BACKOFF_FACTOR: 'abc', KEY_VAULT_URL: '', SWEEP_SCHEDULE: '*/15 * * * *' },
});

/** Requests the stand-ins have answered: the TomTom simulator, managed identity and Key Vault. */
async function outboundCalls(of: TestApp): Promise<Record<string, number>> {
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    tomtom: (await simulatorAdmin(of).requests(1)).total,
    identity: sum(of.stack.identity.counts()),
    keyVault: sum(of.stack.keyVault.counts()),
  };
}

/** Every value of the running stack's settings that names or locates something, plus its ids. */
function revealingValues(of: TestApp): string[] {
  const { info, settings } = of.stack;
  const values = [
    ...Object.values(settings),
    info.managedIdentity.clientId,
    info.managedIdentity.objectId,
    info.systemIdentity.objectId,
    info.tenantId,
    info.pdgStorageId,
    info.apiKeySecretName,
  ];
  return [...new Set(values)].filter((v) => v.length >= 5 && !/^(true|false|[\d.]+)$/i.test(v));
}

describe('GET /api/health (anonymous)', () => {
  it('answers liveness only: no endpoint, name or id, and no outbound call', async () => {
    const before = await outboundCalls(app);
    for (let i = 0; i < 5; i++) {
      const response = await api(app).request('GET', '/api/health', { key: null });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ status: 'alive' });
      const leaked = revealingValues(app).filter((value) => response.text.includes(value));
      expect(leaked).toEqual([]);
    }
    expect(revealingValues(app).length).toBeGreaterThan(15);
    expect(await outboundCalls(app)).toEqual(before);
  });
});

describe('GET /api/health/report (function key)', () => {
  it('needs the function key', async () => {
    expect((await api(app).request('GET', '/api/health/report', { key: null })).status).toBe(401);
  });

  it('reports settings without secrets, the Node version and passing checks, probing TomTom once per window', async () => {
    const before = routeCount(await simulatorAdmin(app).requests(1), 'GET /storages');
    const first = await api(app).get('/api/health/report');
    const second = await api(app).get('/api/health/report');
    const after = routeCount(await simulatorAdmin(app).requests(1), 'GET /storages');

    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'ok', settingsProblems: [], node: process.version });
    expect(first.body.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['app-storage', true],
      ['api-key', true],
      ['gem-token', true],
      ['tomtom', true],
    ]);
    expect(first.body.settings.KEY_VAULT_URL).toEqual({ set: true, value: app.stack.info.keyVaultUrl });
    expect(first.body.settings.NOTIFY_SIGNING_SECRET).toEqual({ set: true, secret: true });
    expect(first.body.settings.AzureWebJobsStorage).toEqual({ set: true, secret: true });
    for (const secret of [app.stack.settings.NOTIFY_SIGNING_SECRET!, app.stack.info.apiKey]) {
      expect(first.text).not.toContain(secret);
    }
    expect(first.text).not.toContain(/AccountKey=([^;]+)/.exec(app.stack.info.storageConnectionString)![1]);

    // Two reports within the cache window: one round of probes, one TomTom call.
    expect(second.body.checkedAt).toBe(first.body.checkedAt);
    expect(after - before).toBe(1);
  });
});

describe('a settings error', () => {
  it('leaves every function registered (only the sweep disabled) and the report answering 503 with each problem', async () => {
    expect(misconfigured.functions).toEqual(app.functions);
    expect(Object.keys(misconfigured.functionErrors)).toEqual(['sweep']);
    expect(misconfigured.functionErrors.sweep![0]).toContain("Error indexing method 'Functions.sweep'");

    const live = await api(misconfigured).request('GET', '/api/health', { key: null });
    expect(live.status).toBe(200);

    const report = await api(misconfigured).get('/api/health/report');
    expect(report.status).toBe(503);
    expect(report.body.status).toBe('misconfigured');
    const problems = report.body.settingsProblems as {
      setting: string;
      problem: string;
      disables?: string;
    }[];
    expect(problems.map((p) => p.setting)).toEqual([
      'MONITOR_BACKOFF_FACTOR',
      'SWEEP_SCHEDULE',
      'TOMTOM_API_KEY / KEY_VAULT_URL',
    ]);
    expect(problems[0]!.problem).toContain('must be a number between 1 and 10 (got "abc")');
    expect(problems[1]).toMatchObject({ disables: 'sweep' });
    expect(report.body.node).toBe(process.version);

    // What does not need the broken settings keeps answering: listing matches reads only the task hub.
    const list = await api(misconfigured).get('/api/matches');
    expect(list.status).toBe(200);
  });
});
