// The TomTom client (shared/tomtom), built exactly as the app builds it (managed identity + Key Vault key),
// against the simulator: the documented flow end to end, and the retry rules read back from the simulator's
// own request log. This file starts its own stack because it injects faults.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { type Stack, startStack } from '../../../local/standins/stack.js';
import { loadSettings } from '../../../shared/config.js';
import { createServices, type Services } from '../../../shared/services.js';
import { TomTomServiceError, VaultUnwrapError } from '../../../shared/tomtom/errors.js';
import type { GemJob, UnwrappedStorageCredentials } from '../../../shared/tomtom/models.js';

interface RequestSummary {
  byRouteAndStatus: Record<string, Record<string, number>>;
  recent: { route: string; status: number; time: string }[];
}

let stack: Stack;
let services: Services;
let storageId: string;

async function admin<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`${stack.info.simulatorAdminUrl}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json' },
  });
  if (!response.ok) throw new Error(`admin ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

const requests = () => admin<RequestSummary>('/requests?limit=50');
const countOf = (summary: RequestSummary, route: string, status: number) =>
  summary.byRouteAndStatus[route]?.[String(status)] ?? 0;

async function unwrapFresh(type: 'READ_WRITE' | 'READ'): Promise<UnwrappedStorageCredentials> {
  return services.tomtom.unwrapStorageCredentials(
    await services.tomtom.getStorageCredentials(storageId, type),
  );
}

async function followToTerminal(jobId: string): Promise<GemJob> {
  for (;;) {
    const job = await services.tomtom.getJob(jobId);
    if (job.status === 'SUCCESS' || job.status === 'FAILED') return job;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stage(name: string, bytes: Uint8Array): Promise<void> {
  const container = services.pdgContainer(await unwrapFresh('READ_WRITE'));
  await container.getBlockBlobClient(name).uploadData(bytes);
}

beforeAll(async () => {
  stack = await startStack({
    dir: mkdtempSync(join(tmpdir(), 'gem-client-')),
    writeStackJson: false,
    timeScale: 3600,
  });
  // Credentials read the managed-identity endpoint from the environment, as they do in Azure.
  Object.assign(process.env, stack.settings);
  services = createServices(loadSettings(process.env));
  storageId = stack.info.pdgStorageId;
});

afterAll(async () => {
  await stack?.close();
});

describe('the TomTom client against the simulator', () => {
  it('lists storages and unwraps storage credentials exactly once', async () => {
    const storages = await services.tomtom.listStorages();
    expect(storages.map((s) => s.id)).toContain(storageId);

    const wrapped = await services.tomtom.getStorageCredentials(storageId, 'READ_WRITE');
    const credentials = await services.tomtom.unwrapStorageCredentials(wrapped);
    expect(credentials.storageId).toBe(storageId);
    expect(credentials.containerUrl).toBe(stack.info.pdgStorages[0]?.containerUrl);
    expect(JSON.stringify(credentials)).not.toContain(
      stack.info.pdgStorages[0]?.servicePrincipal.clientSecret,
    );
    await expect(services.tomtom.unwrapStorageCredentials(wrapped)).rejects.toBeInstanceOf(VaultUnwrapError);
  });

  it('creates a job for a valid file and follows it to SUCCESS', async () => {
    await stage('valid.parquet', roadMatchingSample('valid', { rows: 40, seed: 7 }));
    const created = await services.tomtom.createJob({
      storageId,
      filename: 'valid.parquet',
      jobType: 'ROAD_MATCHING',
      overtureRelease: '2026-01-21.0',
    });
    expect(created.status).toBe('REQUESTED');
    const done = await followToTerminal(created.jobId);
    expect(done.status).toBe('SUCCESS');
    expect(done.resultFilename).toBe('valid.results.parquet');
    expect(done.statistics).toMatchObject({ num_roads_processed: 40 });
    const listed = await services.tomtom.listJobs('ROAD_MATCHING');
    expect(listed.map((job) => job.jobId)).toContain(created.jobId);
  });

  it('follows a file that fails a GEM check to FAILED with that check in the message', async () => {
    await stage('dupes.parquet', roadMatchingSample('duplicate-ids', { rows: 20, seed: 3 }));
    const created = await services.tomtom.createJob({
      storageId,
      filename: 'dupes.parquet',
      jobType: 'ROAD_MATCHING',
      overtureRelease: '2026-01-21.0',
    });
    const done = await followToTerminal(created.jobId);
    expect(done.status).toBe('FAILED');
    expect(done.failureMessage).toMatch(/id-unique/);
    expect(done.resultFilename).toBeNull();
  });

  it('waits out a 429 for its Retry-After, then succeeds', async () => {
    await admin('/faults', {
      method: 'POST',
      body: JSON.stringify({ route: 'GET /storages', status: 429, retryAfterSeconds: 1, times: 1 }),
    });
    const before = await requests();
    await services.tomtom.listStorages();
    const after = await requests();
    expect(countOf(after, 'GET /storages', 429) - countOf(before, 'GET /storages', 429)).toBe(1);
    expect(countOf(after, 'GET /storages', 200) - countOf(before, 'GET /storages', 200)).toBe(1);
    const [throttled, retried] = after.recent.filter((r) => r.route === 'GET /storages').slice(-2);
    expect(throttled?.status).toBe(429);
    expect(retried?.status).toBe(200);
    // The retry came no sooner than the server asked (a protocol bound, not a speed target).
    expect(Date.parse(retried!.time) - Date.parse(throttled!.time)).toBeGreaterThanOrEqual(950);
  });

  it('retries a GET that failed with 500', async () => {
    await admin('/faults', {
      method: 'POST',
      body: JSON.stringify({ route: 'GET /storages', status: 500, times: 1 }),
    });
    const before = await requests();
    await services.tomtom.listStorages();
    const after = await requests();
    expect(countOf(after, 'GET /storages', 500) - countOf(before, 'GET /storages', 500)).toBe(1);
    expect(countOf(after, 'GET /storages', 200) - countOf(before, 'GET /storages', 200)).toBe(1);
  });

  it('surfaces a 500 on create-job without sending it again', async () => {
    await admin('/faults', {
      method: 'POST',
      body: JSON.stringify({ route: 'POST /jobs', status: 500, times: 1 }),
    });
    const jobsBefore = (await admin<{ jobs: unknown[] }>('/jobs')).jobs.length;
    const before = await requests();
    await expect(
      services.tomtom.createJob({
        storageId,
        filename: 'valid.parquet',
        jobType: 'ROAD_MATCHING',
        overtureRelease: '2026-01-21.0',
      }),
    ).rejects.toBeInstanceOf(TomTomServiceError);
    const after = await requests();
    const posts = (summary: RequestSummary) =>
      Object.values(summary.byRouteAndStatus['POST /jobs'] ?? {}).reduce((sum, n) => sum + n, 0);
    expect(posts(after) - posts(before)).toBe(1);
    expect((await admin<{ jobs: unknown[] }>('/jobs')).jobs.length).toBe(jobsBefore);
  });
});
