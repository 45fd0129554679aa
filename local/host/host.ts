/**
 * The local Functions host: loads an app exactly as the worker does (core-module shim, then the package.json
 * `main` entry), and serves its triggers — HTTP (with keys), timers on a virtual clock, Event Grid (the
 * extension's webhook, plus a stand-in for Storage's system topic and the subscriptions it is given) and, when
 * the app has durable functions, the durable engine and its HTTP API. Generic: it knows Azure Functions, Event
 * Grid and Durable, not the app it loads. Blob triggers are not run: the app is expected to use an Event Grid
 * trigger on BlobCreated instead, which never downloads the blob (the blob trigger does, into host and worker).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import globby from 'globby';
import { type Clock, clockFromEnv } from './clock.js';
import { resolveStorageConnection } from './connections.js';
import {
  coreState,
  type InvocationLogLine,
  installCoreShim,
  runAppHooks,
  setSystemLog,
  triggerBinding,
} from './core.js';
import type { DurableEngine, DurableEngineOptions } from './durable/index.js';
import { type EventGridTriggers, startEventGridTriggers } from './eventgrid.js';
import {
  type EventGridPublisher,
  type EventGridSubscription,
  startEventGridPublisher,
  subscriptionsFromSetting,
} from './eventgridPublisher.js';
import {
  type BodyReader,
  BodyTooLargeError,
  bodyReader,
  collectHttpRoutes,
  dispatchHttp,
  extensionKeyName,
  findRoute,
  type HostKeys,
  type HttpFunctionRoute,
  keyMatches,
  loadOrCreateKeys,
  presentedKey,
  refuseUnread,
} from './http.js';
import { decodeRequestPath, NODE_MAX_HEADER_SIZE, requestHeadRefusal, requestUrl } from './request.js';
import { type HostJson, readHostJson, resolveSettingReferences, UnresolvedSettingError } from './settings.js';
import { compileSchedule, startTimerTriggers, type TimerTriggers } from './timers.js';

export interface HostOptions {
  /** Directory with the app's package.json (whose `main` is the entry) and host.json. */
  appRoot: string;
  /** Default: 7071, or the next free port after it. An explicit port must be free (0 = any free port). */
  port?: number;
  /** App settings applied to process.env before the app loads (the host's environment is the app's). */
  env?: Record<string, string>;
  /** Where keys are kept so restarts keep them; default `<stateDir>/keys.json`, or memory without stateDir. */
  keysFile?: string;
  /** Where timer status and Event Grid receipts are persisted; default: memory only. */
  stateDir?: string;
  /** Largest accepted request body; default FUNCTIONS_REQUEST_BODY_SIZE_LIMIT or 100 MB, as in Azure. */
  maxRequestBodyBytes?: number;
  /**
   * The local Event Grid: `subscriptions` default to the LOCAL_EVENTGRID_SUBSCRIPTIONS setting (a JSON array),
   * `watch` to the LOCAL_BLOB_WATCH setting (anything but "false" publishes new blobs).
   */
  eventGrid?: { watch?: boolean; pollIntervalMs?: number; subscriptions?: EventGridSubscription[] };
  log?: (line: string) => void;
}

export interface HostedFunction {
  name: string;
  /** The trigger binding type, e.g. httpTrigger, timerTrigger, eventGridTrigger, orchestrationTrigger. */
  trigger: string;
}

export interface RunningHost {
  baseUrl: string;
  port: number;
  keys: HostKeys;
  /** Every function the app registered, those disabled at indexing included (as the host lists them). */
  functions: HostedFunction[];
  /** Functions that failed indexing and are disabled, with the host's error text; the others run. */
  functionErrors: Record<string, string[]>;
  clock: Clock;
  /** The local Event Grid (watcher + deliveries); tests await its scans and deliveries. */
  eventGrid: EventGridPublisher;
  close(): Promise<void>;
}

export type { DurableEngine, DurableEngineOptions };

const DURABLE_BINDING_TYPES = [
  'orchestrationtrigger',
  'activitytrigger',
  'entitytrigger',
  'durableclient',
  'orchestrationclient',
];
const DEFAULT_BODY_LIMIT = 100 * 1024 * 1024;

