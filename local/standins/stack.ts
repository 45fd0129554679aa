/**
 * The whole offline stack in one call: TLS, virtual clock, identity (managed identity + Entra), Key Vault,
 * Azurite (app account + TomTom PDG storage account) and the TomTom simulator, started in parallel where
 * their dependencies allow. `npm start` and the vitest global setup both use it; `settings` is exactly the
 * environment the app and the local Functions host need, and `<dir>/stack.json` describes the running stack
 * to scripts and tests. A persistent stack (npm start) keeps Azurite's data under `<dir>/azurite` and the
 * stand-ins' state (simulator jobs and keys, Key Vault secrets, the virtual clock) under `<dir>/standins`
 * (local/standins/persistence.ts), so a restart carries on where the last run stopped.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { type Clock, clockSettings, createClock } from '../host/clock.js';
import { type AzuriteHandle, DEV_ACCOUNT, startAzurite } from './azurite.js';
import { type IdentityStandIn, type ManagedIdentity, startIdentity } from './identity.js';
import { type KeyVaultStandIn, startKeyVault } from './keyvault.js';
import {
  CHECKPOINT_INTERVAL_MS,
  loadStandIns,
  resumedVirtualMs,
  type SavedStandIns,
  type StandInState,
  type StandIns,
  type StateSaver,
  standInStatePath,
  startStateSaver,
} from './persistence.js';
import { startSimulator } from './simulator/index.js';
import type { JobDurations, JobLimits, SimulatorHandle, SimulatorOptions } from './simulator/types.js';
import { ensureTls, type StackTls, trustInProcess } from './tls.js';

export interface StackOptions {
  /** Directory for tls/, azurite/ (persistent mode) and stack.json; default `.local`. */
  dir?: string;
  /**
   * Keep Azurite data in `<dir>/azurite` and the stand-ins' state in `<dir>/standins`, and carry
   * on from them at start (npm start); default false: in memory (tests).
   */
  persistent?: boolean;
  /** Virtual ms per real ms; default 1. */
  timeScale?: number;
  /** The TomTom API key to provision; default the saved one, or `gemflow-local-<random>`. */
  apiKey?: string;
  /** Write `<dir>/stack.json`; default true. */
  writeStackJson?: boolean;
  /** Trust the stack certificate in this process (tls.setDefaultCACertificates); default true. */
  trustInProcess?: boolean;
  /**
   * GEM job durations in virtual time (queue, throughput as segments per hour or ms per segment, minimum run);
   * default the simulator's: 60 s queued, 100,000 segments per hour, at least 5 min running.
   */
  jobDurations?: JobDurations;
  /**
   * Per-user GEM job limits (concurrent jobs beyond which a create answers 429, running jobs beyond which
   * jobs wait REQUESTED); default none, as TomTom documents none. The admin API changes them at run time.
   */
  jobLimits?: JobLimits;
}

export interface PdgStorageInfo {
  id: string;
  name: string;
  region: string;
  account: string;
  container: string;
  /** `https://127.0.0.1:<p>/<account>/default/`, what Vault unwrap returns as data.url. */
  containerUrl: string;
  /** SharedKey access to the account, for tests and the simulator (the app uses the service principal). */
  blobConnectionString: string;
  servicePrincipal: { tenantId: string; clientId: string; clientSecret: string; objectId: string };
  allowedObjectIds: string[];
}

/** Everything a script or test needs to reach the stack. Serialisable: it is stack.json and vitest's provide(). */
export interface StackInfo {
  dir: string;
  simulatorUrl: string;
  simulatorAdminUrl: string;
  identityEndpoint: string;
  identityHeader: string;
  authorityHost: string;
  tenantId: string;
  managedIdentity: { clientId: string; objectId: string };
  systemIdentity: { clientId: string; objectId: string };
  keyVaultUrl: string;
  apiKeySecretName: string;
  apiKey: string;
  /** A key with the PDG product only, for "key lacks GEM" (403) cases. */
  apiKeyWithoutGem: string;
  storageConnectionString: string;
  blobUrl: string;
  tableUrl: string;
  queueUrl: string;
  inboxContainer: string;
  outboxContainer: string;
  /** Where retention archives processed inbox files. */
  archiveContainer: string;
  pdgStorageId: string;
  pdgStorages: PdgStorageInfo[];
  caFile: string;
  certFile: string;
  timeScale: number;
  /** The virtual clock's anchor: at real `epochMs` virtual time was `virtualEpochMs` (local/host/clock.ts). */
  epochMs: number;
  virtualEpochMs: number;
  /** `<dir>/standins/state.json` when the stack is persistent. */
  stateFile?: string;
  gemAudience: string;
  settings: Record<string, string>;
  pids: { stack: number; azurite: number };
  startedAt: string;
  startupMs: number;
}

