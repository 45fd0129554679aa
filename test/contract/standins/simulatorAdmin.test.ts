// The HTTP surface of a private simulator instance (in-memory blobs, its own cert and signing key):
// admin API, fault injection, key rotation, token expiry and per-user isolation. Its own instance,
// because these tests reset and inject faults, which would disturb tests sharing the stack's simulator.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KEY, type PrivateSimulator, startPrivateSimulator } from './privateSimulator.js';

let p: PrivateSimulator;
let sim: PrivateSimulator['sim'];
const call: PrivateSimulator['call'] = (...args) => p.call(...args);
const tomtom: PrivateSimulator['tomtom'] = (...args) => p.tomtom(...args);
const admin: PrivateSimulator['admin'] = (...args) => p.admin(...args);
const createJob = (oid?: string) => p.createJob(oid);

beforeAll(async () => {
  p = await startPrivateSimulator();
  sim = p.sim;
});

afterAll(() => p?.close());
beforeEach(async () => {
  expect((await admin('POST', '/reset')).status).toBe(200);
});

describe('authorization over HTTP', () => {
  it('403 for a key without GEM, and for a storage the user may not use', async () => {
    const noGem = await call(
      'GET',
      `${sim.url}/maps/orbis/platform/gem/jobs?job_type=ROAD_MATCHING`,
      await tomtom('user-a', 'pdg-only-key-0000'),
    );
    expect([noGem.status, noGem.body.error.code]).toEqual([403, 'Forbidden']);
    expect(noGem.body.error.message).toContain('Orbis GEM API');
    const other = await call(
      'GET',
      `${sim.url}/maps/orbis/platform/private-gateway/storages/storage-002`,
      await tomtom(),
    );
    expect(other.status).toBe(403);
    const list = await call('GET', `${sim.url}/maps/orbis/platform/private-gateway/storages`, await tomtom());
    expect(list.body.storages.map((s: { id: string }) => s.id)).toEqual(['storage-001']);
  });

  it('rejects an unsupported X-Version', async () => {
    const r = await call('GET', `${sim.url}/maps/orbis/platform/pdg/storages`, {
      ...(await tomtom()),
      'X-Version': '2',
    });
    expect(r.status).toBe(400);
  });

  it('keeps jobs private to their owner', async () => {
    const created = await createJob('user-a');
    expect(created.status).toBe(201);
    const byB = await call(
      'GET',
      `${sim.url}/maps/orbis/platform/gem/jobs/${created.body.job_id}`,
      await tomtom('user-b'),
    );
    expect(byB.status).toBe(404);
    const listB = await call(
      'GET',
      `${sim.url}/maps/orbis/platform/gem/jobs?job_type=ROAD_MATCHING`,
      await tomtom('user-b'),
    );
    expect(listB.body).toEqual({ jobs: [] });
    const noType = await call('GET', `${sim.url}/maps/orbis/platform/gem/jobs`, await tomtom());
    expect(noType.status).toBe(400);
  });
});

