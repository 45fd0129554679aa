/**
 * Helpers for the end-to-end product tests: each test file starts its own app (stand-in stack + local Functions
 * host running the built app) through `startLocalApp`, so simulator faults injected by one file never reach
 * another. Everything here speaks the protocols a user or Azure would: the HTTP API with the function key, the
 * Event Grid webhook with the system key, Blob Storage, and the simulator's admin API.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll } from 'vitest';
import type { LocalApp, LocalAppOptions } from '../../local/app.js';
import { SWEEP_REPORT_BLOB } from '../../shared/activities/inventory.js';
import { isNotFound } from '../../shared/errors.js';
import { bufferAsyncBuffer } from '../../shared/parquet/asyncBuffer.js';
import { matchInstanceIdForBlob, rejectedUploadRunFor } from '../../shared/workflow/ids.js';
import {
  type LatestRunDocument,
  latestBlobName,
  matchedBlobName,
  nameKeyFor,
  outboxBlobNames,
  runFolderFor,
  type SourceKind,
} from '../../shared/workflow/outboxNames.js';
import type { CompactMatchStatus } from '../../shared/workflow/status.js';
import type { MatchOutputs } from '../../shared/workflow/types.js';
import { documentedBlobCreatedFor, type SampleEvent } from '../fixtures/eventgrid/sample.js';

export type { LocalApp } from '../../local/app.js';
export type { CompactMatchStatus } from '../../shared/workflow/status.js';

const repoRoot = join(__dirname, '..', '..');

/**
 * The launcher from dist/: it starts `dist/local/host/cli.js` next to itself, so it must be the compiled one
 * (the integration project's globalSetup builds it; run `npm run build` when running a file on its own).
 */
function compiledLauncher(): typeof import('../../local/app.js') {
  return require(join(repoRoot, 'dist', 'local', 'app.js'));
}

export interface TestApp extends LocalApp {
  /** The app's temp dir (stack.json when started with `writeStackJson: true`, the certificate, state). */
  dir: string;
  /** Removes the temp dir too (not a `dir` the caller gave). */
  close(): Promise<void>;
}

export interface StartAppOptions extends Partial<LocalAppOptions> {
  /** Prefix of the temp dir; default `product`. */
  name?: string;
}

/**
 * An isolated app: its own temp dir (or the given `dir`, kept on close, e.g. to start a persistent app again on
 * it), stack, simulator and host. Host lines are kept in `hostLog`, not echoed.
 */
export async function startApp(options: StartAppOptions = {}): Promise<TestApp> {
  const { name = 'product', dir: given, ...rest } = options;
  const dir = given ?? mkdtempSync(join(tmpdir(), `gemflow-e2e-${name}-`));
  const app = await compiledLauncher().startLocalApp({
    dir,
    timeScale: 600,
    writeStackJson: false,
    onHostLine: () => {},
    ...rest,
  });
  const close = app.close.bind(app);
  return Object.assign(app, {
    dir,
    async close() {
      try {
        await close();
      } finally {
        if (!given) rmSync(dir, { recursive: true, force: true });
      }
    },
  });
}

/**
 * One app for the file (or `describe` block) that calls it: registers a `beforeAll` that starts it and an
 * `afterAll` that closes it, and returns the app. The returned handle stands for the started app, so tests and
 * later hooks use it as they would the app itself; it throws when read before its `beforeAll` ran (at the top
 * level of the file, say). `options` may be a function, for options known only once earlier hooks ran.
 */
export function useApp(options: StartAppOptions | (() => StartAppOptions) = {}, timeoutMs?: number): TestApp {
  let started: TestApp | undefined;
  beforeAll(async () => {
    started = await startApp(typeof options === 'function' ? options() : options);
  }, timeoutMs);
  afterAll(async () => {
    await started?.close();
  });
  const current = (): TestApp => {
    if (started) return started;
    throw new Error(
      'The app of useApp() is read before its beforeAll started it; read it inside a test or hook.',
    );
  };
  return new Proxy({} as TestApp, {
    get(_target, property) {
      const app = current();
      const value: unknown = Reflect.get(app, property, app);
      return typeof value === 'function' ? value.bind(app) : value;
    },
    has: (_target, property) => property in current(),
  });
}

// ------------------------------------------------------------------------------------------ storage

function container(app: LocalApp, name: string): ContainerClient {
  return BlobServiceClient.fromConnectionString(app.stack.info.storageConnectionString).getContainerClient(
    name,
  );
}

