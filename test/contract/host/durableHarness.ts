/**
 * Shared set-up for the durable engine's contract tests: table storage (the stack's Azurite when the global
 * setup provides AzureWebJobsStorage, otherwise a private in-memory azurite-table over http), the fixture app
 * loaded through the core shim, the engine behind a public HTTP server, and the real DurableClient. A test file
 * calls `useDurableHarness()` (or `useDurableStorage()` alone) once at the top: it registers the hooks that start
 * everything before the file's tests and stop it after them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { afterAll, beforeAll } from 'vitest';
import { createClock } from '../../../local/host/clock.js';
import { resolveStorageConnection } from '../../../local/host/connections.js';
import { installCoreShim } from '../../../local/host/core.js';
import { EventType, eventTypeName, type HistoryEvent } from '../../../local/host/durable/history.js';
import {
  type DurableEngine,
  type DurableEngineOptions,
  startDurableEngine,
} from '../../../local/host/durable/index.js';

export const repoRoot = path.resolve(__dirname, '../../..');
export const fixtureDir = path.join(repoRoot, 'test/fixtures/durable-app');
const require_ = createRequire(__filename);

const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Storage {
  connectionString: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startStorage(): Promise<Storage> {
  const fromStack = process.env.AzureWebJobsStorage;
  if (fromStack && /TableEndpoint=/i.test(fromStack))
    return { connectionString: fromStack, stop: async () => {} };
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      require_.resolve('azurite/dist/src/table/main.js'),
      '--tableHost',
      '127.0.0.1',
      '--tablePort',
      String(port),
      '--inMemoryPersistence',
      '--silent',
      '--skipApiVersionCheck',
      '--disableTelemetry',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/successfully listening/i.test(out)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) =>
      reject(new Error(`azurite-table exited (${code}) before listening: ${out}`)),
    );
  });
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};` +
      `TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`,
    stop: async () => {
      child.kill();
    },
  };
}

export interface FixtureStats {
  attempts: Map<string, number>;
  inFlight: number;
  maxInFlight: number;
  tracked: number;
}

let stats: FixtureStats | undefined;
/** Installs the core shim, then loads the fixture app once per test process (registrations are global). */
export function loadFixtureApp(): FixtureStats {
  if (!stats) {
    installCoreShim();
    stats = (require_(fixtureDir) as { stats: FixtureStats }).stats;
  }
  return stats;
}

export interface Harness {
  engine: DurableEngine;
  publicBaseUrl: string;
  systemKey: string;
  client(mode?: 'rpc' | 'webhook'): df.DurableClient;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Only its connection string is read. */
  storage: Pick<Storage, 'connectionString'>;
  taskHub: string;
  scale?: number;
  maxConcurrentActivityFunctions?: number;
  maxConcurrentOrchestratorFunctions?: number;
  listPageSize?: number;
  /** Passed to the engine as the host's master key (accepted on the webhook like the system key). */
  masterKey?: string;
  /** The rpc listener's body limit (default: the engine's, 100 MB). */
  maxRequestBodyBytes?: number;
  /** Wraps the engine's table store, to inject storage faults. */
  wrapStore?: DurableEngineOptions['wrapStore'];
  /** Receives the engine's log lines (default: kept in memory). */
  log?: (line: string) => void;
}

/** The engine mounted on a public server, as the host mounts it; WEBSITE_HOSTNAME points the client at it. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  loadFixtureApp();
  let engine: DurableEngine | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      const body = Buffer.concat(chunks);
      const handled = await engine?.handleHttp(req, res, url, async () => body);
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const publicBaseUrl = `http://127.0.0.1:${port}`;
  process.env.WEBSITE_HOSTNAME = `127.0.0.1:${port}`;
  const systemKey = `key-${Math.random().toString(36).slice(2)}`;
  const logs: string[] = [];
  engine = await startDurableEngine({
    taskHub: options.taskHub,
    storage: resolveStorageConnection({ AzureWebJobsStorage: options.storage.connectionString }),
    publicBaseUrl,
    systemKey,
    masterKey: options.masterKey,
    clock: createClock({ scale: options.scale ?? 1000 }),
    maxConcurrentActivityFunctions: options.maxConcurrentActivityFunctions ?? 10,
    maxConcurrentOrchestratorFunctions: options.maxConcurrentOrchestratorFunctions ?? 10,
    log: options.log ?? ((line) => logs.push(line)),
    listPageSize: options.listPageSize,
    maxRequestBodyBytes: options.maxRequestBodyBytes,
    wrapStore: options.wrapStore,
  });
  const started = engine;
  return {
    engine: started,
    publicBaseUrl,
    systemKey,
    client: (mode = 'rpc') => clientFromBinding(started.clientBinding(mode)),
    async close() {
      await started.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A value a beforeAll hook provides; reading it before the hook ran is a mistake in the test file. */