/** The app loaded into this process; `require` caches it, so a process hosts one app. */
let loadedApp: string | undefined;

/** What the host knows before the app loads: its settings, keys, port and shutdown sequence. */
interface HostState {
  options: HostOptions;
  env: NodeJS.ProcessEnv;
  appRoot: string;
  log: (line: string) => void;
  invocationLog: (line: InvocationLogLine) => void;
  clock: Clock;
  bodyLimit: number;
  keys: HostKeys;
  port: number;
  baseUrl: string;
  shutdown: ShutdownSequence;
}

/** The loaded app, as indexing left it, and the Event Grid subscriptions it is given. */
interface LoadedApp {
  hostJson: HostJson;
  functions: HostedFunction[];
  functionErrors: Record<string, string[]>;
  subscriptions: EventGridSubscription[];
}

/** The trigger services serving the app's functions. */
interface StartedTriggers {
  routes: HttpFunctionRoute[];
  timers: TimerTriggers;
  eventGrid: EventGridTriggers;
  engine: DurableEngine | undefined;
}

/** Everything a request may reach once the host is ready. */
interface ServingHost {
  host: HostState;
  app: LoadedApp;
  triggers: StartedTriggers;
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const startedAt = Date.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const invocationLog = (line: InvocationLogLine) => {
    if (line.level !== 'debug' && line.level !== 'trace') log(`[${line.functionName}] ${line.message}`);
  };
  Object.assign(process.env, options.env ?? {});
  const env = process.env;
  const appRoot = resolve(options.appRoot);
  const clock = clockFromEnv(env);
  const bodyLimit =
    options.maxRequestBodyBytes ?? (Number(env.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT) || DEFAULT_BODY_LIMIT);
  const keys = await loadOrCreateKeys(
    options.keysFile ?? (options.stateDir && join(options.stateDir, 'keys.json')),
  );
  const listener = await listenFirst(options.port, log);
  const { port } = listener;
  const baseUrl = `http://localhost:${port}`;
  const shutdown = new ShutdownSequence(log);
  const host: HostState = {
    options,
    env,
    appRoot,
    log,
    invocationLog,
    clock,
    bodyLimit,
    keys,
    port,
    baseUrl,
    shutdown,
  };
  shutdown.add(() => closeServer(listener.server));

  try {
    const app = await loadAndIndexApp(host);
    const triggers = await startTriggers(host, app);
    listener.serve((req, res) => routeRequest({ host, app, triggers }, req, res));
    for (const [name, errors] of Object.entries(app.functionErrors)) {
      log(`The '${name}' function is in error: ${errors.join(' ')}`);
    }
    const eventGrid = await startEventGrid(host, app);
    log(
      `Functions host ready in ${Date.now() - startedAt} ms: ${app.functions.length} function(s), ` +
        `time scale ${clock.scale}${triggers.engine ? ', durable engine running' : ''}.`,
    );
    const { functions, functionErrors } = app;
    return { baseUrl, port, keys, functions, functionErrors, clock, eventGrid, close: () => shutdown.run() };
  } catch (error) {
    await shutdown.run();
    throw error;
  }
}

/**
 * The host's shutdown, run in the order added: stop accepting HTTP first (nothing new reaches the app), then
 * the triggers (waiting for their runs), then the durable engine those runs may still call, and appTerminate
 * last. A step that fails is logged and the next one still runs.
 */
class ShutdownSequence {
  readonly #steps: (() => Promise<void>)[] = [];
  readonly #log: (line: string) => void;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  add(step: () => Promise<void>): void {
    this.#steps.push(step);
  }

  /** For what must stop before everything else. */
  addFirst(step: () => Promise<void>): void {
    this.#steps.unshift(step);
  }

  async run(): Promise<void> {
    for (const stop of this.#steps.splice(0)) {
      await stop().catch((error: unknown) => this.#log(`Error while stopping: ${(error as Error).message}`));
    }
  }
}

/**
 * Listens first, answering 503 until `serve` gives the host's handler: the port must be known before the app
 * runs (WEBSITE_HOSTNAME). A handler's failure is answered here: 413 for a body over the limit, else 500.
 */