export interface Uploaded {
  name: string;
  /** Bare etag (no quotes). */
  etag: string;
  /** The match id every door (event, sweep, HTTP without idempotency key) derives for this upload. */
  matchId: string;
  url: string;
  size: number;
}

export async function uploadInbox(
  app: LocalApp,
  name: string,
  bytes: Uint8Array,
  metadata?: Record<string, string>,
): Promise<Uploaded> {
  const inbox = app.stack.info.inboxContainer;
  const blob = container(app, inbox).getBlockBlobClient(name);
  const response = await blob.uploadData(bytes, {
    ...(metadata ? { metadata } : {}),
    blobHTTPHeaders: { blobContentType: 'application/vnd.apache.parquet' },
  });
  const etag = (response.etag ?? '').replaceAll('"', '');
  return { name, etag, matchId: matchIdForUpload(inbox, name, etag), url: blob.url, size: bytes.byteLength };
}

/** A blob's bytes from the outbox, or undefined when it does not exist. */
export async function readOutbox(app: LocalApp, name: string): Promise<Buffer | undefined> {
  return readBlob(container(app, app.stack.info.outboxContainer), name);
}

export async function readOutboxJson<T = Record<string, unknown>>(
  app: LocalApp,
  name: string,
): Promise<T | undefined> {
  const bytes = await readOutbox(app, name);
  return bytes === undefined ? undefined : (JSON.parse(bytes.toString('utf8')) as T);
}

/** The TomTom PDG storage's `default` container, with the account's SharedKey (what a customer's upload tool has). */
function pdgContainer(app: LocalApp, storageId?: string): ContainerClient {
  const storage =
    app.stack.info.pdgStorages.find((s) => s.id === (storageId ?? app.stack.info.pdgStorageId)) ??
    app.stack.info.pdgStorages[0]!;
  return BlobServiceClient.fromConnectionString(storage.blobConnectionString).getContainerClient(
    storage.container,
  );
}

/** A file in the PDG storage, or undefined when it does not exist. */
export function readPdgFile(app: LocalApp, name: string, storageId?: string): Promise<Buffer | undefined> {
  return readBlob(pdgContainer(app, storageId), name);
}

/** Puts a file straight into the PDG storage, for matches started with `pdgFilename`. */
export async function uploadPdgFile(app: LocalApp, name: string, bytes: Uint8Array): Promise<void> {
  await pdgContainer(app).getBlockBlobClient(name).uploadData(bytes);
}

async function readBlob(client: ContainerClient, name: string): Promise<Buffer | undefined> {
  try {
    return await client.getBlobClient(name).downloadToBuffer();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

// ------------------------------------------------------------------------------------------ outbox names

/** The outbox documents one run of an input name writes: `<name key>/<instance id>/…`. */
export function runDocuments(
  name: string,
  instanceId: string,
  kind: SourceKind = 'inbox',
): Required<MatchOutputs> {
  const location = { nameKey: nameKeyFor(kind, name), run: runFolderFor(instanceId) };
  // GEM's own Parquet comes back as GeoParquet.
  return { ...outboxBlobNames(location), matched: matchedBlobName(location, 'parquet') };
}

/** The report of an upload whose options were rejected: `<name key>/rejected-<hash>/validation.json`. */
export function rejectionReportName(app: LocalApp, upload: Pick<Uploaded, 'name' | 'etag'>): string {
  const run = rejectedUploadRunFor(app.stack.info.inboxContainer, upload.name, upload.etag);
  return outboxBlobNames({ nameKey: nameKeyFor('inbox', upload.name), run }).validationReport;
}

/** `<name key>/latest.json` of an input name: its newest run. Undefined before any run of it has finished. */
export function readLatest(
  app: LocalApp,
  name: string,
  kind: SourceKind = 'inbox',
): Promise<LatestRunDocument | undefined> {
  return readOutboxJson<LatestRunDocument>(app, latestBlobName(nameKeyFor(kind, name)));
}

export function readParquet(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: bufferAsyncBuffer(bytes) });
}

export function matchIdForUpload(containerName: string, name: string, etag: string): string {
  return matchInstanceIdForBlob(containerName, name, etag);
}

// ------------------------------------------------------------------------------------------ HTTP API

/** Response bodies as tests read them: shapes are what the assertions check, so no type is claimed. */
// biome-ignore lint/suspicious/noExplicitAny: a test reads arbitrary JSON and asserts on it
export type JsonBody = any;

