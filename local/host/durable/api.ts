/**
 * The Durable HTTP API (the extension's HttpApiHandler), served under `/runtime/webhooks/durabletask/` (system
 * key required) and on the loopback rpc listener under `/durabletask/` (no auth, like LocalHttpListener).
 * Shapes and status codes follow the extension so the unmodified `DurableClient` works in both URL modes.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DurableEngineCore, OrchestrationError } from './engine.js';
import { EventType, eventTypeName, type HistoryEvent } from './history.js';
import { type InstanceRecord, PayloadTooLargeError, type RuntimeStatus, TERMINAL } from './store.js';

export const WEBHOOK_PATH = '/runtime/webhooks/durabletask';
const CONNECTION_NAME = 'Storage';

export interface ApiOptions {
  taskHub: string;
  publicBaseUrl: string;
  systemKey: string;
  /** Page size of `GET instances` without `top` (the extension's default is 100). */
  defaultPageSize: number;
  /** Where unexpected failures are logged with their stack (the response carries no stack). */
  log: (line: string) => void;
}

export interface ManagementUrls {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  rewindPostUri: string;
  purgeHistoryDeleteUri: string;
  restartPostUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

export interface ClientBindingData {
  taskHubName: string;
  creationUrls: { createNewInstancePostUri: string; createAndWaitOnNewInstancePostUri: string };
  managementUrls: ManagementUrls;
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl?: string;
}

export class DurableApi {
  readonly #engine: DurableEngineCore;
  readonly #options: ApiOptions;
  readonly #base: string;

  constructor(engine: DurableEngineCore, options: ApiOptions) {
    this.#engine = engine;
    this.#options = options;
    this.#base = `${options.publicBaseUrl.replace(/\/+$/, '')}${WEBHOOK_PATH}`;
  }

  #query(): string {
    const { taskHub, systemKey } = this.#options;
    return `taskHub=${encodeURIComponent(taskHub)}&connection=${CONNECTION_NAME}&code=${encodeURIComponent(systemKey)}`;
  }

  /** As BindingHelper/GetClientResponseLinks build them; `id` is a placeholder or a real instance id. */
  managementUrls(id: string): ManagementUrls {
    const instance = `${this.#base}/instances/${id}`;
    const q = this.#query();
    return {
      id,
      statusQueryGetUri: `${instance}?${q}`,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}?${q}`,
      terminatePostUri: `${instance}/terminate?reason={text}&${q}`,
      rewindPostUri: `${instance}/rewind?reason={text}&${q}`,
      purgeHistoryDeleteUri: `${instance}?${q}`,
      restartPostUri: `${instance}/restart?${q}`,
      suspendPostUri: `${instance}/suspend?reason={text}&${q}`,
      resumePostUri: `${instance}/resume?reason={text}&${q}`,
    };
  }

  /** The durableClient input binding JSON (reference §4.1). Without `rpcBaseUrl` the client uses the URL templates. */
  clientBinding(rpcBaseUrl: string | undefined): ClientBindingData {
    const code = `code=${encodeURIComponent(this.#options.systemKey)}`;
    return {
      taskHubName: this.#options.taskHub,
      creationUrls: {
        createNewInstancePostUri: `${this.#base}/orchestrators/{functionName}[/{instanceId}]?${code}`,
        createAndWaitOnNewInstancePostUri:
          `${this.#base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}` +
          `&pollingInterval={intervalInSeconds}&${code}`,
      },
      managementUrls: this.managementUrls('INSTANCEID'),
      baseUrl: this.#base,
      requiredQueryStringParameters: code,
      ...(rpcBaseUrl ? { rpcBaseUrl } : {}),
    };
  }

  /** `path` is what follows the API prefix, e.g. `instances/abc/terminate`. */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    path: string,
    body: Buffer,
  ): Promise<void> {
    try {
      await this.#route(req, res, url, path, body);
    } catch (error) {
      if (error instanceof OrchestrationError) return send(res, error.status, { message: error.message });
      if (error instanceof PayloadTooLargeError) return send(res, 413, { message: error.message });
      const id = randomUUID();
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.#options.log(`[durable] ${req.method} ${path} failed (error ${id}): ${text}`);
      // The stack goes to the host log only: an HTTP answer never reveals the host's internals.
      if (!res.headersSent)
        send(res, 500, { message: `The local durable engine failed (error ${id}); see the host log.` });
    }
  }

  async #route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    path: string,
    body: Buffer,
  ): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const parts = path.split('/').map((p) => decodeURIComponent(p));
    if (parts.at(-1) === '') parts.pop();
    const [area, first, second] = parts;

