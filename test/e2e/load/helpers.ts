/**
 * Helpers for the load and secrets tests: each test file starts its own isolated app (stand-ins + local host)
 * through `startLocalApp`, uploads to the inbox like a user would, and reads state back through the public
 * surfaces (the app's status API, the Durable HTTP API, the simulator's admin API, Azurite).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LocalApp, LocalAppOptions } from '../../../local/app.js';
import { matchInstanceIdForBlob } from '../../../shared/workflow/ids.js';
import { outboxLocationFor } from '../../../shared/workflow/outboxNames.js';
import type { OutboxLocation } from '../../../shared/workflow/types.js';
import { useApp } from '../harness.js';

export const repoRoot = resolve(__dirname, '../../..');

/** `extensions.durableTask` of the app's host.json, as deployed. */
export function durableHostSettings(): { maxConcurrentActivityFunctions: number } {
  const hostJson = JSON.parse(readFileSync(join(repoRoot, 'host.json'), 'utf8')) as {
    extensions: { durableTask: { maxConcurrentActivityFunctions: number } };
  };
  return hostJson.extensions.durableTask;
}

export interface TestApp {
  app: LocalApp;
  /** Every line the host printed, unbounded (app.hostLog keeps a bounded tail). */
  lines: string[];
}

/**
 * An isolated app for the file, started and closed by its hooks (harness.ts `useApp`); host output is
 * collected, not echoed.
 */
export function useTestApp(
  prefix: string,
  options: Omit<LocalAppOptions, 'dir' | 'writeStackJson' | 'onHostLine'> = {},
): TestApp {
  const lines: string[] = [];
  const app = useApp({
    name: prefix,
    keepLogLines: 1_000_000,
    ...options,
    onHostLine: (line) => {
      lines.push(line);
    },
  });
  return { app, lines };
}

export interface Upload {
  name: string;
  etag: string;
  instanceId: string;
  /** Where its run writes in the outbox. */
  outbox: OutboxLocation;
}

export function blobService(app: LocalApp): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(app.stack.info.storageConnectionString);
}

/** Uploads all files to the inbox at once; each gets the instance id its BlobCreated event maps to. */
export async function uploadAll(
  app: LocalApp,
  files: { name: string; bytes: Uint8Array; metadata?: Record<string, string> }[],
): Promise<Upload[]> {
  const inbox = blobService(app).getContainerClient(app.stack.info.inboxContainer);
  return Promise.all(
    files.map(async ({ name, bytes, metadata }) => {
      const response = await inbox.getBlockBlobClient(name).uploadData(bytes, metadata ? { metadata } : {});
      const etag = (response.etag ?? '').replaceAll('"', '');
      const container = app.stack.info.inboxContainer;
      const instanceId = matchInstanceIdForBlob(container, name, etag);
      return {
        name,
        etag,
        instanceId,
        outbox: outboxLocationFor({ kind: 'inbox', container, blobName: name }, instanceId),
      };
    }),
  );
}

export async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`GET ${url.replace(/code=[^&]+/, 'code=…')} → ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

export interface CompactMatch {
  id: string;
  runtimeStatus: string;
  phase: string | null;
  outcome: string | null;
  jobId: number | null;
  gemStatus: string | null;
  polls: number;
  outputs: Record<string, { blob: string } | null>;
  error: { message: string } | null;
}

export function getMatch(app: LocalApp, id: string): Promise<CompactMatch> {
  return getJson<CompactMatch>(`${app.baseUrl}/api/matches/${id}`, {
    'x-functions-key': app.keys.functionKey,
  });
}

export interface DurableStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: unknown[];
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

/** Every instance through the Durable HTTP API (all pages), inputs included. */
export async function listInstances(app: LocalApp): Promise<DurableStatus[]> {
  const all: DurableStatus[] = [];
  let token = '';
  for (;;) {
    const response = await fetch(
      `${app.baseUrl}/runtime/webhooks/durabletask/instances?showInput=true&top=100&code=${encodeURIComponent(app.keys.systemKey)}`,
      { headers: token ? { 'x-ms-continuation-token': token } : {} },
    );
    if (!response.ok) throw new Error(`listing instances → ${response.status}: ${await response.text()}`);
    all.push(...((await response.json()) as DurableStatus[]));
    token = response.headers.get('x-ms-continuation-token') ?? '';
    if (!token) return all;
  }
}

/** One instance with its full history and the outputs in it. */
export function instanceWithHistory(app: LocalApp, id: string): Promise<DurableStatus> {
  return getJson<DurableStatus>(
    `${app.baseUrl}/runtime/webhooks/durabletask/instances/${id}?showInput=true&showHistory=true&showHistoryOutput=true&code=${encodeURIComponent(app.keys.systemKey)}`,
  );
}

/** Waits until every id is in a terminal runtime state; the timeout only bounds a failing test. */
export async function waitForTerminal(
  app: LocalApp,
  ids: string[],
  timeoutMs: number,
  onProgress?: (done: number) => void,
): Promise<Map<string, DurableStatus>> {
  const wanted = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const done = new Map(
      (await listInstances(app))
        .filter((s) => wanted.has(s.instanceId) && TERMINAL.has(s.runtimeStatus))
        .map((s) => [s.instanceId, s]),
    );
    if (done.size !== last) onProgress?.(done.size);
    last = done.size;
    if (done.size === wanted.size) return done;
    if (Date.now() > deadline) {
      throw new Error(`Timed out: ${done.size} of ${wanted.size} matches finished`);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

export interface SimulatorRequests {
  total: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  byRouteAndStatus: Record<string, Record<string, number>>;
  inFlight: { now: number; max: number };
}

export function simulatorRequests(app: LocalApp): Promise<SimulatorRequests> {
  return getJson<SimulatorRequests>(`${app.stack.info.simulatorAdminUrl}/requests?limit=0`);
}

export interface AdminJob {
  job_id: number;
  status: string;
  input_filename: string;
  result_filename: string | null;
  requested_at: string;
  statistics: Record<string, number> | null;
}

export async function simulatorJobs(app: LocalApp): Promise<AdminJob[]> {
  return (await getJson<{ jobs: AdminJob[] }>(`${app.stack.info.simulatorAdminUrl}/jobs`)).jobs;
}

export async function adminPost(app: LocalApp, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${app.stack.info.simulatorAdminUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path} → ${response.status}: ${await response.text()}`);
  return response.json();
}

export interface HostStatus {
  durable?: { activities: { limit: number; running: number; peak: number; invocations: number } };
}

export function hostStatus(app: LocalApp): Promise<HostStatus> {
  return getJson<HostStatus>(`${app.baseUrl}/admin/host/status`, { 'x-functions-key': app.keys.masterKey });
}

export async function readBlobText(app: LocalApp, container: string, name: string): Promise<string> {
  const buffer = await blobService(app).getContainerClient(container).getBlobClient(name).downloadToBuffer();
  return buffer.toString('utf8');
}
