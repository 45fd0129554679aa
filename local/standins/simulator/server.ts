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
import { credentialKind, RequestLog } from './requestLog.js';
import { badRequest, type SimResponse, stringify, tomtomError } from './responses.js';
import { type MatchedRoute, matchRoute } from './router.js';
import type { SimulatorState } from './state.js';
import type { SimulatorHandle, SimulatorOptions, StorageConfig } from './types.js';
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

/** Everything one simulator's requests share: its stores, its credentials and its clocks. */
interface SimulatorParts {
  clock: SimulatorOptions['clock'];
  /** Wall clock for bearer-token lifetimes and log entries. */
  realNow: () => number;
  storages: Map<string, StorageConfig>;
  keys: KeyRegistry;
  verifier: ReturnType<typeof createBearerVerifier>;
  wrapped: WrappedTokenStore;
  faults: FaultStore;
  log: RequestLog;
  jobs: JobStore;
  pdg: PdgDeps;
  /** Saves the state after a change; reports a failure rather than throwing it. */
  stateChanged(): Promise<void>;
}

/** One request with its body read. */
interface Incoming {
  req: IncomingMessage;
  method: string;
  url: URL;
  raw: string;
}

/** A TomTom/Vault request's answer, who asked (token oid), the fault that shaped it, and whether to drop it. */
interface Answer {
  response: SimResponse;
  subject?: string;
  faultId?: number;
  drop?: boolean;
}

export function createSimulator(options: SimulatorOptions, overrides: SimulatorOverrides = {}) {
  const sim = simulatorParts(options, overrides);
  return {
    handle: (req: IncomingMessage, res: ServerResponse) => handleRequest(sim, req, res),
    jobs: sim.jobs,
    faults: sim.faults,
    keys: sim.keys,
    log: sim.log,
    snapshot: (): SimulatorState => ({
      ...sim.jobs.snapshot(),
      apiKeys: sim.keys.list(),
      requests: sim.log.snapshotCounts(),
    }),
    async close() {
      await sim.jobs.close();
    },
  };
}

/** Builds the stores from the options, restoring the saved state when there is one. */
function simulatorParts(options: SimulatorOptions, overrides: SimulatorOverrides): SimulatorParts {
  const { clock } = options;
  const storages = new Map(options.storages.map((s) => [s.id, s]));
  const blobs = overrides.blobs ?? new AzureBlobStore(options.storages);
  const wrapped = new WrappedTokenStore(overrides.wrappedTokenTtlMs);
  const log = new RequestLog();
  const jobs = new JobStore({
    clock,
    blobs,
    durations: options.jobDurations,
    limits: options.jobLimits,
    schedule: overrides.schedule,
    random: overrides.random,
  });
  if (options.restore) {
    jobs.restore(options.restore);
    log.restoreCounts(options.restore.requests);
  }
  return {
    clock,
    realNow: overrides.realNow ?? Date.now,
    storages,
    keys: new KeyRegistry(options.restore?.apiKeys ?? options.apiKeys),
    verifier: createBearerVerifier(options.jwks as JSONWebKeySet, options.gemAudience),
    wrapped,
    faults: new FaultStore(overrides.random),
    log,
    jobs,
    pdg: {
      storages,
      blobs,
      wrapped,
      createdAt: new Date(Math.floor(clock.now())).toISOString(),
      now: () => clock.now(),
    },
    stateChanged: () => reportStateChange(options.onStateChange),
  };
}

