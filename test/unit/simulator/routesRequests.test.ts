/**
 * Unit tests of the simulator's routes (`local/standins/simulator/`): router; create-job request validation;
 * PDG and Vault; GEM handlers.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBlobStore } from '../../../local/standins/simulator/blobs.js';
import { getJob, listJobs, parseCreateJob } from '../../../local/standins/simulator/gem.js';
import { JobStore } from '../../../local/standins/simulator/jobs.js';
import { getCredentials, listStorages, type PdgDeps } from '../../../local/standins/simulator/pdg.js';
import { matchRoute } from '../../../local/standins/simulator/router.js';
import type { StorageConfig } from '../../../local/standins/simulator/types.js';
import { handleUnwrap, WrappedTokenStore } from '../../../local/standins/simulator/vault.js';

describe('router', () => {
  it.each([
    ['GET', '/maps/orbis/platform/private-gateway/storages', 'GET /storages', 'private-gateway'],
    ['GET', '/maps/orbis/platform/pdg/storages/', 'GET /storages', 'pdg'],
    ['GET', '/maps/orbis/platform/pdg/storages/storage-001', 'GET /storages/{id}', 'pdg'],
    [
      'GET',
      '/maps/orbis/platform/private-gateway/storages/s%201/credentials',
      'GET /storages/{id}/credentials',
      'private-gateway',
    ],
    ['POST', '/maps/orbis/platform/gem/jobs', 'POST /jobs', undefined],
    ['GET', '/maps/orbis/platform/gem/jobs', 'GET /jobs', undefined],
    ['GET', '/maps/orbis/platform/gem/jobs/123456789', 'GET /jobs/{id}', undefined],
    ['POST', '/v1/sys/wrapping/unwrap', 'POST /unwrap', undefined],
  ])('%s %s → %s', (method, path, key, variant) => {
    const r = matchRoute(method, path);
    expect(r.kind === 'route' && [r.route.key, r.route.pdgVariant]).toEqual([key, variant]);
  });

  it('decodes path parameters and names the product', () => {
    const r = matchRoute('GET', '/maps/orbis/platform/private-gateway/storages/s%201/credentials');
    expect(r.kind === 'route' && [r.route.params.storageId, r.route.product]).toEqual(['s 1', 'pdg']);
    const j = matchRoute('GET', '/maps/orbis/platform/gem/jobs/abc');
    expect(j.kind === 'route' && [j.route.params.jobId, j.route.product]).toEqual(['abc', 'gem']);
  });

  it('distinguishes unknown paths from wrong methods', () => {
    expect(matchRoute('GET', '/maps/orbis/platform/gem/jobs/1/cancel').kind).toBe('not-found');
    expect(matchRoute('GET', '/nothing').kind).toBe('not-found');
    expect(matchRoute('DELETE', '/maps/orbis/platform/gem/jobs/1')).toEqual({
      kind: 'method-not-allowed',
      key: '* /jobs/{id}',
      allow: ['GET'],
    });
  });
});

describe('create-job request validation', () => {
  const ok = {
    storage_id: 'storage-001',
    filename: 'a.parquet',
    job_type: 'ROAD_MATCHING',
    overture_release: '2026-01-21.0',
  };
  const details = (ct: string | undefined, body: unknown) => {
    const r = parseCreateJob(ct, typeof body === 'string' ? body : JSON.stringify(body));
    return r.ok ? 'ok' : r.response;
  };

  it('accepts the documented examples', () => {
    expect(details('application/json', ok)).toBe('ok');
    expect(
      details('application/json; charset=utf-8', {
        storage_id: 's',
        filename: 't.parquet',
        job_type: 'LANE_LEVEL_MATCHING',
        orbis_version: '123456.1',
      }),
    ).toBe('ok');
  });

  it('reports each bad field', () => {
    expect(details('application/json', {})).toEqual({
      status: 400,
      body: {
        error: {
          code: 'BadRequest',
          message: 'The request body is invalid.',
          details: [
            { field: 'storage_id', reason: 'is required' },
            { field: 'filename', reason: 'is required' },
            { field: 'job_type', reason: 'is required' },
          ],
        },
      },
    });
    const fields = (body: unknown) => {
      const r = details('application/json', body);
      return r === 'ok'
        ? []
        : (r.body as { error: { details: { field: string }[] } }).error.details.map((d) => d.field);
    };
    expect(fields({ ...ok, job_type: 'road' })).toEqual(['job_type']);
    expect(fields({ ...ok, overture_release: undefined })).toEqual(['overture_release']);
    expect(fields({ ...ok, overture_release: '2026-01-21' })).toEqual(['overture_release']);
    expect(fields({ ...ok, job_type: 'LANE_LEVEL_MATCHING' })).toEqual(['orbis_version']);
    expect(fields({ ...ok, job_type: 'LANE_LEVEL_MATCHING', orbis_version: 'v1' })).toEqual([
      'orbis_version',
    ]);
    expect(fields({ ...ok, filename: '  ', storage_id: 5 })).toEqual(['storage_id', 'filename']);
  });

  it('rejects non-JSON bodies and content types', () => {
    expect(details('application/json', '{nope')).toMatchObject({ status: 400 });
    expect(details('application/json', '[1]')).toMatchObject({ status: 400 });
    expect(details('text/plain', ok)).toMatchObject({ status: 415 });
    expect(details(undefined, ok)).toMatchObject({ status: 415 });
  });
});

const storage = (id: string, allowed: string[]): StorageConfig => ({
  id,
  name: `name-${id}`,
  containerUrl: `https://127.0.0.1:1/${id}/default/`,
  blobConnectionString: 'unused',
  servicePrincipal: { tenantId: 't', clientId: `client-${id}`, clientSecret: `secret-${id}` },
  allowedObjectIds: allowed,
});

describe('PDG and Vault', () => {
  const storages = new Map([
    ['s1', storage('s1', ['user-a'])],
    ['s2', storage('s2', ['user-b'])],
  ]);
  let now = 1_000;
  const wrapped = new WrappedTokenStore(60_000);
  const deps: PdgDeps = { storages, blobs: new MemoryBlobStore(), wrapped, createdAt: 'c', now: () => now };
  const userA = { oid: 'user-a' };

  it('lists only the storages the caller may use', () => {
    expect(listStorages(deps, userA).body).toEqual({
      storages: [{ id: 's1', name: 'name-s1', createdAt: 'c' }],
    });
    expect(listStorages(deps, { oid: 'nobody' }).body).toEqual({ storages: [] });
  });

  it('answers credentials per the doc variants, and 400/403/404 in that order', () => {
    const json = getCredentials(deps, 's1', 'READ_WRITE', 'private-gateway', userA);
    expect((json.body as { credentials: string }).credentials).toMatch(/^hvs\.CAESI[\w-]{32}$/);
    const bare = getCredentials(deps, 's1', 'READ', 'pdg', userA);
    expect(bare.body).toMatch(/^hvs\./);
    expect(getCredentials(deps, 'zzz', null, 'pdg', userA).status).toBe(400);
    expect(getCredentials(deps, 's1', 'WRITE', 'pdg', userA).status).toBe(400);
    expect(getCredentials(deps, 'zzz', 'READ', 'pdg', userA).status).toBe(404);
    expect(getCredentials(deps, 's2', 'READ', 'pdg', userA).status).toBe(403);
  });

  it('unwraps once, via header or JSON body, with the documented payload', () => {
    const token = (
      getCredentials(deps, 's1', 'READ_WRITE', 'private-gateway', userA).body as { credentials: string }
    ).credentials;
    const first = handleUnwrap(wrapped, storages, undefined, JSON.stringify({ token }), now);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: {
        credentials: { clientId: 'client-s1', clientSecret: 'secret-s1' },
        id: 's1',
        tenant_id: 't',
        url: 'https://127.0.0.1:1/s1/default/',
      },
      wrap_info: null,
      warnings: null,
      auth: null,
      mount_type: 'ns_system',
    });
    expect(handleUnwrap(wrapped, storages, token, '', now)).toEqual({
      status: 400,
      body: { errors: ['wrapping token is not valid or does not exist'] },
    });
    expect(handleUnwrap(wrapped, storages, 'hvs.unknown', '', now).status).toBe(400);
    expect(handleUnwrap(wrapped, storages, undefined, '', now)).toEqual({
      status: 400,
      body: { errors: ['missing client token'] },
    });
  });

  it('lets an unused wrapped token expire after its TTL in virtual time', () => {
    const token = getCredentials(deps, 's1', 'READ', 'pdg', userA).body as string;
    now += 60_001;
    expect(handleUnwrap(wrapped, storages, token, '', now).status).toBe(400);
  });
});

describe('GEM handlers', () => {
  const jobs = new JobStore({
    clock: { now: () => 0, toRealDelayMs: () => Number.POSITIVE_INFINITY },
    blobs: new MemoryBlobStore(),
  });

  it('require job_type on list and an integer id on get', async () => {
    expect((await listJobs(jobs, { oid: 'a' }, null)).status).toBe(400);
    expect((await listJobs(jobs, { oid: 'a' }, 'road')).status).toBe(400);
    expect(await listJobs(jobs, { oid: 'a' }, 'ROAD_MATCHING')).toEqual({
      status: 200,
      body: { jobs: [] },
      headers: undefined,
    });
    expect((await getJob(jobs, { oid: 'a' }, 'abc')).status).toBe(400);
    expect((await getJob(jobs, { oid: 'a' }, '123456789')).status).toBe(404);
  });
});
