/**
 * Persistent mode, as `npm start` runs it: Azurite keeps its data under `<dir>/azurite`, the certificate is
 * reused, and the stand-ins keep their state in `<dir>/standins/state.json`, so a second start sees the first
 * start's blobs under stable CA paths, and the simulator's jobs, keys and counters, Key Vault's secret versions
 * and the virtual clock go on where they stopped (local/standins/persistence.ts).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { API_KEY_SECRET_NAME, type Stack, startStack } from '../../../local/standins/stack.js';

const dirs: string[] = [];
let running: Stack | undefined;

afterAll(async () => {
  await running?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gemflow-persistent-'));
  dirs.push(dir);
  return dir;
}

const HOUR = 3600_000;

/** Calls the simulator as the app does: API key + a managed-identity token for GEM (a new one per stack). */
async function tomtom(
  stack: Stack,
  method: string,
  path: string,
  options: { key?: string; body?: unknown } = {},
) {
  const info = stack.info;
  const tokenUrl = new URL(info.identityEndpoint);
  tokenUrl.searchParams.set('api-version', '2019-08-01');
  tokenUrl.searchParams.set('resource', info.gemAudience);
  tokenUrl.searchParams.set('client_id', info.managedIdentity.clientId);
  const token = await fetch(tokenUrl, { headers: { 'X-IDENTITY-HEADER': info.identityHeader } });
  const { access_token } = (await token.json()) as { access_token: string };
  const response = await fetch(`${info.simulatorUrl}/maps/orbis/platform${path}`, {
    method,
    headers: {
      'tomtom-api-key': options.key ?? info.apiKey,
      authorization: `Bearer ${access_token}`,
      ...(options.body ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body ? { body: JSON.stringify(options.body) } : {}),
  });
  return {
    status: response.status,
    body: (await response.json().catch(() => undefined)) as Record<string, unknown>,
  };
}

async function admin(stack: Stack, method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.info.simulatorAdminUrl}${path}`, {
    method,
    ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  expect(response.status, `${method} ${path}`).toBeLessThan(300);
  const text = await response.text();
  return text ? JSON.parse(text) : undefined;
}

describe('persistent stack', () => {
  it('keeps app blobs and the certificate across a restart', async () => {
    const dir = newDir();
    running = await startStack({ dir, persistent: true, writeStackJson: false });
    const first = running;
    const outbox = BlobServiceClient.fromConnectionString(
      first.info.storageConnectionString,
    ).getContainerClient(first.info.outboxContainer);
    await outbox.getBlockBlobClient('kept.txt').upload('still here', 10);
    await first.close();
    expect(existsSync(join(dir, 'azurite'))).toBe(true);

    running = await startStack({ dir, persistent: true, writeStackJson: false });
    const second = running;
    expect(second.tls.reused).toBe(true);
    expect(second.tls.caFile).toBe(first.tls.caFile);
    const again = BlobServiceClient.fromConnectionString(
      second.info.storageConnectionString,
    ).getContainerClient(second.info.outboxContainer);
    expect((await again.getBlockBlobClient('kept.txt').downloadToBuffer()).toString()).toBe('still here');
    await second.close();
    running = undefined;
  });

  it('keeps jobs, keys, secrets, counters, limits and virtual time; time stands still while it is down', async () => {
    const dir = newDir();
    // A 3-hour job at 600×: 18 s of real time, far longer than this test keeps it running.
    const jobLimits = { maxRunningJobsPerUser: 4 };
    const options = { dir, persistent: true, writeStackJson: false, timeScale: 600, jobLimits } as const;
    const jobDurations = { queuedMs: 60_000, minRunningMs: 3 * HOUR };
    running = await startStack({ ...options, jobDurations });
    const first = running;
    const storage = first.info.pdgStorages[0]!;
    await BlobServiceClient.fromConnectionString(storage.blobConnectionString)
      .getContainerClient(storage.container)
      .getBlockBlobClient('kept-roads.parquet')
      .uploadData(roadMatchingSample('valid', { rows: 10, seed: 1 }));
    const created = await tomtom(first, 'POST', '/gem/jobs', {
      body: {
        storage_id: storage.id,
        filename: 'kept-roads.parquet',
        job_type: 'ROAD_MATCHING',
        overture_release: '2026-01-21.0',
      },
    });
    expect(created.status).toBe(201);
    const jobId = created.body.job_id as number;
    // A rotation: a new key, the vault's secret moved to it, the PDG-only key revoked.
    await admin(first, 'POST', '/keys', { key: 'gemflow-local-rotated', products: ['pdg', 'gem'] });
    await admin(first, 'DELETE', `/keys/${first.info.apiKeyWithoutGem}`);
    first.keyVault.setSecret(API_KEY_SECRET_NAME, 'gemflow-local-rotated');
    await admin(first, 'POST', '/limits', { maxConcurrentJobsPerUser: 5 });
    const versions = first.keyVault.versions(API_KEY_SECRET_NAME);
    // Queued for 60 virtual seconds (0.1 s), then running: wait for it to have started.
    let timeline = (await admin(first, 'GET', '/jobs/timeline')).jobs;
    for (let i = 0; i < 100 && timeline[0]?.status !== 'IN_PROGRESS'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      timeline = (await admin(first, 'GET', '/jobs/timeline')).jobs;
    }
    expect(timeline).toMatchObject([{ job_id: jobId, status: 'IN_PROGRESS' }]);
    const requestsBefore = (await admin(first, 'GET', '/requests?limit=0')).total as number;

    const stoppingAt = { real: Date.now(), virtual: first.clock.now() };
    await first.close();
    const closeMs = Date.now() - stoppingAt.real;
    const stateFile = join(dir, 'standins', 'state.json');
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    // Down for 2 s of real time: 20 virtual minutes at 600×, which must not pass.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    running = await startStack({ ...options, jobDurations: { queuedMs: 1, minRunningMs: 1 } });
    const second = running;
    expect(second.clock.virtualEpochMs).toBeGreaterThanOrEqual(stoppingAt.virtual);
    expect(second.clock.virtualEpochMs).toBeLessThanOrEqual(stoppingAt.virtual + closeMs * 600);
    expect(second.info.virtualEpochMs).toBe(second.clock.virtualEpochMs);
    expect(second.info.apiKey).toBe(first.info.apiKey);
    expect(second.settings.NOTIFY_SIGNING_SECRET).toBe(first.settings.NOTIFY_SIGNING_SECRET);

    // The same job, on its saved schedule (other durations now do not move it), answered to its owner.
    expect((await admin(second, 'GET', '/jobs/timeline')).jobs).toEqual(timeline);
    const polled = await tomtom(second, 'GET', `/gem/jobs/${jobId}`);
    expect(polled.status).toBe(200);
    expect(polled.body).toMatchObject({
      job_id: jobId,
      status: 'IN_PROGRESS',
      requested_at: created.body.requested_at,
    });
    expect(
      (await tomtom(second, 'GET', '/private-gateway/storages', { key: 'gemflow-local-rotated' })).status,
    ).toBe(200);
    expect(
      (await tomtom(second, 'GET', '/private-gateway/storages', { key: first.info.apiKeyWithoutGem })).status,
    ).toBe(401);
    expect(second.keyVault.versions(API_KEY_SECRET_NAME)).toEqual(versions);
    // The stack's limits are configuration; the one set through the admin API is state, kept over them.
    const limits = await admin(second, 'GET', '/limits');
    expect(limits.configured).toMatchObject({ maxRunningJobsPerUser: 4, maxConcurrentJobsPerUser: null });
    expect(limits.overrides).toEqual({ maxConcurrentJobsPerUser: 5 });
    expect(limits.limits).toMatchObject({
      maxRunningJobsPerUser: 4,
      maxConcurrentJobsPerUser: 5,
      queuedMs: 1,
    });
    const counts = await admin(second, 'GET', '/requests?limit=0');
    expect(counts.total).toBeGreaterThan(requestsBefore);
    expect(counts.byRoute['POST /jobs']).toBe(1);
  });
});
