/**
 * The local host's durable engine: the Durable Task extension's side of the protocol (see engine.ts) plus the
 * Durable HTTP API (api.ts), with state in Azure Table storage (store.ts). The host mounts `handleHttp` on its
 * public server; the engine also listens on its own loopback port (`rpcBaseUrl`), like the extension's
 * LocalHttpListener, and registers the `durableClient` input binding data so `df.getClient(context)` works.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setInputProvider } from '../core.js';
import { keyMatches, presentedKey } from '../http.js';
import { type ClientBindingData, DurableApi, WEBHOOK_PATH } from './api.js';
import { DurableEngineCore } from './engine.js';
import type { HistoryEvent } from './history.js';
import { DurableStore } from './store.js';

export type { ClientBindingData } from './api.js';
export type { HistoryEvent } from './history.js';
export { EventType, eventTypeName } from './history.js';

export interface DurableEngineOptions {
  /** host.json extensions.durableTask.hubName, %…% resolved; default 'TestHubName'. */
  taskHub: string;
  /** AzureWebJobsStorage (Azurite over https, or http with allowInsecureConnection). */
  storageConnectionString: string;
  /** e.g. http://localhost:7071 (the host sets WEBSITE_HOSTNAME accordingly). */
  publicBaseUrl: string;
  /** Required as ?code= (or x-functions-key) on /runtime/webhooks/durabletask/*. */
  systemKey: string;
  /** The host's master key, which Azure accepts on every extension webhook as well. */
  masterKey?: string;
  clock: { now(): number; toRealDelayMs(virtualMs: number): number };
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
  log: (line: string) => void;
  /** Page size of `GET instances` without `top`; the extension's default is 100. */
  listPageSize?: number;
}

export interface DurableEngine {
  /** Serves /runtime/webhooks/durabletask/*; returns false for any other path. */
  handleHttp(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: Buffer): Promise<boolean>;
  /** http://127.0.0.1:<port>/durabletask/ (no auth), as the extension's LocalHttpListener. */
  rpcBaseUrl: string;
  close(): Promise<void>;
  /** The durableClient binding data; `webhook` mode omits rpcBaseUrl so the client uses the URL templates. */
  clientBinding(mode?: 'rpc' | 'webhook'): ClientBindingData;
  /** Committed history of an instance's current execution, as stored (for tests and diagnostics). */
  history(instanceId: string): Promise<HistoryEvent[]>;
  /** Activity concurrency: the configured limit, invocations running now, the peak, and the total run. */
  stats(): { activities: { limit: number; running: number; peak: number; invocations: number } };
}

const RPC_PREFIX = '/durabletask/';

export async function startDurableEngine(options: DurableEngineOptions): Promise<DurableEngine> {
  const store = await DurableStore.open(options.storageConnectionString, options.taskHub || 'TestHubName');
  const core = new DurableEngineCore({
    store,
    clock: options.clock,
    maxConcurrentActivityFunctions: options.maxConcurrentActivityFunctions,
    maxConcurrentOrchestratorFunctions: options.maxConcurrentOrchestratorFunctions,
    log: options.log,
  });
  const api = new DurableApi(core, {
    taskHub: options.taskHub || 'TestHubName',
    publicBaseUrl: options.publicBaseUrl,
    systemKey: options.systemKey,
    defaultPageSize: options.listPageSize ?? 100,
    log: options.log,
  });

  const rpc = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
      if (!url.pathname.startsWith(RPC_PREFIX)) {
        res.writeHead(404).end();
        return;
      }
      void api.handle(req, res, url, url.pathname.slice(RPC_PREFIX.length), Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve, reject) => {
    rpc.once('error', reject);
    rpc.listen(0, '127.0.0.1', () => resolve());
  });
  const rpcBaseUrl = `http://127.0.0.1:${(rpc.address() as AddressInfo).port}${RPC_PREFIX}`;

  const binding = JSON.stringify(api.clientBinding(rpcBaseUrl));
  const provider = () => ({ string: binding });
  setInputProvider('durableClient', provider);
  setInputProvider('orchestrationClient', provider);

  await core.start();

  return {
    rpcBaseUrl,
    async handleHttp(req, res, url, body) {
      const path = url.pathname;
      if (path !== WEBHOOK_PATH && !path.startsWith(`${WEBHOOK_PATH}/`)) return false;
      // Constant-time comparison, as for function keys: the key must not leak through response timing.
      const accepted = options.masterKey ? [options.systemKey, options.masterKey] : [options.systemKey];
      if (!keyMatches(presentedKey(req, url), ...accepted)) {
        res.writeHead(401, { 'Content-Type': 'application/json; charset=utf-8' });
        res.end(
          JSON.stringify({
            message:
              'The Durable HTTP API needs the system key: add ?code=<systemKey> (the URLs in the durableClient ' +
              'binding and in check-status responses carry it).',
          }),
        );
        return true;
      }
      await api.handle(req, res, url, path.slice(WEBHOOK_PATH.length + 1), body);
      return true;
    },
    clientBinding: (mode = 'rpc') => api.clientBinding(mode === 'rpc' ? rpcBaseUrl : undefined),
    history: (instanceId) => core.history(instanceId),
    stats: () => ({ activities: core.activityStats() }),
    async close() {
      await new Promise<void>((resolve) => {
        rpc.close(() => resolve());
        rpc.closeAllConnections();
      });
      await core.close();
    },
  };
}