    if (area === 'orchestrators' && first && method === 'POST' && parts.length <= 3) {
      return this.#start(res, url, first, second, body, url.searchParams.get('version') ?? '');
    }
    if (area === 'instances' && (await this.#routeInstances(req, res, url, method, parts, body))) return;
    if (area === 'entities') {
      return send(res, 501, {
        message: 'Durable entities are not supported by the local host; use orchestrations and activities.',
      });
    }
    send(res, 404, { message: `No Durable HTTP API route matches ${method} ${path}.` });
  }

  /** `instances[/<id>[/<operation>[/<event>]]]`; false when no route matches. */
  async #routeInstances(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    method: string,
    parts: string[],
    body: Buffer,
  ): Promise<boolean> {
    const [, id, operation, event] = parts;
    const q = url.searchParams;
    if (!id) {
      if (method === 'GET') this.#list(req, res, q);
      else if (method === 'DELETE') await this.#purgeMany(res, q);
      else return false;
    } else if (parts.length === 2) {
      if (method === 'GET') await this.#status(res, url, id, q);
      else if (method === 'DELETE') await this.#purgeOne(res, id);
      else return false;
    } else if (method !== 'POST') {
      return false;
    } else if (operation === 'raiseEvent' && event && parts.length === 4) {
      await this.#raise(req, res, id, event, body);
    } else if (parts.length === 3) {
      return this.#operate(res, url, id, operation);
    } else {
      return false;
    }
    return true;
  }

