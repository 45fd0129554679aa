// Wires the pieces into one HTTPS request handler: admin → route → faults → auth → handler, with
// every TomTom/Vault request counted. Handlers return SimResponse values; only this file does I/O
// on the socket. A request that changes the saved state is answered only once `onStateChange` has run.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import { ADMIN_PREFIX, handleAdmin } from './admin.js';
import { type Caller, checkApiKey, createBearerVerifier, KeyRegistry } from './auth.js';
import { AzureBlobStore, type BlobStore } from './blobs.js';
import { FaultStore } from './faults.js';
import { createJob, getJob, listJobs } from './gem.js';
import { isoMicros, JobStore, type Schedule } from './jobs.js';
import { getCredentials, getStorage, listStorages, type PdgDeps } from './pdg.js';
import { credentialKind, RequestLog } from './request-log.js';
import { badRequest, type SimResponse, stringify, tomtomError } from './responses.js';
import { type MatchedRoute, matchRoute } from './router.js';
import type { SimulatorState } from './state.js';
import type { SimulatorHandle, SimulatorOptions } from './types.js';
import { handleUnwrap, WrappedTokenStore } from './vault.js';

const MAX_BODY_BYTES = 1 << 20;

/** Seams for tests: in-memory blobs, a recording scheduler, deterministic randomness. */
export interface SimulatorOverrides {
  blobs?: BlobStore;
  schedule?: Schedule;
  random?: () => number;
  /** Wall clock for bearer-token lifetimes (default Date.now). */
  realNow?: () => number;
  /** Virtual TTL of unused wrapped tokens; default: no expiry (the real TTL is undocumented). */
  wrappedTokenTtlMs?: number;
}

