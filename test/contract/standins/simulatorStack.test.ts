// The simulator as the stack runs it: real Azurite storage, the identity stand-in's tokens and the
// compressed virtual clock. Jobs read the uploaded input from the PDG container and write results
// back. Only job-scoped admin actions are used here, because other test files share this simulator.
import { BlobServiceClient } from '@azure/storage-blob';
import { parquetReadObjects } from 'hyparquet';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { roadMatchingRecords, roadMatchingSample } from '../../../local/standins/samples.js';

const stack = inject('stack');
const storage = stack.pdgStorages.find((s) => s.id === stack.pdgStorageId)!;
const GEM = `${stack.simulatorUrl}/maps/orbis/platform/gem`;
const PDG = `${stack.simulatorUrl}/maps/orbis/platform/private-gateway`;
let token: string;

/** A GEM token for the app's user-assigned identity, straight from the App Service MI endpoint. */
async function gemToken(): Promise<string> {
  const url = new URL(stack.identityEndpoint);
  url.searchParams.set('api-version', '2019-08-01');
  url.searchParams.set('resource', stack.gemAudience);
  url.searchParams.set('client_id', stack.managedIdentity.clientId);
  const res = await fetch(url, { headers: { 'X-IDENTITY-HEADER': stack.identityHeader } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const headers = (extra: Record<string, string> = {}) => ({
  'tomtom-api-key': stack.apiKey,
  Authorization: `Bearer ${token}`,
  ...extra,
});

async function upload(name: string, bytes: Uint8Array) {
  const container = BlobServiceClient.fromConnectionString(storage.blobConnectionString).getContainerClient(
    storage.container,
  );
  await container.createIfNotExists();
  await container.getBlockBlobClient(name).uploadData(bytes);
  return container;
}

async function createJob(filename: string) {
  const res = await fetch(`${GEM}/jobs`, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({
      storage_id: storage.id,
      filename,
      job_type: 'ROAD_MATCHING',
      overture_release: '2026-01-21.0',
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { job_id: number; status: string };
}

/** Polls until the job is terminal; a bounded loop, not a timing assertion. */
async function settle(jobId: number) {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${GEM}/jobs/${jobId}`, { headers: headers() });
    expect(res.status).toBe(200);
    const job = (await res.json()) as Record<string, unknown>;
    if (job.status === 'SUCCESS' || job.status === 'FAILED') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${jobId} did not finish`);
}

const unique = (stem: string) => `${stem}-${process.pid}-${Math.floor(Math.random() * 1e9)}.parquet`;

beforeAll(async () => {
  token = await gemToken();
});

describe('simulator in the stack', () => {
  it('hands out credentials that unwrap to the PDG container', async () => {
    const cred = await fetch(`${PDG}/storages/${storage.id}/credentials?type=READ_WRITE`, {
      headers: headers(),
    });
    expect(cred.status).toBe(200);
    const { credentials } = (await cred.json()) as { credentials: string };
    const unwrap = await fetch(`${stack.simulatorUrl}/v1/sys/wrapping/unwrap`, {
      method: 'POST',
      headers: { 'X-Vault-Token': credentials },
    });
    expect(unwrap.status).toBe(200);
    const payload = (await unwrap.json()) as { data: { url: string; id: string } };
    expect(payload.data).toMatchObject({ url: storage.containerUrl, id: storage.id });
  });

  it('runs a valid file to SUCCESS and writes matching results into the same container', async () => {
    const name = unique('roads');
    const records = roadMatchingRecords('valid', { rows: 40, seed: 11 });
    const container = await upload(name, roadMatchingSample('valid', { rows: 40, seed: 11 }));
    const created = await createJob(name);
    expect(created.status).toBe('REQUESTED');
    const job = await settle(created.job_id);
    expect(job.status).toBe('SUCCESS');
    expect(job.result_filename).toBe(name.replace(/\.parquet$/, '.results.parquet'));
    expect(job.statistics).toMatchObject({ num_roads_processed: 40, confidence_threshold: 60 });

    const results = await container.getBlockBlobClient(job.result_filename as string).downloadToBuffer();
    const rows = await parquetReadObjects({ file: new Uint8Array(results).buffer, rowFormat: 'object' });
    const inputIds = new Set(records.ids!.map(String));
    expect(rows.every((r) => inputIds.has(r.id as string))).toBe(true);

    const details = await fetch(`${PDG}/storages/${storage.id}`, { headers: headers() });
    const files = ((await details.json()) as { files: { name: string; size: number }[] }).files;
    expect(files.find((f) => f.name === job.result_filename)?.size).toBe(results.length);
  });

  it('fails an invalid file with the check and an example row', async () => {
    const name = unique('single-point');
    const records = roadMatchingRecords('single-point', { seed: 5 });
    await upload(name, roadMatchingSample('single-point', { seed: 5 }));
    const job = await settle((await createJob(name)).job_id);
    expect(job.status).toBe('FAILED');
    expect(job.message).toMatch(/check 'geometry-linestring': a LINESTRING needs at least 2 points/);
    expect(job.message).toContain(
      `row ${records.defectRows[0]! + 1} {id=${String(records.ids![records.defectRows[0]!])}`,
    );
  });

  it('fails a specific job on request through the admin API', async () => {
    const name = unique('forced');
    await upload(name, roadMatchingSample('valid', { rows: 5 }));
    const created = await createJob(name);
    const res = await fetch(`${stack.simulatorAdminUrl}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'fail-job', jobId: created.job_id, message: 'forced for a test' }),
    });
    expect(res.status).toBe(200);
    expect(await settle(created.job_id)).toMatchObject({ status: 'FAILED', message: 'forced for a test' });
  });
});