async function listenFirst(
  port: number | undefined,
  log: (line: string) => void,
): Promise<{ server: Server; port: number; serve(handler: RequestHandler): void }> {
  let handler: RequestHandler | undefined;
  const server = createServer({ maxHeaderSize: NODE_MAX_HEADER_SIZE }, (req, res) => {
    if (!handler) {
      res.writeHead(503, { 'retry-after': '1' }).end('The Functions host is starting.');
      return;
    }
    handler(req, res).catch((error: unknown) => {
      if (error instanceof BodyTooLargeError && !res.headersSent) {
        // The rest of the body is not read: the connection closes after the answer (refuseUnread).
        refuseUnread(res, 413, error.message);
        return;
      }
      log(`Request ${req.method} ${req.url} failed in the host: ${(error as Error)?.stack ?? String(error)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  return {
    server,
    port: await listen(server, port),
    serve: (ready) => {
      handler = ready;
    },
  };
}

/** Loads the app into this process and indexes it: a function whose binding cannot be resolved is disabled. */
async function loadAndIndexApp(host: HostState): Promise<LoadedApp> {
  const { env, log, options } = host;
  env.WEBSITE_HOSTNAME = `localhost:${host.port}`;
  setSystemLog((level, category, message) => {
    if (level !== 'debug' && level !== 'trace') log(`[${category}] ${message}`);
  });
  installCoreShim();
  await loadApp(host.appRoot);
  const hostJson = await readHostJson(host.appRoot, env);
  const functions = [...coreState.registrations.values()].map((r) => ({
    name: r.metadata.name,
    trigger: triggerBinding(r).type,
  }));
  warnAboutOutputBindings(log);
  warnAboutBlobTriggers(log);
  const subscriptions =
    options.eventGrid?.subscriptions ?? subscriptionsFromSetting(env.LOCAL_EVENTGRID_SUBSCRIPTIONS);
  // Index before anything starts: a function whose binding cannot be resolved is disabled, the rest run.
  const functionErrors = indexFunctions(env, log);
  host.shutdown.add(disableFunctions(Object.keys(functionErrors)));
  return { hostJson, functions, functionErrors, subscriptions };
}

/**
 * Starts the trigger services, validating everything that can fail before anything runs (routes, schedules),
 * then the durable engine when the app has durable functions, then the app's `appStart` hooks.
 */
async function startTriggers(host: HostState, app: LoadedApp): Promise<StartedTriggers> {
  const { options, env, log, invocationLog, clock, keys, shutdown } = host;
  const routes = collectHttpRoutes(app.hostJson.routePrefix);
  const eventGrid = startEventGridTriggers({ keys, log, invocationLog });

  // The durable engine (and with it the durableClient binding) comes before any listener that can run a
  // function by itself: a timer past due runs at once, and it must find its client binding. The real host
  // likewise initialises every extension before it starts the listeners (ScriptHost.StartAsyncCore in
  // azure-functions-host: InitializeAsync, then the JobHost's start).
  let engine: DurableEngine | undefined;
  if (needsDurable()) {
    const { durable } = app.hostJson;
    engine = await loadDurableEngine({
      taskHub: durable.hubName,
      // The task hub's storage, by connection string or identity-based settings, as the extension resolves it.
      storage: resolveStorageConnection(env, durable.connectionName, 'The durable task hub'),
      publicBaseUrl: host.baseUrl,
      systemKey: keys.systemKey,
      masterKey: keys.masterKey,
      clock,
      maxConcurrentActivityFunctions: durable.maxConcurrentActivityFunctions,
      maxConcurrentOrchestratorFunctions: durable.maxConcurrentOrchestratorFunctions,
      maxRequestBodyBytes: host.bodyLimit,
      log,
    });
  }
  const timers = await startTimerTriggers({
    clock,
    env,
    statusFile: options.stateDir && join(options.stateDir, 'timers.json'),
    log,
    invocationLog,
  }).catch(async (error: unknown) => {
    await engine?.close();
    throw error;
  });
  // Steps run in the order added: the timers stop (waiting for their runs) before the engine those runs call.
  shutdown.add(() => timers.close());
  const started = engine;
  if (started) shutdown.add(() => started.close());

  await runAppHooks('appStart');
  shutdown.add(() => runAppHooks('appTerminate'));
  return { routes, timers, eventGrid, engine };
}

/**
 * Event Grid validates a subscription's webhook when it is created, so the stand-in starts once the host
 * answers. It stops first: a delivery under way finishes (or is left without a receipt) before HTTP closes.
 */
async function startEventGrid(host: HostState, app: LoadedApp): Promise<EventGridPublisher> {
  const { options, env } = host;
  const eventGrid = await startEventGridPublisher({
    subscriptions: app.subscriptions,
    env,
    webhook: { baseUrl: host.baseUrl, key: host.keys.systemKeys[extensionKeyName('eventgrid')]! },
    clock: host.clock,
    stateDir: options.stateDir,
    // LOCAL_BLOB_WATCH=false: only events posted to the webhook are delivered (tests that post their own).
    watch: options.eventGrid?.watch ?? env.LOCAL_BLOB_WATCH?.trim().toLowerCase() !== 'false',
    pollIntervalMs: options.eventGrid?.pollIntervalMs,
    log: host.log,
  });
  host.shutdown.addFirst(() => eventGrid.close());
  return eventGrid;
}

/**
 * One request, routed as the host routes it: Kestrel's refusals first, before any routing, key check or body
 * read (request.ts); then the root page, the admin API, the Event Grid and durable webhooks, the HTTP functions.
 */
async function routeRequest(serving: ServingHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { host, triggers } = serving;
  const refusal = requestHeadRefusal(req);
  const url = refusal ? null : requestUrl(req, `localhost:${host.port}`);
  const path = url && decodeRequestPath(url.pathname);
  if (refusal || !url || path === null) {
    const message = refusal?.message ?? 'The request target or Host header is malformed.';
    refuseUnread(res, refusal?.status ?? 400, message);
    return;
  }
  // Read only once a handler has checked the key; BodyTooLargeError becomes the 413 of listenFirst.
  const body = bodyReader(req, host.bodyLimit);
  const lower = url.pathname.toLowerCase();
  if (url.pathname === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
    res
      .writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
      .end('Your Functions host is running.\n');
    return;
  }
  if (lower.startsWith('/admin/')) {
    await handleAdmin(serving, req, res, url, body);
    return;
  }
  if (await triggers.eventGrid.handleHttp(req, res, url, body)) return;
  if (lower.startsWith('/runtime/webhooks/durabletask')) {
    if (triggers.engine && (await triggers.engine.handleHttp(req, res, url, body))) return;
    refuseUnread(res, 404);
    return;
  }
  const matched = findRoute(triggers.routes, path, (req.method ?? 'GET').toUpperCase());
  if (!matched) {
    refuseUnread(res, 404);
    return;
  }
  const { keys, log, invocationLog } = host;
  await dispatchHttp(req, res, url, body, matched, { keys, log, invocationLog });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(value));
}

/** The host's admin API (master key): host status, the function list, a function's status, "Run now". */
async function handleAdmin(
  serving: ServingHost,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: BodyReader,
): Promise<void> {
  const { host, app, triggers } = serving;
  if (!keyMatches(presentedKey(req, url), host.keys.masterKey)) {
    refuseUnread(res, 401);
    return;
  }
  const lower = url.pathname.toLowerCase().replace(/\/+$/, '');
  if (lower === '/admin/host/status' && req.method === 'GET') {
    sendJson(res, 200, {
      id: host.env.WEBSITE_SITE_NAME ?? 'localhost',
      state: 'Running',
      version: '4.0.0-local',
      processUptime: Math.round(process.uptime() * 1000),
      functions: app.functions.map((f) => f.name),
      // Local addition: the durable engine's activity concurrency gauge, for load tests.
      ...(triggers.engine ? { durable: triggers.engine.stats() } : {}),
    });
    return;
  }
  if (lower === '/admin/functions' && req.method === 'GET') {
    sendJson(res, 200, app.functions);
    return;
  }
  // The host's FunctionsController.GetFunctionStatus: {} for a healthy function, its indexing errors otherwise.
  const status = /^\/admin\/functions\/([^/]+)\/status$/.exec(lower);
  if (status && req.method === 'GET') {
    const name = app.functions.find((f) => f.name.toLowerCase() === decodeRequestPath(status[1]!))?.name;
    if (!name) res.writeHead(404).end();
    else sendJson(res, 200, app.functionErrors[name] ? { errors: app.functionErrors[name] } : {});
    return;
  }
  const run = /^\/admin\/functions\/([^/]+)$/.exec(url.pathname);
  if (run && req.method === 'POST') {
    await runFunctionNow(serving, res, decodeRequestPath(run[1]!) ?? '', body);
    return;
  }
  res.writeHead(404).end();
}

/** "Execute Function Now" for non-HTTP functions: POST /admin/functions/<name> {"input": "..."}. */
async function runFunctionNow(
  { host, triggers }: ServingHost,
  res: ServerResponse,
  name: string,
  body: BodyReader,
): Promise<void> {
  const bytes = await body();
  let input: string | undefined;
  try {
    const parsed = bytes.length ? (JSON.parse(bytes.toString('utf8')) as { input?: unknown }) : undefined;
    input = typeof parsed?.input === 'string' ? parsed.input : undefined;
  } catch {
    sendJson(res, 400, { error: 'The body is not valid JSON; send {"input": "..."} or no body.' });
    return;
  }
  if (triggers.timers.has(name))
    void triggers.timers.runNow(name).catch((e: Error) => host.log(`Run of '${name}' failed: ${e.message}`));
  else if (triggers.eventGrid.has(name) && input) await triggers.eventGrid.runNow(name, input);
  else {
    sendJson(res, 404, {
      error: `No timer or Event Grid function '${name}' (Event Grid functions need {"input":"<event JSON>"}).`,
    });
    return;
  }
  res.writeHead(202).end();
}

/**
 * Loads the app as the Node worker does (azure-functions-nodejs-worker src/startApp.ts loadEntryPointFile):
 * package.json `main` is a glob pattern, matched with the worker's own globby (11) relative to the app root, and
 * every file it matches is loaded, in the order globby returns them. No match fails the app ("File does not
 * exist", or "Found zero files matching the supplied pattern" for a pattern with magic), as does a file that
 * throws while loading ("Worker was unable to load entry point …", which blocks the app from Node 20 on).
 */
async function loadApp(appRoot: string): Promise<void> {
  const packageFile = join(appRoot, 'package.json');
  if (!existsSync(packageFile)) {
    throw new Error(`No package.json in ${appRoot}; --app must be the function app's root directory.`);
  }
  const pattern = (JSON.parse(readFileSync(packageFile, 'utf8')) as { main?: string }).main ?? 'index.js';
  const app = `${resolve(appRoot)} (main "${pattern}")`;
  if (loadedApp !== undefined) {
    if (loadedApp === app) return; // already registered in this process (a restart of the same app)
    throw new Error(`This process already hosts ${loadedApp}; start another process to host ${app}.`);
  }
  const files = await globby(pattern, { cwd: appRoot });
  if (files.length === 0) {
    const reason = globby.hasMagic(pattern, { cwd: appRoot })
      ? 'Found zero files matching the supplied pattern'
      : 'File does not exist';
    throw new Error(
      `Worker was unable to load entry point "${pattern}": ${reason} (in ${resolve(appRoot)}); ` +
        'build the app first (e.g. npm run build) or fix package.json "main".',
    );
  }
  for (const file of files) {
    const entry = join(appRoot, file);
    try {
      createRequire(entry)(entry);
    } catch (error) {
      const cause = error as Error;
      throw new Error(`Worker was unable to load entry point "${file}": ${cause?.message ?? String(cause)}`, {
        cause,
      });
    }
  }
  loadedApp = app;
  if (coreState.registrations.size === 0) {
    throw new Error(
      `The app ${app} registered no functions; it must call app.* / df.app.* from @azure/functions (v4 model).`,
    );
  }
}

/** Trigger properties the host resolves `%NAME%` in (the WebJobs attributes' [AutoResolve] / [AppSetting] ones). */
const RESOLVED_TRIGGER_PROPERTIES = ['path', 'connection', 'queueName', 'topicName', 'subscriptionName'];

/**
 * The indexing step of the real host, for what the local host can check: binding expressions resolve and timer
 * schedules parse. A function that fails is disabled with the host's own messages
 * (Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Indexers/FunctionIndexer.cs logs "failed indexing
 * and will be disabled" and goes on; Azure/azure-functions-host src/WebJobs.Script/ScriptHostBuilderExtensions.cs
 * sets AllowPartialHostStartup, and ScriptHost.cs keeps the flattened error per function).
 */
function indexFunctions(env: NodeJS.ProcessEnv, log: (line: string) => void): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  for (const registration of coreState.registrations.values()) {
    const name = registration.metadata.name;
    const trigger = triggerBinding(registration);
    try {
      if (trigger.type.toLowerCase() === 'timertrigger') compileSchedule(name, trigger.schedule, env);
      for (const property of RESOLVED_TRIGGER_PROPERTIES) {
        const value = trigger[property];
        if (typeof value === 'string') resolveSettingReferences(value, env, `the ${property} of "${name}"`);
      }
    } catch (error) {
      // Utility.FlattenException's shape: "<source>: <message>." for the indexing exception and its cause.
      const source =
        error instanceof UnresolvedSettingError ? HOST_SOURCE : 'Microsoft.Azure.WebJobs.Extensions';
      const cause = (error as Error).message.replace(/\.?$/, '.');
      errors[name] = [`${HOST_SOURCE}: Error indexing method 'Functions.${name}'. ${source}: ${cause}`];
      const remedy = error instanceof UnresolvedSettingError ? ` ${error.remedy}` : '';
      log(`Function 'Functions.${name}' failed indexing and will be disabled.${remedy}`);
    }
  }
  return errors;
}

const HOST_SOURCE = 'Microsoft.Azure.WebJobs.Host';

/**
 * Takes disabled functions out of the registrations the trigger services start from (nothing can invoke them),
 * and puts them back when the host stops: the app is loaded once per process and a later host may index again.
 */
function disableFunctions(names: string[]): () => Promise<void> {
  const removed = names.map((name) => coreState.registrations.get(name)!);
  for (const name of names) coreState.registrations.delete(name);
  return async () => {
    for (const registration of removed) coreState.registrations.set(registration.metadata.name, registration);
  };
}

function needsDurable(): boolean {
  return [...coreState.registrations.values()].some((r) =>
    Object.values(r.metadata.bindings).some((b) => DURABLE_BINDING_TYPES.includes(b.type.toLowerCase())),
  );
}

function warnAboutBlobTriggers(log: (line: string) => void): void {
  for (const r of coreState.registrations.values()) {
    if (triggerBinding(r).type.toLowerCase() !== 'blobtrigger') continue;
    log(
      `Warning: blob function '${r.metadata.name}' is not run by the local host; use an Event Grid trigger ` +
        '(app.eventGrid) on Microsoft.Storage.BlobCreated with a LOCAL_EVENTGRID_SUBSCRIPTIONS entry instead.',
    );
  }
}

function warnAboutOutputBindings(log: (line: string) => void): void {
  for (const r of coreState.registrations.values()) {
    for (const b of Object.values(r.metadata.bindings)) {
      if (b.direction === 'out' && b.type.toLowerCase() !== 'http') {
        log(
          `Warning: the ${b.type} output binding of '${r.metadata.name}' is not written by the local host.`,
        );
      }
    }
  }
}

async function loadDurableEngine(options: DurableEngineOptions): Promise<DurableEngine> {
  // Loaded on demand: apps without durable functions never load the engine.
  const { startDurableEngine } = await import('./durable/index.js');
  return startDurableEngine(options);
}

async function listen(server: Server, port: number | undefined): Promise<number> {
  const tryPort = (p: number) =>
    new Promise<number>((resolvePort, reject) => {
      const onError = (error: Error) => {
        server.off('listening', onListening);
        reject(error);
      };
      const onListening = () => {
        server.off('error', onError);
        resolvePort((server.address() as AddressInfo).port);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(p, '127.0.0.1');
    });
  if (port !== undefined) {
    try {
      return await tryPort(port);
    } catch (error) {
      throw new Error(`Cannot listen on port ${port}: ${(error as Error).message}. Choose another --port.`);
    }
  }
  for (let p = 7071; p < 7071 + 50; p++) {
    try {
      return await tryPort(p);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error('Ports 7071-7120 are all in use; pass an explicit port.');
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolveClose) => {
    server.close(() => resolveClose());
    server.closeAllConnections();
  });
}
