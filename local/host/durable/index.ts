/**
 * The local host's durable engine: the Durable Task extension's side of the protocol (see engine.ts) plus the
 * Durable HTTP API (api.ts), with state in Azure Table storage (store.ts). The host mounts `handleHttp` on its
 * public server; the engine also listens on its own loopback port (`rpcBaseUrl`), like the extension's
 * LocalHttpListener, and registers the `durableClient` input binding data so `df.getClient(context)` works.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StorageConnection } from '../connections.js';
import { setInputProvider } from '../core.js';
import {
  type BodyReader,
  BodyTooLargeError,
  keyMatches,
  presentedKey,
  readBody,
  refuseUnread,
} from '../http.js';
import { type ClientBindingData, DurableApi, WEBHOOK_PATH } from './api.js';
import { DurableEngineCore } from './engine.js';
import type { HistoryEvent } from './history.js';
import { DurableStore } from './store.js';

export interface DurableEngineOptions {
  /** host.json extensions.durableTask.hubName, %…% resolved; default 'TestHubName'. */
  taskHub: string;
  /** The task hub's storage connection (host.json storageProvider.connectionName), resolved from app settings. */
  storage: StorageConnection;
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
  /** Largest body the loopback rpc listener accepts (413 above); the host passes its public limit. */
  maxRequestBodyBytes?: number;
  /** Tests only: wraps the table store, e.g. to inject transient storage errors. */
  wrapStore?: (store: DurableStore) => DurableStore;
}

export interface DurableEngine {
  /** Serves /runtime/webhooks/durabletask/*; returns false for any other path. */
  /** The body is read only once the system key is checked. */
  handleHttp(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    body: BodyReader,
  ): Promise<boolean>;
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
/** The Functions host's default request body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT), 100 MB. */
const DEFAULT_BODY_LIMIT = 100 * 1024 * 1024;

export async function startDurableEngine(options: DurableEngineOptions): Promise<DurableEngine> {
  const opened = await DurableStore.open(options.storage, options.taskHub || 'TestHubName');
  const store = options.wrapStore ? options.wrapStore(opened) : opened;
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
  const rpc = await startRpcListener(api, options.maxRequestBodyBytes ?? DEFAULT_BODY_LIMIT, options.log);
  provideClientBinding(api, rpc.baseUrl);
  try {
    await core.start();
  } catch (error) {
    // Start-up failed (e.g. the task hub's tables are unreachable): release the port opened above.
    await rpc.close();
    throw error;
  }
  return {
    rpcBaseUrl: rpc.baseUrl,
    handleHttp: webhookHandler(api, options),
    clientBinding: (mode = 'rpc') => api.clientBinding(mode === 'rpc' ? rpc.baseUrl : undefined),
    history: (instanceId) => core.history(instanceId),
    stats: () => ({ activities: core.activityStats() }),
    async close() {
      await rpc.close();
      await core.close();
    },
  };
}

interface RpcListener {
  /** http://127.0.0.1:<port>/durabletask/ */
  baseUrl: string;
  close(): Promise<void>;
}

/** The loopback listener (the extension's LocalHttpListener): the Durable HTTP API without auth. */
async function startRpcListener(
  api: DurableApi,
  bodyLimit: number,
  log: (line: string) => void,
): Promise<RpcListener> {
  const rpc = http.createServer((req, res) => {
    serveRpc(api, req, res, bodyLimit).catch((error: unknown) => {
      log(`[durable] rpc ${req.method} ${req.url} failed: ${(error as Error)?.stack ?? String(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    rpc.once('error', reject);
    rpc.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    baseUrl: `http://127.0.0.1:${(rpc.address() as AddressInfo).port}${RPC_PREFIX}`,
    close: () =>
      new Promise<void>((resolve) => {
        rpc.close(() => resolve());
        rpc.closeAllConnections();
      }),
  };
}

async function serveRpc(
  api: DurableApi,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bodyLimit: number,
): Promise<void> {
  let body: Buffer;
  try {
    // The same limit as the public server: the loopback port must not buffer an unbounded body either.
    body = await readBody(req, bodyLimit);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) {
      res.destroy();
      return;
    }
    refuseUnread(res, 413, error.message);
    return;
  }
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
  if (!url.pathname.startsWith(RPC_PREFIX)) {
    res.writeHead(404).end();
    return;
  }
  await api.handle(req, res, url, url.pathname.slice(RPC_PREFIX.length), body);
}

/** The durableClient (and v1 orchestrationClient) input binding data, for `df.getClient(context)`. */
function provideClientBinding(api: DurableApi, rpcBaseUrl: string): void {
  const binding = JSON.stringify(api.clientBinding(rpcBaseUrl));
  const provider = () => ({ string: binding });
  setInputProvider('durableClient', provider);
  setInputProvider('orchestrationClient', provider);
}

/** /runtime/webhooks/durabletask/* on the host's public server, behind the system (or master) key. */
function webhookHandler(
  api: DurableApi,
  options: Pick<DurableEngineOptions, 'systemKey' | 'masterKey'>,
): DurableEngine['handleHttp'] {
  // Constant-time comparison, as for function keys: the key must not leak through response timing.
  const accepted = options.masterKey ? [options.systemKey, options.masterKey] : [options.systemKey];
  return async (req, res, url, body) => {
    const path = url.pathname;
    if (path !== WEBHOOK_PATH && !path.startsWith(`${WEBHOOK_PATH}/`)) return false;
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
    await api.handle(req, res, url, path.slice(WEBHOOK_PATH.length + 1), await body());
    return true;
  };
}