export interface Stack {
  settings: Record<string, string>;
  info: StackInfo;
  tls: StackTls;
  clock: Clock;
  identity: IdentityStandIn;
  keyVault: KeyVaultStandIn;
  azurite: AzuriteHandle;
  simulator: SimulatorHandle;
  close(): Promise<void>;
}

export const GEM_AUDIENCE = 'https://gem.core.orbis.tomtom.com';
// A fixed GUID, shaped like a real user-assigned identity's client id (the app's settings require one).
export const APP_IDENTITY_CLIENT_ID = '6f1c2a4e-8b3d-4c57-9e21-0a7d5b9c3f18';
export const API_KEY_SECRET_NAME = 'tomtom-api-key';
/** TomTom's Entra tenant, distinct from the app's so cross-tenant mistakes show up locally. */
export const TOMTOM_TENANT_ID = '374f8026-7b71-4e2d-8d1c-5c0f8e1d0002';
export const DEFAULT_STORAGE_ID = 'storage-001';
export const DEFAULT_OVERTURE_RELEASE = '2026-01-21.0';
export const INBOX_CONTAINER = 'inbox';
export const OUTBOX_CONTAINER = 'outbox';
export const ARCHIVE_CONTAINER = 'archive';
export const TASKHUB_NAME = 'gemflowlocal';
/** Every 15 minutes, as in Azure (infra/app/api.bicep). */
export const SWEEP_SCHEDULE = '0 */15 * * * *';
export const RETENTION_SCHEDULE = '0 30 2 * * *';
const PDG_CONTAINER = 'default';