  /** POST instances/<id>/<operation>; false for an operation the API does not have. */
  async #operate(res: ServerResponse, url: URL, id: string, operation: string): Promise<boolean> {
    const reason = url.searchParams.get('reason') ?? '';
    switch (operation) {
      case 'terminate':
        await this.#engine.terminate(id, reason);
        break;
      case 'suspend':
        await this.#engine.suspend(id, reason);
        break;
      case 'resume':
        await this.#engine.resume(id, reason);
        break;
      case 'restart':
        await this.#restart(res, url, id, url.searchParams.get('restartWithNewInstanceId') !== 'false');
        return true;
      case 'rewind':
        send(res, 501, {
          message: 'Rewind is not supported by the local host; start a new instance instead.',
        });
        return true;
      default:
        return false;
    }
    send(res, 202);
    return true;
  }

  async #purgeOne(res: ServerResponse, id: string): Promise<void> {
    const deleted = await this.#engine.purge(id);
    if (deleted) send(res, 200, { instancesDeleted: 1 });
    else send(res, 404, { message: `No instance with ID '${id}' found.` });
  }

  async #start(
    res: ServerResponse,
    url: URL,
    name: string,
    instanceId: string | undefined,
    body: Buffer,
    version: string,
  ): Promise<void> {
    let input: unknown;
    const text = body.toString('utf8');
    if (text.trim()) {
      try {
        input = JSON.parse(text);
      } catch {
        return send(res, 400, { message: 'Invalid JSON content in the request body.' });
      }
    }
    const id = instanceId || randomUUID().replace(/-/g, '');
    await this.#engine.create(name, id, input, null, version);
    await this.#answerStarted(res, url, id);
  }

  /**
   * The answer to a start or restart (HttpApiHandler.cs HandleStartOrchestratorRequestAsync). With both
   * `timeout` and `pollingInterval` (seconds, double.TryParse) the extension polls the new instance
   * (WaitForCompletionOrCreateCheckStatusResponseAsync; the Azure Storage provider has no poll-free wait): 200
   * with the output once Completed; the status response (200, even for Failed) once Failed, Terminated or
   * Canceled; the 202 check-status response when the timeout passes first. With one of them or none, the 202 at
   * once. An interval longer than the timeout is a 400, after the instance was started.
   */
  async #answerStarted(res: ServerResponse, url: URL, id: string): Promise<void> {
    const timeout = secondsParameter(url.searchParams.get('timeout'));
    const interval = secondsParameter(url.searchParams.get('pollingInterval'));
    if (timeout === undefined || interval === undefined) return this.#checkStatus(res, id);
    if (interval > timeout) {
      return send(res, 400, {
        message:
          'One or more of the arguments submitted is incorrect: ' +
          `Total timeout ${timeout} should be bigger than retry timeout ${interval}`,
      });
    }
    const started = Date.now();
    for (;;) {
      const record = this.#engine.instances.get(id)?.record;
      if (record?.runtimeStatus === 'Completed') return send(res, 200, record.output ?? null);
      if (record && TERMINAL.has(record.runtimeStatus))
        return this.#status(res, url, id, url.searchParams, false);
      const remaining = timeout * 1000 - (Date.now() - started);
      if (res.destroyed) return; // the caller gave up waiting
      if (remaining <= 0) return this.#checkStatus(res, id);
      const delay = Math.min(remaining, interval * 1000, 2 ** 31 - 1); // setTimeout holds ~24.8 days
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  #checkStatus(res: ServerResponse, id: string): void {
    const urls = this.managementUrls(encodeURIComponent(id));
    const { rewindPostUri: _rewind, id: _id, ...links } = urls;
    send(res, 202, { id, ...links }, { Location: urls.statusQueryGetUri, 'Retry-After': '10' });
  }

  async #restart(res: ServerResponse, url: URL, instanceId: string, newId: boolean): Promise<void> {
    const live = this.#engine.instances.get(instanceId);
    if (!live) return send(res, 404, { message: `No instance with ID '${instanceId}' found.` });
    const id = newId ? randomUUID().replace(/-/g, '') : instanceId;
    await this.#engine.create(live.record.name, id, live.record.input, null, live.record.version);
    await this.#answerStarted(res, url, id);
  }

  async #raise(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    event: string,
    body: Buffer,
  ): Promise<void> {
    const type = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\b/i.test(type)) {
      return send(res, 400, {
        message: `Only application/json request content is supported (got '${type || 'none'}').`,
      });
    }
    const text = body.toString('utf8');
    if (text.trim()) {
      try {
        JSON.parse(text);
      } catch {
        return send(res, 400, { message: 'Invalid JSON content in the request body.' });
      }
    }
    await this.#engine.raiseEvent(id, event, text.trim() ? text : null);
    send(res, 202);
  }

  /** `serverErrorOnFailure` overrides the query's returnInternalServerErrorOnFailure (the wait passes false). */
  async #status(
    res: ServerResponse,
    url: URL,
    id: string,
    q: URLSearchParams,
    serverErrorOnFailure = q.get('returnInternalServerErrorOnFailure') === 'true',
  ): Promise<void> {
    const live = this.#engine.instances.get(id);
    if (!live || live.gone) return send(res, 404, { message: `No instance with ID '${id}' found.` });
    const record = live.record;
    const body = statusJson(record, q.get('showInput') !== 'false');
    if (q.get('showHistory') === 'true') {
      body.historyEvents = projectHistory(
        await this.#engine.history(id),
        q.get('showHistoryOutput') === 'true',
      );
    }
    const status = record.runtimeStatus;
    if (!TERMINAL.has(status)) {
      return send(res, 202, body, { Location: url.href, 'Retry-After': '5' });
    }
    const code = status === 'Failed' && serverErrorOnFailure ? 500 : 200;
    send(res, code, body);
  }

  #filter(q: URLSearchParams): ((r: InstanceRecord) => boolean) | string {
    const from = q.get('createdTimeFrom');
    const to = q.get('createdTimeTo');
    const fromMs = from ? Date.parse(from) : Number.NEGATIVE_INFINITY;
    const toMs = to ? Date.parse(to) : Number.POSITIVE_INFINITY;
    if (Number.isNaN(fromMs) || Number.isNaN(toMs))
      return 'createdTimeFrom/createdTimeTo must be ISO 8601 dates.';
    const statuses = (q.get('runtimeStatus') ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    const prefix = q.get('instanceIdPrefix') ?? '';
    return (r) => {
      const created = Date.parse(r.createdTime);
      return (
        created >= fromMs &&
        created <= toMs &&
        (statuses.length === 0 || statuses.includes(r.runtimeStatus.toLowerCase())) &&
        r.instanceId.startsWith(prefix)
      );
    };
  }

  #list(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
    const filter = this.#filter(q);
    if (typeof filter === 'string') {
      send(res, 400, { message: filter });
      return;
    }
    // In instance-id order, as the Azure Storage provider returns the Instances table (partition key = id),
    // not in creation order: callers that want an order must sort (AzureTableTrackingStore GetStateAsync).
    const all = [...this.#engine.instances.values()]
      .filter((l) => !l.gone)
      .map((l) => l.record)
      .filter(filter)
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
    const top = Number(q.get('top') ?? this.#options.defaultPageSize);
    const pageSize = Number.isInteger(top) && top > 0 ? top : this.#options.defaultPageSize;
    const token = String(req.headers['x-ms-continuation-token'] ?? '');
    const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) || 0 : 0;
    const page = all.slice(start, start + pageSize);
    const headers: Record<string, string> = {};
    if (start + pageSize < all.length) {
      headers['x-ms-continuation-token'] = Buffer.from(String(start + pageSize)).toString('base64url');
    }
    // OrchestrationStatusQueryCondition.ShowInput defaults to true: DurableClient.getStatusBy sends no
    // showInput and gets the inputs.
    const showInput = q.get('showInput') !== 'false';
    send(
      res,
      200,
      page.map((r) => statusJson(r, showInput)),
      headers,
    );
  }

  async #purgeMany(res: ServerResponse, q: URLSearchParams): Promise<void> {
    if (!q.get('createdTimeFrom')) {
      return send(res, 400, { message: 'Purging by filter needs createdTimeFrom (ISO 8601).' });
    }
    const filter = this.#filter(q);
    if (typeof filter === 'string') return send(res, 400, { message: filter });
    const ids = [...this.#engine.instances.values()]
      .filter((l) => !l.gone && filter(l.record))
      .map((l) => l.record.instanceId);
    let deleted = 0;
    for (const id of ids) if (await this.#engine.purge(id)) deleted++;
    if (deleted === 0) return send(res, 404, { message: 'No instances matched the filter.' });
    send(res, 200, { instancesDeleted: deleted });
  }
}