async function reportStateChange(onStateChange: (() => Promise<void>) | undefined): Promise<void> {
  try {
    await onStateChange?.();
  } catch (e) {
    // The change stands in memory; say loudly that a restart would lose it.
    console.error(`[gem-simulator] could not save its state: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** One request: the admin API, or a TomTom/Vault request (counted while it runs). */
async function handleRequest(sim: SimulatorParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const url = new URL(req.url ?? '/', 'https://127.0.0.1');
  let raw: string;
  try {
    raw = await readBody(req);
  } catch {
    return send(res, tomtomError(413, 'PayloadTooLarge', 'The request body is too large.'));
  }
  if (url.pathname === ADMIN_PREFIX || url.pathname.startsWith(`${ADMIN_PREFIX}/`)) {
    const response = await handleAdmin(sim, method, url, raw, req.socket.remoteAddress);
    if (method !== 'GET' && response.status < 300) await sim.stateChanged();
    return send(res, response);
  }

  const done = sim.log.begin();
  try {
    const { routeKey, answer } = await routeAndAnswer(sim, { req, method, url, raw });
    recordRequest(sim, req, method, routeKey, answer);
    // The request ran (its effects stay), but the caller never sees an answer: a network error for it.
    if (answer.drop) return void req.socket.destroy();
    send(res, answer.response);
  } finally {
    done();
  }
}

/** Routes a TomTom/Vault request and answers it: 404/405 from the route table, else faults, auth, handler. */
async function routeAndAnswer(
  sim: SimulatorParts,
  incoming: Incoming,
): Promise<{ routeKey: string; answer: Answer }> {
  const { method } = incoming;
  const matched = matchRoute(method, incoming.url.pathname);
  if (matched.kind === 'not-found') {
    return { routeKey: 'unknown', answer: { response: tomtomError(404, 'NotFound', 'Resource not found.') } };
  }
  if (matched.kind === 'method-not-allowed') {
    const response = {
      ...tomtomError(405, 'MethodNotAllowed', `Method ${method} is not allowed here.`),
      headers: { allow: matched.allow.join(', ') },
    };
    return { routeKey: matched.key, answer: { response } };
  }
  const routeKey = matched.route.key;
  try {
    const answer = await applyFaults(sim, matched.route, incoming);
    if (matched.route.name === 'createJob' && answer.response.status < 300) await sim.stateChanged();
    return { routeKey, answer };
  } catch (e) {
    // Log the message only: errors here never carry request headers.
    console.error(`[gem-simulator] ${routeKey} failed: ${e instanceof Error ? e.message : String(e)}`);
    const response = tomtomError(
      500,
      'InternalServerError',
      'The server encountered an internal error. Please retry the request.',
    );
    return { routeKey, answer: { response } };
  }
}

/** The request log entry: route, status, which kind of credential, the caller, the fault and any refusal. */
function recordRequest(
  sim: SimulatorParts,
  req: IncomingMessage,
  method: string,
  routeKey: string,
  answer: Answer,
): void {
  sim.log.record({
    time: new Date(sim.realNow()).toISOString(),
    virtualTime: isoMicros(sim.clock.now()),
    method,
    path: req.url ?? '/',
    route: routeKey,
    status: answer.response.status,
    credential: credentialKind({
      apiKey: header(req, 'tomtom-api-key'),
      authorization: header(req, 'authorization'),
      vaultToken: header(req, 'x-vault-token'),
    }),
    apiKey: header(req, 'tomtom-api-key'),
    ...(answer.subject ? { subject: answer.subject } : {}),
    ...(answer.faultId !== undefined ? { faultId: answer.faultId } : {}),
    ...(answer.response.refusal ? { refusal: answer.response.refusal } : {}),
  });
}

/** A matching fault rule first (latency, a canned response, a dropped connection), then the real answer. */
async function applyFaults(sim: SimulatorParts, route: MatchedRoute, incoming: Incoming): Promise<Answer> {
  const fault = sim.faults.match(route.key, incoming.method);
  if (fault && fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
  const drop = fault?.rule.afterHandler === 'drop-connection';
  if (fault?.response) return { response: fault.response, faultId: fault.rule.id, drop };
  const faultId = fault?.rule.id;
  if (route.name === 'unwrap') return { ...answerVault(sim, incoming), faultId, drop };
  return { ...(await authorizeAndDispatch(sim, route, incoming)), faultId, drop };
}

/** Vault's unwrap: the wrapping token is the only credential. */
function answerVault(sim: SimulatorParts, { req, raw }: Incoming): Answer {
  return {
    response: handleUnwrap(sim.wrapped, sim.storages, header(req, 'x-vault-token'), raw, sim.clock.now()),
  };
}

/** TomTom's checks in order (API key, bearer token, key's product, X-Version), then the route's handler. */
async function authorizeAndDispatch(
  sim: SimulatorParts,
  route: MatchedRoute,
  incoming: Incoming,
): Promise<Answer> {
  const { req } = incoming;
  const keyCheck = checkApiKey(sim.keys, header(req, 'tomtom-api-key'), route.product!);
  if (keyCheck?.status === 401) return { response: keyCheck };
  const bearer = await sim.verifier.verify(header(req, 'authorization'), sim.realNow());
  if (!bearer.ok) return { response: bearer.response };
  const subject = bearer.caller.oid;
  if (keyCheck) return { response: keyCheck, subject };
  const version = header(req, 'x-version');
  if (version !== undefined && version.trim() !== '1') {
    return {
      response: badRequest(`Unsupported X-Version '${version}'; the supported version is 1.`, [
        { field: 'X-Version', reason: 'must be 1' },
      ]),
      subject,
    };
  }
  return { response: await dispatchTomTom(sim, route, bearer.caller, incoming), subject };
}

/** The PDG (storages, credentials) and GEM (jobs) handlers. */
async function dispatchTomTom(
  sim: SimulatorParts,
  route: MatchedRoute,
  caller: Caller,
  { req, url, raw }: Incoming,
): Promise<SimResponse> {
  const { storageId = '', jobId = '' } = route.params;
  switch (route.name) {
    case 'listStorages':
      return listStorages(sim.pdg, caller);
    case 'getStorage':
      return getStorage(sim.pdg, storageId, caller);
    case 'getCredentials':
      return getCredentials(sim.pdg, storageId, url.searchParams.get('type'), route.pdgVariant!, caller);
    case 'createJob':
      return createJob(sim.jobs, sim.pdg, caller, req.headers['content-type'], raw);
    case 'listJobs':
      return listJobs(sim.jobs, caller, url.searchParams.get('job_type'));
    case 'getJob':
      return getJob(sim.jobs, caller, jobId);
    case 'unwrap':
      throw new Error('unwrap is not a TomTom route');
  }
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