export interface ApiResponse<T = JsonBody> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface ApiClient {
  request<T = JsonBody>(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; key?: string | null },
  ): Promise<ApiResponse<T>>;
  get<T = JsonBody>(path: string): Promise<ApiResponse<T>>;
  post<T = JsonBody>(path: string, body?: unknown): Promise<ApiResponse<T>>;
}

/** fetch against the host with the function key in `x-functions-key` (`key: null` sends none). */
export function api(app: LocalApp): ApiClient {
  const client: ApiClient = {
    async request(method, path, options = {}) {
      const key = options.key === undefined ? app.keys.functionKey : options.key;
      const headers: Record<string, string> = {};
      if (key) headers['x-functions-key'] = key;
      let body: string | undefined = options.rawBody;
      if (body === undefined && options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${app.baseUrl}${path}`, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON: the text is the body.
      }
      return { status: response.status, headers: response.headers, body: parsed as JsonBody, text };
    },
    get: (path) => client.request('GET', path),
    post: (path, body) => client.request('POST', path, { body }),
  };
  return client;
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export async function getMatch(app: LocalApp, id: string): Promise<CompactMatchStatus | undefined> {
  const response = await api(app).get<CompactMatchStatus>(`/api/matches/${encodeURIComponent(id)}`);
  if (response.status === 404) return undefined;
  if (response.status !== 200) {
    throw new Error(`GET /api/matches/${id} answered ${response.status}: ${response.text.slice(0, 500)}`);
  }
  return response.body;
}

/**
 * Polls `GET /api/matches/{id}` until `until(status)` holds (default: a terminal runtime status). The timeout
 * only bounds a failing test; the error says what the match was last seen doing.
 */
export async function waitForMatch(
  app: LocalApp,
  id: string,
  options: { timeoutMs?: number; until?: (status: CompactMatchStatus) => boolean } = {},
): Promise<CompactMatchStatus> {
  const until = options.until ?? ((s: CompactMatchStatus) => TERMINAL.has(s.runtimeStatus));
  let last: CompactMatchStatus | undefined;
  return waitUntil(
    async () => {
      last = await getMatch(app, id);
      return last && until(last) ? last : undefined;
    },
    () => `match ${id} (last seen: ${last ? JSON.stringify(last) : 'not found'})`,
    options.timeoutMs,
  );
}

/** Polls `check` until it returns something other than undefined. */
export async function waitUntil<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string | (() => string),
  timeoutMs = 45_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// ------------------------------------------------------------------------------------------ callbacks

export interface CallbackReceiver {
  /** `http://127.0.0.1:<port>/hooks/gem`: on the local stack's callback allow-list. */
  url: string;
  received: { headers: IncomingHttpHeaders; body: string }[];
  close(): void;
}

/** A callback receiver on 127.0.0.1 that records every request and answers `status`. */
export async function startCallbackReceiver(status = 204): Promise<CallbackReceiver> {
  const received: CallbackReceiver['received'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/gem`, received, close: () => server.close() };
}

// ------------------------------------------------------------------------------------------ Event Grid

/**
 * The `Microsoft.Storage.BlobCreated` event Azure Storage publishes for an upload: Microsoft's documented sample
 * (test/fixtures/eventgrid) with the blob's subject, url, eTag and length.
 */
export function blobCreatedEvent(app: LocalApp, upload: Uploaded): SampleEvent {
  return documentedBlobCreatedFor({
    account: 'devstoreaccount1',
    container: app.stack.info.inboxContainer,
    name: upload.name,
    etag: upload.etag,
    url: upload.url,
    contentLength: upload.size,
    contentType: 'application/vnd.apache.parquet',
  });
}

/**
 * Delivers events to the Event Grid trigger's webhook as an Event Grid subscription does: the extension's
 * endpoint with the `eventgrid_extension` system key, `aeg-event-type: Notification`, an array of events.
 */
export async function postEventGridEvents(
  app: LocalApp,
  events: unknown[],
  functionName = 'onInboxUpload',
): Promise<number> {
  const url = new URL('/runtime/webhooks/eventgrid', app.baseUrl);
  url.searchParams.set('functionName', functionName);
  url.searchParams.set('code', app.keys.systemKeys.eventgrid_extension!);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
    body: JSON.stringify(events),
  });
  await response.arrayBuffer();
  return response.status;
}

// ------------------------------------------------------------------------------------------ simulator

export interface SimulatorJob {
  job_id: number;
  job_type: string;
  storage_id: string;
  input_filename: string;
  result_filename: string | null;
  status: string;
  statistics: Record<string, unknown> | null;
  message?: string;
  owner_oid: string;
}

export interface RequestSummary {
  total: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  byRouteAndStatus: Record<string, Record<string, number>>;
  recent: {
    time: string;
    method: string;
    path: string;
    route: string;
    status: number;
    apiKey?: string;
    faultId?: number;
  }[];
}

export interface SimulatorAdmin {
  requests(limit?: number): Promise<RequestSummary>;
  jobs(): Promise<SimulatorJob[]>;
  addFault(rule: Record<string, unknown> | Record<string, unknown>[]): Promise<unknown>;
  /** `{action: 'fail-job' | 'expire-tokens', …}` */
  action(body: Record<string, unknown>): Promise<unknown>;
  clearFaults(): Promise<void>;
  addKey(key: string, products: ('pdg' | 'gem')[]): Promise<void>;
  revokeKey(key: string): Promise<void>;
  reset(): Promise<void>;
}

export function simulatorAdmin(app: LocalApp): SimulatorAdmin {
  const base = app.stack.info.simulatorAdminUrl;
  const call = async <T>(method: string, path: string, body?: unknown, expect = [200, 201, 204]) => {
    const response = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!expect.includes(response.status)) {
      throw new Error(`simulator admin ${method} ${path} answered ${response.status}: ${text}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    requests: (limit = 200) => call<RequestSummary>('GET', `/requests?limit=${limit}`),
    jobs: async () => (await call<{ jobs: SimulatorJob[] }>('GET', '/jobs')).jobs,
    addFault: (rule) => call('POST', '/faults', rule),
    action: (body) => call('POST', '/faults', body),
    clearFaults: async () => {
      await call('DELETE', '/faults');
    },
    addKey: async (key, products) => {
      await call('POST', '/keys', { key, products });
    },
    revokeKey: async (key) => {
      await call('DELETE', `/keys/${encodeURIComponent(key)}`);
    },
    reset: async () => {
      await call('POST', '/reset');
    },
  };
}

/** Requests to one simulator route so far, e.g. `routeCount(summary, 'POST /jobs')`. */
export function routeCount(summary: RequestSummary, route: string): number {
  return summary.byRoute[route] ?? 0;
}

/** Runs a timer or Event Grid function now through the host's admin API (master key), as the portal's "Run" does. */
export async function runFunctionNow(app: LocalApp, name: string, input?: string): Promise<number> {
  const response = await fetch(`${app.baseUrl}/admin/functions/${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'x-functions-key': app.keys.masterKey, 'content-type': 'application/json' },
    body: JSON.stringify(input === undefined ? {} : { input }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** The instance as the Durable HTTP API reports it (system key), including its output. */
export async function durableInstance<T = Record<string, unknown>>(
  app: LocalApp,
  id: string,
): Promise<{ runtimeStatus: string; output: T; customStatus: unknown }> {
  const url = new URL(`/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}`, app.baseUrl);
  url.searchParams.set('code', app.keys.systemKey);
  const response = await fetch(url);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`Durable status of ${id}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** The sweep's last report (`inventory/sweep.json` in the outbox); undefined while a read overlaps a rewrite. */
export async function sweepReport(
  app: LocalApp,
): Promise<{ sweptAt: string; inbox: { scanned: number; started: string[] } } | undefined> {
  // The download is ranged, so a read that overlaps the next sweep's rewrite can mix two versions: read again.
  return readOutboxJson<{ sweptAt: string; inbox: { scanned: number; started: string[] } }>(
    app,
    SWEEP_REPORT_BLOB,
  ).catch(() => undefined);
}

/** Waits until `times` more sweeps have run (their report changed), and returns their reports. A quiet sweep
 * logs nothing the host prints, so its report is how a test sees it. */
export async function waitForSweeps(app: LocalApp, times: number, what: string) {
  const first = await waitUntil(() => sweepReport(app), 'a whole sweep report');
  const reports = new Map([[first.sweptAt, first]]);
  await waitUntil(async () => {
    const report = await sweepReport(app);
    if (report) reports.set(report.sweptAt, report);
    return reports.size > times ? true : undefined;
  }, what);
  return [...reports.values()].slice(1);
}