function started<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new Error(`${what} is started in beforeAll: use it inside a test or a later hook`);
  return value;
}

/** Table storage for the file's tests: started before them, stopped after them. */
export function useDurableStorage(): Pick<Storage, 'connectionString'> {
  let storage: Storage | undefined;
  beforeAll(async () => {
    storage = await startStorage();
  });
  afterAll(async () => {
    await storage?.stop();
  });
  return {
    get connectionString() {
      return started(storage, 'The durable test storage').connectionString;
    },
  };
}

export interface DurableHarnessOptions extends Omit<HarnessOptions, 'storage' | 'taskHub'> {
  /** The task hub's name prefix; each run gets its own hub (uniqueHub). */
  hub: string;
}

/** The started harness, and the storage it runs on (for a second engine on the same account). */
export interface DurableHarness extends Omit<Harness, 'close'> {
  readonly storage: Pick<Storage, 'connectionString'>;
}

/**
 * Storage plus the engine on a public server for the file's tests (beforeAll), closed after them (afterAll).
 * The returned harness can be used inside tests and hooks registered after this call.
 */
export function useDurableHarness(options: DurableHarnessOptions): DurableHarness {
  const storage = useDurableStorage();
  let harness: Harness | undefined;
  beforeAll(async () => {
    const { hub, ...rest } = options;
    harness = await startHarness({ ...rest, storage, taskHub: uniqueHub(hub) });
  });
  afterAll(async () => {
    await harness?.close();
  });
  const h = () => started(harness, 'The durable harness');
  return {
    storage,
    get engine() {
      return h().engine;
    },
    get publicBaseUrl() {
      return h().publicBaseUrl;
    },
    get systemKey() {
      return h().systemKey;
    },
    client: (mode) => h().client(mode),
  };
}

/** What an app's client function gets: df.getClient over the durableClient binding data. */
export function clientFromBinding(binding: unknown): df.DurableClient {
  const input = df.input.durableClient();
  const context = new InvocationContext({ options: { extraInputs: [input] } });
  context.extraInputs.set(input, binding);
  return df.getClient(context);
}

const terminal = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

/** Polls until the predicate holds (the test's own timeout bounds the wait; no timing is asserted). */
export async function waitForStatus(
  client: df.DurableClient,
  instanceId: string,
  predicate: (s: df.DurableOrchestrationStatus) => boolean = (s) => terminal.has(s.runtimeStatus),
): Promise<df.DurableOrchestrationStatus> {
  for (;;) {
    const status = await client.getStatus(instanceId);
    if (predicate(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

export function uniqueHub(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`.replace(
    /[^A-Za-z0-9]/g,
    '',
  );
}

const SCHEDULING: ReadonlySet<number> = new Set([
  EventType.TaskScheduled,
  EventType.TimerCreated,
  EventType.SubOrchestrationInstanceCreated,
]);

/** `TaskScheduled#0`, `TaskFailed(0)`… for the id-bearing events, in history order. */
export function idSequence(history: HistoryEvent[]): string[] {
  return history.flatMap((e) => {
    const name = eventTypeName[e.EventType];
    if (SCHEDULING.has(e.EventType)) return [`${name}#${e.EventId}`];
    const ref = e.TaskScheduledId ?? e.TimerId;
    return ref === undefined ? [] : [`${name}(${ref})`];
  });
}

/** The OrchestratorStarted time (the orchestration's current time) of the episode an event was written in. */
export function episodeTime(history: HistoryEvent[], event: HistoryEvent): number {
  const started = history
    .slice(0, history.indexOf(event))
    .findLast((e) => e.EventType === EventType.OrchestratorStarted);
  return Date.parse(started?.Timestamp ?? '');
}