export function createSimulator(options: SimulatorOptions, overrides: SimulatorOverrides = {}) {
  const { clock } = options;
  const realNow = overrides.realNow ?? Date.now;
  const storages = new Map(options.storages.map((s) => [s.id, s]));
  const blobs = overrides.blobs ?? new AzureBlobStore(options.storages);
  const keys = new KeyRegistry(options.restore?.apiKeys ?? options.apiKeys);
  const verifier = createBearerVerifier(options.jwks as JSONWebKeySet, options.gemAudience);
  const wrapped = new WrappedTokenStore(overrides.wrappedTokenTtlMs);
  const faults = new FaultStore(overrides.random);
  const log = new RequestLog();
  const jobs = new JobStore({
    clock,
    blobs,
    durations: options.jobDurations,
    schedule: overrides.schedule,
    random: overrides.random,
  });
  if (options.restore) {
    jobs.restore(options.restore);
    log.restoreCounts(options.restore.requests);
  }
  const snapshot = (): SimulatorState => ({
    ...jobs.snapshot(),
    apiKeys: keys.list(),
    requests: log.snapshotCounts(),
  });
  const stateChanged = async (): Promise<void> => {
    try {
      await options.onStateChange?.();
    } catch (e) {
      // The change stands in memory; say loudly that a restart would lose it.
      console.error(
        `[gem-simulator] could not save its state: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  };
  const pdg: PdgDeps = {
    storages,
    blobs,
    wrapped,
    createdAt: new Date(Math.floor(clock.now())).toISOString(),
    now: () => clock.now(),
  };

  async function dispatch(route: MatchedRoute, caller: Caller, req: IncomingMessage, url: URL, raw: string) {
    const { storageId = '', jobId = '' } = route.params;
    switch (route.name) {
      case 'listStorages':
        return listStorages(pdg, caller);
      case 'getStorage':
        return getStorage(pdg, storageId, caller);
      case 'getCredentials':
        return getCredentials(pdg, storageId, url.searchParams.get('type'), route.pdgVariant!, caller);
      case 'createJob':
        return createJob(jobs, pdg, caller, req.headers['content-type'], raw);
      case 'listJobs':
        return listJobs(jobs, caller, url.searchParams.get('job_type'));
      case 'getJob':
        return getJob(jobs, caller, jobId);
      case 'unwrap':
        throw new Error('unwrap is not a TomTom route');
    }
  }

  /** Everything after routing for one TomTom/Vault request; returns the response and who asked. */
  async function answer(
    route: MatchedRoute,
    req: IncomingMessage,
    url: URL,
    raw: string,
  ): Promise<{ response: SimResponse; subject?: string; faultId?: number; drop?: boolean }> {
    const fault = faults.match(route.key, req.method ?? 'GET');
    if (fault && fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    const drop = fault?.rule.afterHandler === 'drop-connection';
    if (fault?.response) return { response: fault.response, faultId: fault.rule.id, drop };
    return { ...(await authorizeAndDispatch(route, req, url, raw, fault?.rule.id)), drop };
  }

  /** Authentication, version check and the route's handler. */
  async function authorizeAndDispatch(
    route: MatchedRoute,
    req: IncomingMessage,
    url: URL,
    raw: string,
    faultId: number | undefined,
  ): Promise<{ response: SimResponse; subject?: string; faultId?: number }> {
    if (route.name === 'unwrap') {
      return {
        response: handleUnwrap(wrapped, storages, header(req, 'x-vault-token'), raw, clock.now()),
        faultId,
      };
    }
    const keyCheck = checkApiKey(keys, header(req, 'tomtom-api-key'), route.product!);
    if (keyCheck?.status === 401) return { response: keyCheck, faultId };
    const bearer = await verifier.verify(header(req, 'authorization'), realNow());
    if (!bearer.ok) return { response: bearer.response, faultId };
    const subject = bearer.caller.oid;
    if (keyCheck) return { response: keyCheck, subject, faultId };
    const version = header(req, 'x-version');
    if (version !== undefined && version.trim() !== '1') {
      return {
        response: badRequest(`Unsupported X-Version '${version}'; the supported version is 1.`, [
          { field: 'X-Version', reason: 'must be 1' },
        ]),
        subject,
        faultId,
      };
    }
    return { response: await dispatch(route, bearer.caller, req, url, raw), subject, faultId };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    let raw: string;
    try {
      raw = await readBody(req);
    } catch {
      return send(res, tomtomError(413, 'PayloadTooLarge', 'The request body is too large.'));
    }
    if (url.pathname === ADMIN_PREFIX || url.pathname.startsWith(`${ADMIN_PREFIX}/`)) {
      const response = await handleAdmin(
        { log, jobs, faults, keys, verifier, realNow },
        method,
        url,
        raw,
        req.socket.remoteAddress,
      );
      if (method !== 'GET' && response.status < 300) await stateChanged();
      return send(res, response);
    }

    const done = log.begin();
    try {
      await answerAndSend(req, res, method, url, raw);
    } finally {
      done();
    }
  }

  async function answerAndSend(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    url: URL,
    raw: string,
  ): Promise<void> {
    const matched = matchRoute(method, url.pathname);
    let routeKey = 'unknown';
    let result: { response: SimResponse; subject?: string; faultId?: number; drop?: boolean };
    if (matched.kind === 'not-found') {
      result = { response: tomtomError(404, 'NotFound', 'Resource not found.') };
    } else if (matched.kind === 'method-not-allowed') {
      routeKey = matched.key;
      result = {
        response: {
          ...tomtomError(405, 'MethodNotAllowed', `Method ${method} is not allowed here.`),
          headers: { allow: matched.allow.join(', ') },
        },
      };
    } else {
      routeKey = matched.route.key;
      try {
        result = await answer(matched.route, req, url, raw);
        if (matched.route.name === 'createJob' && result.response.status < 300) await stateChanged();
      } catch (e) {
        // Log the message only: errors here never carry request headers.
        console.error(`[gem-simulator] ${routeKey} failed: ${e instanceof Error ? e.message : String(e)}`);
        result = {
          response: tomtomError(
            500,
            'InternalServerError',
            'The server encountered an internal error. Please retry the request.',
          ),
        };
      }
    }
    log.record({
      time: new Date(realNow()).toISOString(),
      virtualTime: isoMicros(clock.now()),
      method,
      path: req.url ?? '/',
      route: routeKey,
      status: result.response.status,
      credential: credentialKind({
        apiKey: header(req, 'tomtom-api-key'),
        authorization: header(req, 'authorization'),
        vaultToken: header(req, 'x-vault-token'),
      }),
      apiKey: header(req, 'tomtom-api-key'),
      ...(result.subject ? { subject: result.subject } : {}),
      ...(result.faultId !== undefined ? { faultId: result.faultId } : {}),
    });
    // The request ran (its effects stay), but the caller never sees an answer: a network error for it.
    if (result.drop) return void req.socket.destroy();
    send(res, result.response);
  }

  return {
    handle,
    jobs,
    faults,
    keys,
    log,
    snapshot,
    async close() {
      await jobs.close();
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, r: SimResponse): void {
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  let payload = '';
  if (r.body !== undefined && r.status !== 204) {
    if (typeof r.body === 'string') {
      headers['content-type'] ??= 'text/plain; charset=utf-8';
      payload = r.body;
    } else {
      headers['content-type'] ??= 'application/json; charset=utf-8';
      payload = stringify(r.body);
    }
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(r.status, headers);
  res.end(payload);
}

export async function startSimulatorServer(
  options: SimulatorOptions,
  overrides: SimulatorOverrides = {},
): Promise<SimulatorHandle> {
  const sim = createSimulator(options, overrides);
  const server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    sim.handle(req, res).catch((e: unknown) => {
      console.error(`[gem-simulator] unhandled: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `https://127.0.0.1:${port}`;
  return {
    url,
    adminUrl: `${url}${ADMIN_PREFIX}`,
    snapshot: sim.snapshot,
    async close() {
      await sim.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