/** A TimeSpan query parameter in seconds, as HttpApiHandler.TryGetTimeSpanQueryParameterValue reads it. */
function secondsParameter(value: string | null): number | undefined {
  if (value === null || !/^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(value)) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** "yyyy-MM-ddTHH:mm:ssZ", as the extension formats instance times. */
function formatTime(iso: string): string {
  return `${iso.slice(0, 19)}Z`;
}

interface StatusJson {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: unknown[];
}

/** `input` and `output` are always present: DurableOrchestrationStatus throws if either is undefined. */
function statusJson(record: InstanceRecord, showInput: boolean): StatusJson {
  return {
    name: record.name,
    instanceId: record.instanceId,
    runtimeStatus: record.runtimeStatus,
    input: showInput ? (record.input ?? null) : null,
    customStatus: record.customStatus ?? null,
    output: record.output ?? null,
    createdTime: formatTime(record.createdTime),
    lastUpdatedTime: formatTime(record.lastUpdatedTime),
  };
}

function parseMaybe(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The extension's history projection: event type names, scheduling events folded into their completions
 * (FunctionName, ScheduledTime), results only with showHistoryOutput.
 */
function projectHistory(events: HistoryEvent[], withOutput: boolean): unknown[] {
  const scheduled = new Map<number, HistoryEvent>();
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    switch (e.EventType) {
      case EventType.OrchestratorStarted:
      case EventType.OrchestratorCompleted:
        continue;
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
        scheduled.set(e.EventId, e);
        continue;
    }
    const item: Record<string, unknown> = { EventType: eventTypeName[e.EventType], Timestamp: e.Timestamp };
    const origin = e.TaskScheduledId !== undefined ? scheduled.get(e.TaskScheduledId) : undefined;
    if (origin) {
      item.FunctionName = origin.Name;
      item.ScheduledTime = origin.Timestamp;
      if (origin.InstanceId) item.InstanceId = origin.InstanceId;
    }
    if (e.EventType === EventType.ExecutionStarted) item.FunctionName = e.Name;
    if (e.EventType === EventType.EventRaised) item.Name = e.Name;
    if (e.FireAt) item.FireAt = e.FireAt;
    if (e.TimerId !== undefined) item.TimerId = e.TimerId;
    if (e.OrchestrationStatus) item.OrchestrationStatus = e.OrchestrationStatus;
    if (e.Reason !== undefined) item.Reason = e.Reason;
    if (e.Details !== undefined && withOutput) item.Details = e.Details;
    if (withOutput && e.Result !== undefined) item.Result = parseMaybe(e.Result);
    if (withOutput && e.Input !== undefined && e.EventType !== EventType.ExecutionStarted) {
      item.Input = parseMaybe(e.Input);
    }
    out.push(item);
  }
  return out;
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }),
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