describe('admin API', () => {
  it('counts requests per route, status and credential kind, with secrets redacted', async () => {
    await call('GET', `${sim.url}/maps/orbis/platform/private-gateway/storages`, await tomtom());
    await call('GET', `${sim.url}/maps/orbis/platform/private-gateway/storages`, {
      'tomtom-api-key': 'bogus-key-123456',
    });
    const wrapped = await call(
      'GET',
      `${sim.url}/maps/orbis/platform/private-gateway/storages/storage-001/credentials?type=READ`,
      await tomtom(),
    );
    const unwrap = await call('POST', `${sim.url}/v1/sys/wrapping/unwrap`, {
      'X-Vault-Token': wrapped.body.credentials,
    });
    expect(unwrap.body.data.credentials.clientSecret).toBe('sp-secret-value');
    const r = await admin('GET', '/requests');
    expect(r.body.byRoute).toEqual({
      'GET /storages': 2,
      'GET /storages/{id}/credentials': 1,
      'POST /unwrap': 1,
    });
    expect(r.body.byStatus).toEqual({ '200': 3, '401': 1 });
    expect(r.body.byCredential).toEqual({ 'api-key+bearer': 2, 'api-key': 1, 'vault-token': 1 });
    expect(r.body.recent[0]).toMatchObject({
      method: 'GET',
      status: 200,
      apiKey: 'admi…(redacted)',
      subject: 'user-a',
    });
    const text = JSON.stringify(r.body);
    for (const secret of [
      KEY,
      'bogus-key-123456',
      wrapped.body.credentials,
      'sp-secret-value',
      'Bearer ey',
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it('injects 429 with Retry-After before auth, and a faulted create does not create a job', async () => {
    const added = await admin('POST', '/faults', {
      route: 'POST /jobs',
      status: 429,
      retryAfterSeconds: 3,
      times: 1,
    });
    expect(added.status).toBe(201);
    const faulted = await createJob();
    expect([faulted.status, faulted.headers['retry-after']]).toEqual([429, '3']);
    expect((await admin('GET', '/jobs')).body.jobs).toEqual([]);
    const next = await createJob();
    expect(next.status).toBe(201);
    const jobs = (await admin('GET', '/jobs')).body.jobs;
    expect(jobs.map((j: { job_id: number; owner_oid: string }) => [j.job_id, j.owner_oid])).toEqual([
      [next.body.job_id, 'user-a'],
    ]);
    // Before auth: a request with no credentials at all still gets the injected status.
    await admin('POST', '/faults', { route: '*', status: 500, times: 1 });
    expect((await call('GET', `${sim.url}/maps/orbis/platform/pdg/storages`)).status).toBe(500);
    await admin('POST', '/faults', { status: 503 });
    expect((await call('GET', `${sim.url}/maps/orbis/platform/pdg/storages`)).status).toBe(503);
    expect((await admin('DELETE', '/faults')).body).toEqual({ cleared: 1 });
    expect((await call('GET', `${sim.url}/maps/orbis/platform/pdg/storages`)).status).toBe(401);
  });

  it('adds and revokes keys at runtime', async () => {
    const headers = async (key: string) => tomtom('user-a', key);
    const url = `${sim.url}/maps/orbis/platform/pdg/storages`;
    expect((await call('GET', url, await headers('rotated-key-999999'))).status).toBe(401);
    expect((await admin('POST', '/keys', { key: 'rotated-key-999999', products: ['pdg'] })).body).toEqual({
      key: 'rota…(redacted)',
      products: ['pdg'],
    });
    expect((await call('GET', url, await headers('rotated-key-999999'))).status).toBe(200);
    expect((await admin('DELETE', '/keys/rotated-key-999999')).status).toBe(204);
    expect((await call('GET', url, await headers('rotated-key-999999'))).status).toBe(401);
    expect((await admin('DELETE', '/keys/rotated-key-999999')).status).toBe(404);
    expect((await admin('POST', '/keys', { key: 'x', products: ['maps'] })).status).toBe(400);
  });

  it('expires every token already issued', async () => {
    const h = await tomtom();
    const url = `${sim.url}/maps/orbis/platform/pdg/storages`;
    expect((await call('GET', url, h)).status).toBe(200);
    expect((await admin('POST', '/faults', { action: 'expire-tokens' })).status).toBe(200);
    const r = await call('GET', url, h);
    expect([r.status, r.body.error.message]).toEqual([
      401,
      expect.stringMatching(/^The access token has expired/),
    ]);
  });

  it('arms fail-job for the next job and validates admin bodies', async () => {
    expect((await admin('POST', '/faults', { action: 'fail-job' })).body).toEqual({
      action: 'fail-job',
      jobId: 'next',
    });
    expect((await admin('POST', '/faults', { action: 'fail-job', jobId: 1 })).status).toBe(404);
    expect((await admin('POST', '/faults', { action: 'explode' })).status).toBe(400);
    expect((await admin('POST', '/faults', { status: 'x' })).status).toBe(400);
    expect((await admin('GET', '/nothing')).status).toBe(404);
  });
});