/** `storage-001` → Azurite account `pdgstorage001` (account names allow only lowercase letters and digits). */
export function pdgAccountName(storageId: string): string {
  return `pdg${storageId.toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 24);
}

/** The stand-ins once started, with the identity and PDG storage the stack registered in them. */
interface StandInParts {
  identity: IdentityStandIn;
  azurite: AzuriteHandle;
  keyVault: KeyVaultStandIn;
  simulator: SimulatorHandle;
  appIdentity: ManagedIdentity;
  pdgStorage: PdgStorageInfo;
}

/** What the stand-ins are started with besides their own options. */
interface StackInputs {
  dir: string;
  options: StackOptions;
  tls: StackTls;
  clock: Clock;
  /** The saved state to carry on from (persistent stack only). */
  state: StandInState | undefined;
  generated: StandIns['stack'];
  /** Saves the stand-ins' state; the simulator and Key Vault call it after each change. */
  saveState: () => Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const started = performance.now();
  const dir = resolve(options.dir ?? '.local');
  mkdirSync(dir, { recursive: true });
  const saved = options.persistent ? savedStandIns(dir) : undefined;
  const state = saved?.state;
  const clock = resumedClock(options.timeScale ?? 1, saved);
  const generated = generatedValues(options.apiKey, state);
  // Set once the simulator and Key Vault are up; their changes are saved through it.
  let saver: StateSaver | undefined;
  const saveState = async () => saver?.save();

  const tls = await ensureTls({ dir });
  if (options.trustInProcess ?? true) trustInProcess(tls.cert);
  const inputs: StackInputs = { dir, options, tls, clock, state, generated, saveState };

  const closers = new Closers();
  try {
    const parts = await startStandIns(inputs, closers);
    const settings = stackSettings(inputs, parts);
    const info = stackInfo(inputs, parts, settings, Math.round(performance.now() - started));
    const writeJson = options.writeStackJson ?? true;
    if (writeJson) writeJsonAtomic(stackJsonPath(dir), info);
    if (options.persistent) {
      saver = startStateSaver(dir, () => ({
        clock: { virtualMs: clock.now(), scale: clock.scale, checkpointMs: CHECKPOINT_INTERVAL_MS },
        standIns: {
          stack: generated,
          simulator: parts.simulator.snapshot(),
          keyVault: parts.keyVault.snapshot(),
        },
      }));
    }

    let closing: Promise<void> | undefined;
    return {
      settings,
      info,
      tls,
      clock,
      identity: parts.identity,
      keyVault: parts.keyVault,
      azurite: parts.azurite,
      simulator: parts.simulator,
      close: () => {
        closing ??= (async () => {
          // Saved before the parts close: closing the simulator drops its jobs.
          await saver?.close();
          await closers.closeAll();
          if (writeJson) removeOwnStackJson(dir);
        })();
        return closing;
      },
    };
  } catch (err) {
    await closers.closeAll().catch(() => undefined);
    throw err;
  }
}

/** The API keys and signing secret: given or saved ones, otherwise new random ones. */
function generatedValues(apiKey: string | undefined, state: StandInState | undefined): StandIns['stack'] {
  return {
    apiKey: apiKey ?? state?.stack.apiKey ?? `gemflow-local-${randomBytes(16).toString('hex')}`,
    apiKeyWithoutGem:
      state?.stack.apiKeyWithoutGem ?? `gemflow-local-pdgonly-${randomBytes(12).toString('hex')}`,
    notifySigningSecret: state?.stack.notifySigningSecret ?? randomBytes(32).toString('base64url'),
  };
}

/** Everything started is recorded so a failure part-way closes what is already up. */
class Closers {
  readonly #closers: (() => Promise<void>)[] = [];

  track<T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> {
    return p.then((part) => {
      this.#closers.push(() => part.close());
      return part;
    });
  }

  async closeAll(): Promise<void> {
    const results = await Promise.allSettled(this.#closers.splice(0).map((c) => c()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length)
      throw new AggregateError(
        failed.map((f) => f.reason),
        'local stack: some parts failed to close',
      );
  }
}

/** Identity and Azurite first, then Key Vault and the simulator (which need the identity's keys). */
async function startStandIns(inputs: StackInputs, closers: Closers): Promise<StandInParts> {
  const { dir, options, tls, state, saveState } = inputs;
  const pdgAccount = { name: pdgAccountName(DEFAULT_STORAGE_ID), key: randomBytes(32).toString('base64') };
  const [identity, azurite] = await Promise.all([
    closers.track(startIdentity({ tls })),
    closers.track(
      startAzurite({
        tls,
        accounts: [pdgAccount],
        persistent: options.persistent,
        location: join(dir, 'azurite'),
      }),
    ),
  ]);
  const appIdentity = identity.addManagedIdentity({ clientId: APP_IDENTITY_CLIENT_ID });
  const pdgStorage = registerPdgStorage(identity, azurite, pdgAccount.name, [
    appIdentity.objectId,
    identity.systemAssigned.objectId,
  ]);

  const [keyVault, simulator] = await Promise.all([
    closers.track(
      startKeyVault({
        tls,
        jwks: identity.jwks,
        tenantId: identity.tenantId,
        secrets: { [API_KEY_SECRET_NAME]: inputs.generated.apiKey },
        ...(state ? { restore: state.keyVault } : {}),
        onStateChange: saveState,
      }),
    ),
    closers.track(startSimulator(simulatorOptions(inputs, identity, pdgStorage))),
    createContainers(azurite, [
      [DEV_ACCOUNT, INBOX_CONTAINER],
      [DEV_ACCOUNT, OUTBOX_CONTAINER],
      [DEV_ACCOUNT, ARCHIVE_CONTAINER],
      [pdgAccount.name, PDG_CONTAINER],
    ]),
  ]);
  return { identity, azurite, keyVault, simulator, appIdentity, pdgStorage };
}

/** TomTom's PDG storage: an Azurite account, reached by a new service principal in TomTom's tenant. */
function registerPdgStorage(
  identity: IdentityStandIn,
  azurite: AzuriteHandle,
  account: string,
  allowedObjectIds: string[],
): PdgStorageInfo {
  const servicePrincipal = identity.addServicePrincipal({
    tenantId: TOMTOM_TENANT_ID,
    clientId: randomUUID(),
    clientSecret: `${randomBytes(3).toString('hex')}~${randomBytes(24).toString('base64url')}`,
  });
  return {
    id: DEFAULT_STORAGE_ID,
    name: 'gemflow-local-storage',
    region: 'westeurope',
    account,
    container: PDG_CONTAINER,
    containerUrl: `${azurite.blobUrl(account)}/${PDG_CONTAINER}/`,
    blobConnectionString: azurite.connectionString(account),
    servicePrincipal,
    allowedObjectIds,
  };
}

/** The simulator's keys (one with GEM, one PDG-only), the PDG storage and, when resuming, its saved state. */
function simulatorOptions(
  inputs: StackInputs,
  identity: IdentityStandIn,
  pdgStorage: PdgStorageInfo,
): SimulatorOptions {
  const { options, tls, state, generated } = inputs;
  const sp = pdgStorage.servicePrincipal;
  return {
    tls: { cert: tls.cert, key: tls.key },
    clock: inputs.clock,
    jwks: identity.jwks,
    gemAudience: GEM_AUDIENCE,
    apiKeys: [
      { key: generated.apiKey, products: ['pdg', 'gem'] },
      { key: generated.apiKeyWithoutGem, products: ['pdg'] },
    ],
    storages: [
      {
        id: pdgStorage.id,
        name: pdgStorage.name,
        region: pdgStorage.region,
        containerUrl: pdgStorage.containerUrl,
        blobConnectionString: pdgStorage.blobConnectionString,
        servicePrincipal: { tenantId: sp.tenantId, clientId: sp.clientId, clientSecret: sp.clientSecret },
        allowedObjectIds: pdgStorage.allowedObjectIds,
      },
    ],
    ...(options.jobDurations ? { jobDurations: options.jobDurations } : {}),
    ...(options.jobLimits ? { jobLimits: options.jobLimits } : {}),
    ...(state ? { restore: state.simulator } : {}),
    onStateChange: inputs.saveState,
  };
}

/** The environment the app and the local Functions host run with. */
function stackSettings(inputs: StackInputs, parts: StandInParts): Record<string, string> {
  const { identity, keyVault, simulator, azurite } = parts;
  return {
    AzureWebJobsStorage: azurite.connectionString(DEV_ACCOUNT),
    IDENTITY_ENDPOINT: identity.identityEndpoint,
    IDENTITY_HEADER: identity.identityHeader,
    AZURE_CLIENT_ID: parts.appIdentity.clientId,
    KEY_VAULT_URL: keyVault.url,
    TOMTOM_API_KEY_SECRET_NAME: API_KEY_SECRET_NAME,
    KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION: 'true',
    TOMTOM_API_BASE_URL: simulator.url,
    TOMTOM_VAULT_URL: simulator.url,
    AZURE_AUTHORITY_HOST: identity.authorityHost,
    PDG_DISABLE_INSTANCE_DISCOVERY: 'true',
    TOKEN_CREDENTIAL: 'managed-identity',
    DEFAULT_STORAGE_ID: parts.pdgStorage.id,
    DEFAULT_OVERTURE_RELEASE,
    INBOX_CONTAINER,
    OUTBOX_CONTAINER,
    // Read by the sweep timer as %SWEEP_SCHEDULE%: binding expressions take no default from shared/config.ts.
    SWEEP_SCHEDULE: SWEEP_SCHEDULE,
    // Read by the retention timer as %RETENTION_SCHEDULE%.
    RETENTION_SCHEDULE: RETENTION_SCHEDULE,
    ARCHIVE_CONTAINER,
    NODE_EXTRA_CA_CERTS: inputs.tls.caFile,
    ...clockSettings(inputs.clock),
    TASKHUB_NAME,
    NOTIFY_SIGNING_SECRET: inputs.generated.notifySigningSecret,
  };
}

/** stack.json: where every part is, the keys, the settings and the clock's anchor. */
function stackInfo(
  inputs: StackInputs,
  parts: StandInParts,
  settings: Record<string, string>,
  startupMs: number,
): StackInfo {
  const { dir, options, tls, clock, generated } = inputs;
  const { identity, keyVault, simulator, azurite } = parts;
  return {
    dir,
    simulatorUrl: simulator.url,
    simulatorAdminUrl: simulator.adminUrl,
    identityEndpoint: identity.identityEndpoint,
    identityHeader: identity.identityHeader,
    authorityHost: identity.authorityHost,
    tenantId: identity.tenantId,
    managedIdentity: pick(parts.appIdentity),
    systemIdentity: pick(identity.systemAssigned),
    keyVaultUrl: keyVault.url,
    apiKeySecretName: API_KEY_SECRET_NAME,
    apiKey: generated.apiKey,
    apiKeyWithoutGem: generated.apiKeyWithoutGem,
    storageConnectionString: azurite.connectionString(DEV_ACCOUNT),
    blobUrl: azurite.blobUrl(DEV_ACCOUNT),
    tableUrl: azurite.tableUrl(DEV_ACCOUNT),
    queueUrl: azurite.queueUrl(DEV_ACCOUNT),
    inboxContainer: INBOX_CONTAINER,
    outboxContainer: OUTBOX_CONTAINER,
    archiveContainer: ARCHIVE_CONTAINER,
    pdgStorageId: parts.pdgStorage.id,
    pdgStorages: [parts.pdgStorage],
    caFile: tls.caFile,
    certFile: tls.certFile,
    timeScale: clock.scale,
    epochMs: clock.epochMs,
    virtualEpochMs: clock.virtualEpochMs,
    ...(options.persistent ? { stateFile: standInStatePath(dir) } : {}),
    gemAudience: GEM_AUDIENCE,
    settings,
    pids: { stack: process.pid, azurite: azurite.pid },
    startedAt: new Date().toISOString(),
    startupMs,
  };
}

/** What the last persistent run under `dir` saved; unusable files are reported and left out. */
function savedStandIns(dir: string): SavedStandIns {
  const saved = loadStandIns(dir);
  for (const problem of saved.problems) console.warn(`[stack] ${problem}`);
  return saved;
}

/** A new clock, or one that goes on from the saved virtual time (persistence.ts). */
function resumedClock(scale: number, saved: SavedStandIns | undefined): Clock {
  const epochMs = Date.now();
  const saves = [saved?.state, saved?.clock].filter((s) => s !== undefined);
  if (saves.length === 0) return createClock({ scale, epochMs });
  return createClock({ scale, epochMs, virtualEpochMs: resumedVirtualMs(saves, scale, epochMs) });
}

export function stackJsonPath(dir = '.local'): string {
  return join(resolve(dir), 'stack.json');
}

/** Reads `<dir>/stack.json`, including what launchers added with `updateStackJson`. */
export function readStackJson<Extra extends object = Record<string, unknown>>(
  dir = '.local',
): StackInfo & Partial<Extra> {
  const file = stackJsonPath(dir);
  if (!existsSync(file)) {
    throw new Error(
      `No local stack described at ${file}; start it with \`npm start\` (or startStack()) first.`,
    );
  }
  return JSON.parse(readFileSync(file, 'utf8')) as StackInfo & Partial<Extra>;
}

