/**
 * The naive baseline for the benchmark: what a straightforward script does to run one GEM job, against the
 * same stand-ins gem-flow uses. It does the same work (stage the file into PDG storage, create the job, poll
 * until it ends, download the result into the outbox) but:
 *
 * - polls on a fixed 30 s (virtual) schedule, whatever the job's expected duration;
 * - for EVERY TomTom call, reads the API key from Key Vault and fetches fresh tokens straight from the
 *   managed-identity endpoint (no caches: a plain `fetch`, not MSAL, whose process-wide managed-identity
 *   cache would hide the cost).
 *
 * Storage access goes through the same `pdgContainerClient` as gem-flow (a new ClientSecretCredential per
 * session), so staging and download cost the same on both sides.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import type { Clock } from '../local/host/clock.js';
import type { StackInfo } from '../local/standins/stack.js';
import { pdgContainerClient } from '../shared/staging/pdgContainer.js';
import {
  parseWrappedToken,
  toCreateJobBody,
  toUnwrappedStorageCredentials,
} from '../shared/tomtom/models.js';

const KEY_VAULT_RESOURCE = 'https://vault.azure.net';
const PDG_PATH = '/maps/orbis/platform/private-gateway';
const GEM_PATH = '/maps/orbis/platform/gem';

export interface BaselineOptions {
  info: StackInfo;
  clock: Clock;
  /** Virtual ms between polls; 30 s. */
  pollIntervalMs?: number;
  overtureRelease: string;
}

export interface BaselineResult {
  jobId: number;
  status: string;
  polls: number;
  /** Virtual epoch ms at which the poll that saw the final status returned. */
  noticedAt: number;
  resultBlob: string;
}

export async function runBaseline(
  options: BaselineOptions,
  file: { name: string; bytes: Uint8Array },
): Promise<BaselineResult> {
  const { info } = options;

  // 1. Stage the file.
  const staging = await pdgContainer(info, 'READ_WRITE');
  await staging.getBlockBlobClient(file.name).uploadData(file.bytes);

  // 2. Create the job.
  const created = JSON.parse(
    await tomtom(
      info,
      'POST',
      `${GEM_PATH}/jobs`,
      toCreateJobBody({
        storageId: info.pdgStorageId,
        filename: file.name,
        jobType: 'ROAD_MATCHING',
        overtureRelease: options.overtureRelease,
      }),
    ),
  ) as { job_id: number };

  // 3. Poll until the job ends.
  const { job, polls, noticedAt } = await pollUntilFinished(options, created.job_id);
  if (job.status !== 'SUCCESS' || !job.result_filename) throw new Error(`job ended ${job.status}`);

  // 4. Download the result into the outbox.
  const delivery = await pdgContainer(info, 'READ');
  const bytes = await delivery.getBlobClient(job.result_filename).downloadToBuffer();
  const resultBlob = `baseline/${file.name.replace(/\.parquet$/, '')}.results.parquet`;
  await BlobServiceClient.fromConnectionString(info.storageConnectionString)
    .getContainerClient(info.outboxContainer)
    .getBlockBlobClient(resultBlob)
    .uploadData(bytes);
  return { jobId: created.job_id, status: job.status, polls, noticedAt, resultBlob };
}

/** Polls every 30 s on a fixed schedule (setInterval-style, so the poll's own cost does not stretch it). */
async function pollUntilFinished(
  options: BaselineOptions,
  jobId: number,
): Promise<{ job: { status: string; result_filename: string | null }; polls: number; noticedAt: number }> {
  const { info, clock } = options;
  const interval = options.pollIntervalMs ?? 30_000;
  const started = clock.now();
  let polls = 0;
  let job: { status: string; result_filename: string | null };
  for (;;) {
    job = JSON.parse(await tomtom(info, 'GET', `${GEM_PATH}/jobs/${jobId}`)) as typeof job;
    polls++;
    if (job.status === 'SUCCESS' || job.status === 'FAILED') break;
    await clock.sleep(started + polls * interval - clock.now());
  }
  return { job, polls, noticedAt: clock.now() };
}

async function managedIdentityToken(info: StackInfo, resource: string): Promise<string> {
  const url = new URL(info.identityEndpoint);
  url.searchParams.set('api-version', '2019-08-01');
  url.searchParams.set('resource', resource);
  url.searchParams.set('client_id', info.managedIdentity.clientId);
  const response = await fetch(url, { headers: { 'X-IDENTITY-HEADER': info.identityHeader } });
  if (!response.ok) throw new Error(`managed identity: ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function apiKeyFromKeyVault(info: StackInfo): Promise<string> {
  const token = await managedIdentityToken(info, KEY_VAULT_RESOURCE);
  const response = await fetch(`${info.keyVaultUrl}/secrets/${info.apiKeySecretName}?api-version=7.5`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`Key Vault: ${response.status}`);
  return ((await response.json()) as { value: string }).value;
}

/** One TomTom call, with the API key read from Key Vault and a fresh token, as the baseline does each time. */
async function tomtom(
  info: StackInfo,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<string> {
  const apiKey = await apiKeyFromKeyVault(info);
  const token = await managedIdentityToken(info, info.gemAudience);
  const response = await fetch(`${info.simulatorUrl}${path}`, {
    method,
    headers: {
      'tomtom-api-key': apiKey,
      authorization: `Bearer ${token}`,
      'x-version': '1',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return text;
}

/** The PDG storage container: fresh credentials, unwrapped at Vault, for every session. */
async function pdgContainer(info: StackInfo, type: 'READ_WRITE' | 'READ') {
  const wrapped = parseWrappedToken(
    await tomtom(info, 'GET', `${PDG_PATH}/storages/${info.pdgStorageId}/credentials?type=${type}`),
  );
  if (!wrapped) throw new Error('PDG credentials: no wrapped token');
  const response = await fetch(`${info.simulatorUrl}/v1/sys/wrapping/unwrap`, {
    method: 'POST',
    headers: { 'X-Vault-Token': wrapped },
  });
  if (!response.ok) throw new Error(`Vault unwrap: ${response.status}`);
  const credentials = toUnwrappedStorageCredentials(await response.json());
  if (typeof credentials === 'string') throw new Error(`Vault unwrap: ${credentials}`);
  return pdgContainerClient({
    containerUrl: credentials.containerUrl,
    tenantId: credentials.tenantId,
    clientId: credentials.clientId,
    clientSecret: credentials.clientSecret,
    authorityHost: info.authorityHost,
    disableInstanceDiscovery: true,
  });
}