/**
 * For scripts run beside a running stack (npm run upload, outbox, bench tools): reads `<dir>/stack.json` and
 * trusts the stack's self-signed certificate in this process, which was not started with NODE_EXTRA_CA_CERTS.
 */
export function attachToStack<Extra extends object = Record<string, unknown>>(
  dir = '.local',
): StackInfo & Partial<Extra> {
  const info = readStackJson<Extra>(dir);
  trustInProcess(readFileSync(join(dir, 'tls', 'cert.pem'), 'utf8'));
  return info;
}

/** Merges `extra` into `<dir>/stack.json` (e.g. functionsBaseUrl, functionKey from the Functions host launcher). */
export function updateStackJson(
  dir: string,
  extra: Record<string, unknown>,
): StackInfo & Record<string, unknown> {
  const merged = { ...readStackJson(dir), ...extra };
  writeJsonAtomic(stackJsonPath(dir), merged);
  return merged;
}

async function createContainers(
  azurite: AzuriteHandle,
  pairs: [account: string, container: string][],
): Promise<void> {
  await Promise.all(
    pairs.map(([account, container]) =>
      BlobServiceClient.fromConnectionString(azurite.connectionString(account))
        .getContainerClient(container)
        .createIfNotExists(),
    ),
  );
}

function pick(mi: ManagedIdentity): { clientId: string; objectId: string } {
  return { clientId: mi.clientId, objectId: mi.objectId };
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/** A closed stack's description would mislead readers; remove it unless another process has replaced it. */
function removeOwnStackJson(dir: string): void {
  try {
    const current = readStackJson(dir);
    if (current.pids?.stack === process.pid) rmSync(stackJsonPath(dir), { force: true });
  } catch {
    // Already gone or unreadable: nothing to clean up.
  }
}
