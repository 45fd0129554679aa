/**
 * Blob triggers with `source: 'EventGrid'`, delivered the way Azure delivers them: Event Grid posts
 * `Microsoft.Storage.BlobCreated` events to `POST /runtime/webhooks/blobs?functionName=Host.Functions.<name>`
 * (system key required), the host answers 202, downloads the blob from the binding's storage connection and
 * invokes the function with the blob bytes and the blob trigger metadata. A failing invocation is retried
 * (5 attempts with backoff, like the blob extension's dequeue count) and then recorded as poison.
 *
 * There is no Event Grid locally, so a watcher plays its part: it lists the triggers' containers every
 * `pollIntervalMs` and turns every blob whose ETag it has no receipt for into the same BlobCreated event.
 * The app setting LOCAL_BLOB_WATCH=false turns the watcher off (only webhook events are delivered then), for
 * tests that post their own events or need an upload whose event was "lost".
 *
 * State in `stateDir`:
 *  - `blob-receipts.json`: `{ "<function>|<account>/<container>/<blob>": "<etag>" }`. One upload (one ETag)
 *    produces exactly one event, across restarts too. On start, blobs without a receipt DO fire: Event Grid
 *    would have delivered their events (it retries for up to 24 h) while the host was down.
 *    A receipt is written only once its delivery is over (invoked successfully, or recorded as poison), as the
 *    extension completes its queue message only then: a host stopped or killed mid-delivery delivers the blob
 *    again after the restart (at least once). While a delivery runs, an in-memory set keeps the watcher from
 *    raising a second event for the same blob.
 *  - `blob-poison.json`: an array of `{functionName, blob, etag, attempts, error, at}`. The real extension
 *    writes to the `webjobs-blobtrigger-poison` queue; no queue SDK is installed here, so it is a file.
 *
 * Events posted to the webhook are delivered as received (Event Grid is at-least-once; a duplicate event
 * runs the function again). A finished webhook delivery also records a receipt (and a running one counts as
 * in flight), so the watcher won't add a second event for the same upload.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import {
  coreState,
  type InvocationLogLine,
  invokeFunction,
  type RpcTypedData,
  triggerBinding,
} from './core.js';
import { type HostKeys, keyMatches, presentedKey } from './http.js';
import { resolveSettingReferences } from './settings.js';

export interface BlobTriggerOptions {
  env: Record<string, string | undefined>;
  keys: HostKeys;
  stateDir: string | undefined;
  /** Watch the containers for new blobs (default true). */
  watch?: boolean;
  /** How often the watcher lists the containers (default 1000 ms). */
  pollIntervalMs?: number;
  /** Delivery attempts before a blob is recorded as poison (default 5, as the blob extension). */
  maxAttempts?: number;
  /** Delay before the 2nd attempt; doubles per attempt (default 1000 ms). */
  retryBaseDelayMs?: number;
  log: (line: string) => void;
  invocationLog: (line: InvocationLogLine) => void;
}

export interface BlobTriggers {
  /** Handles /runtime/webhooks/blobs; returns false for other paths. */
  handleHttp(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<boolean>;
  /** Delivers a blob to one function now (as "Execute Function Now" does), `input` = "container/blob". */
  runNow(functionName: string, blobPath: string): Promise<void>;
  has(functionName: string): boolean;
  /** Resolves after `count` complete watcher scans that started after the call. */
  whenScanned(count?: number): Promise<void>;
  /** Resolves when every accepted event has been processed (invoked, or recorded as poison). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** An Event Grid event (Event Grid schema), the fields the blob trigger reads. */
export interface BlobCreatedEvent {
  id: string;
  topic?: string;
  subject: string;
  eventType: string;
  eventTime?: string;
  data?: {
    url?: string;
    eTag?: string;
    contentType?: string;
    contentLength?: number;
    [key: string]: unknown;
  };
  dataVersion?: string;
  metadataVersion?: string;
}

interface BlobFunction {
  name: string;
  container: string;
  /** Matches the blob name (inside the container) and captures the path parameters. */
  blobPattern: RegExp;
  parameterNames: string[];
  service: BlobServiceClient;
  accountName: string;
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Listing returns ETags bare, downloads return them quoted; receipts compare the bare form. */
const bareEtag = (etag: string | undefined): string => (etag ?? '').replace(/^"|"$/g, '');

/** Splits `inbox/{name}` / `in/{folder}/{file}.{ext}` into the container and a blob-name matcher. */
export function compileBlobPath(
  path: string,
  functionName: string,
): { container: string; pattern: RegExp; names: string[] } {
  const slash = path.indexOf('/');
  const container = slash === -1 ? path : path.slice(0, slash);
  if (!container || container.includes('{')) {
    throw new Error(
      `Blob function "${functionName}" has path "${path}"; it must start with a literal container name.`,
    );
  }
  const names: string[] = [];
  const rest = slash === -1 ? '{name}' : path.slice(slash + 1);
  const source = rest
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const param = /^\{([^}]+)\}$/.exec(part);
      if (!param) return escapeRegex(part);
      names.push(param[1]!);
      return '(.+?)';
    })
    .join('');
  return { container, pattern: new RegExp(`^${source}$`), names };
}

function connectionString(env: BlobTriggerOptions['env'], connection: unknown, functionName: string): string {
  const name = typeof connection === 'string' && connection !== '' ? connection : 'AzureWebJobsStorage';
  // The host looks the connection up as given, then with the AzureWebJobs prefix.
  const value = env[name] ?? env[`AzureWebJobs${name}`];
  if (!value) {
    throw new Error(
      `Blob function "${functionName}" uses the connection "${name}", but no setting "${name}" holds a storage ` +
        `connection string; add it to the app settings (identity-based connections are not supported locally).`,
    );
  }
  return value;
}

export async function startBlobTriggers(options: BlobTriggerOptions): Promise<BlobTriggers> {
  const { log } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 1000;
  const functions = new Map<string, BlobFunction>();
  for (const registration of coreState.registrations.values()) {
    const trigger = triggerBinding(registration);
    if (trigger.type.toLowerCase() !== 'blobtrigger') continue;
    const name = registration.metadata.name;
    if (String(trigger.source ?? '') !== 'EventGrid') {
      log(
        `Blob function '${name}' uses the polling blob trigger; the local host delivers it through the watcher too.`,
      );
    }
    const path = resolveSettingReferences(
      String(trigger.path ?? ''),
      options.env,
      `the path of blob function "${name}"`,
    );
    const { container, pattern, names } = compileBlobPath(path, name);
    const service = BlobServiceClient.fromConnectionString(
      connectionString(options.env, trigger.connection, name),
    );
    functions.set(name, {
      name,
      container,
      blobPattern: pattern,
      parameterNames: names,
      service,
      accountName: service.accountName,
    });
  }

  const receiptsFile = options.stateDir ? join(options.stateDir, 'blob-receipts.json') : undefined;
  const poisonFile = options.stateDir ? join(options.stateDir, 'blob-poison.json') : undefined;
  const receipts: Record<string, string> = await readJson(receiptsFile, {});
  const poison: unknown[] = await readJson(poisonFile, []);
  let writes = Promise.resolve();
  const persist = (file: string | undefined, value: unknown): Promise<void> => {
    if (!file) return Promise.resolve();
    writes = writes.then(async () => {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(`${file}.tmp`, JSON.stringify(value, null, 2));
      await rename(`${file}.tmp`, file);
    });
    return writes;
  };
  const receiptKey = (fn: BlobFunction, blobName: string) =>
    `${fn.name}|${fn.accountName}/${fn.container}/${blobName}`;

  const inFlight = new Set<Promise<void>>();
  /** Deliveries running per receipt key: the watcher raises no event for a blob that is being delivered. */
  const delivering = new Map<string, number>();
  let closed = false;
  /** Pending retry delays; close() cuts them short so a delivery waiting to retry ends (without a receipt). */
  const sleepers = new Map<NodeJS.Timeout, () => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        sleepers.delete(timer);
        resolve();
      }, ms);
      sleepers.set(timer, resolve);
    });

  /** Parses `/blobServices/default/containers/<c>/blobs/<name>`. */
  function blobOfSubject(subject: string): { container: string; blobName: string } | undefined {
    const m = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/.exec(subject);
    return m ? { container: m[1]!, blobName: m[2]! } : undefined;
  }

  /** Accepts one event for one function: returns false when the event doesn't concern it. */
  function accept(fn: BlobFunction, event: BlobCreatedEvent): boolean {
    if (event.eventType !== 'Microsoft.Storage.BlobCreated') return false;
    const blob = blobOfSubject(event.subject ?? '');
    if (!blob || blob.container !== fn.container) return false;
    const captures = fn.blobPattern.exec(blob.blobName);
    if (!captures) return false;
    const params: Record<string, string> = {};
    fn.parameterNames.forEach((name, i) => {
      params[name] = captures[i + 1]!;
    });
    const key = receiptKey(fn, blob.blobName);
    delivering.set(key, (delivering.get(key) ?? 0) + 1);
    const work = deliver(fn, blob.blobName, params, bareEtag(event.data?.eTag))
      // Nobody awaits a delivery (the webhook already answered 202): a failure such as an unwritable state
      // file must be logged here, or it becomes an unhandled rejection that ends the host.
      .catch((error: unknown) =>
        log(
          `Blob function '${fn.name}' (${fn.container}/${blob.blobName}): ${(error as Error)?.message ?? error}`,
        ),
      )
      .finally(() => {
        inFlight.delete(work);
        const left = (delivering.get(key) ?? 1) - 1;
        if (left > 0) delivering.set(key, left);
        else delivering.delete(key);
      });
    inFlight.add(work);
    return true;
  }

  /**
   * Delivers one event: up to `maxAttempts` invocations, then poison. The receipt is written only when the
   * delivery is over, never before the invocation: a stop (or crash) in between leaves the blob to be delivered
   * again after the restart, as Azure redelivers a queue message that was never completed.
   */
  async function deliver(
    fn: BlobFunction,
    blobName: string,
    params: Record<string, string>,
    eventEtag: string,
  ): Promise<void> {
    const blobPath = `${fn.container}/${blobName}`;
    let lastError = '';
    let etag = '';
    const saveReceipt = async (): Promise<void> => {
      // The version invoked; if no download ever succeeded (poison), the version the event announced.
      const version = etag || eventEtag;
      if (!version || receipts[receiptKey(fn, blobName)] === version) return;
      receipts[receiptKey(fn, blobName)] = version;
      await persist(receiptsFile, receipts);
    };
    for (let attempt = 1; attempt <= maxAttempts && !closed; attempt++) {
      if (attempt > 1) await sleep(retryBaseDelayMs * 2 ** (attempt - 2));
      if (closed) return;
      let download: Awaited<ReturnType<typeof downloadBlob>>;
      try {
        download = await downloadBlob(fn, blobName);
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) {
          log(`Blob '${blobPath}' no longer exists; '${fn.name}' is not invoked for it.`);
          return;
        }
        lastError = `download failed: ${(error as Error).message}`;
        log(`Blob function '${fn.name}' (${blobPath}), attempt ${attempt}/${maxAttempts}: ${lastError}`);
        continue;
      }
      etag = bareEtag(download.etag);
      const result = await invokeFunction(
        fn.name,
        { bytes: new Uint8Array(download.content) },
        { triggerMetadata: download.triggerMetadata(params), log: options.invocationLog },
      );
      if (!result.error) {
        await saveReceipt();
        return;
      }
      const error = result.error as Error;
      lastError = error?.message ?? String(error);
      log(
        `Executed '${fn.name}' (Failed, Id=${result.invocationId}) for blob '${blobPath}', attempt ${attempt}/${maxAttempts}: ${error?.stack ?? lastError}`,
      );
    }
    if (closed) return;
    log(
      `Blob '${blobPath}' failed ${maxAttempts} times in '${fn.name}'; recorded as poison${poisonFile ? ` in ${poisonFile}` : ''}.`,
    );
    poison.push({
      functionName: fn.name,
      blob: blobPath,
      etag,
      attempts: maxAttempts,
      error: lastError,
      at: new Date().toISOString(),
    });
    await persist(poisonFile, poison);
    await saveReceipt();
  }

  async function downloadBlob(fn: BlobFunction, blobName: string) {
    const client = fn.service.getContainerClient(fn.container).getBlobClient(blobName);
    const response = await client.download();
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
    const content = Buffer.concat(chunks);
    const etag = response.etag ?? '';
    return {
      content,
      etag,
      /** The trigger metadata the host sends with a blob trigger (BlobProperties serialized PascalCase). */
      triggerMetadata(params: Record<string, string>): Record<string, RpcTypedData> {
        const properties = {
          LastModified: response.lastModified?.toISOString(),
          CreatedOn: response.createdOn?.toISOString(),
          Metadata: response.metadata ?? {},
          BlobType: response.blobType === 'BlockBlob' ? 'Block' : response.blobType,
          ContentLength: content.length,
          // The property name of the older storage SDK, which many function samples still read.
          Length: content.length,
          ContentType: response.contentType,
          ContentEncoding: response.contentEncoding,
          ContentLanguage: response.contentLanguage,
          ContentDisposition: response.contentDisposition,
          CacheControl: response.cacheControl,
          ContentHash: response.contentMD5 ? Buffer.from(response.contentMD5).toString('base64') : undefined,
          ETag: etag,
          LeaseState: response.leaseState,
          LeaseStatus: response.leaseStatus,
          IsServerEncrypted: response.isServerEncrypted,
        };
        const metadata: Record<string, RpcTypedData> = {
          BlobTrigger: { string: `${fn.container}/${blobName}` },
          Uri: { string: client.url },
          Properties: { json: JSON.stringify(properties) },
          Metadata: { json: JSON.stringify(response.metadata ?? {}) },
          sys: {
            json: JSON.stringify({
              MethodName: fn.name,
              UtcNow: new Date().toISOString(),
              RandGuid: randomUUID(),
            }),
          },
        };
        for (const [name, value] of Object.entries(params)) metadata[name] = { string: value };
        return metadata;
      },
    };
  }

  // ------------------------------------------------------------------------------------------ webhook

  async function handleHttp(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Buffer,
  ): Promise<boolean> {
    if (url.pathname.replace(/\/+$/, '').toLowerCase() !== '/runtime/webhooks/blobs') return false;
    if (!keyMatches(presentedKey(req, url), options.keys.systemKey, options.keys.masterKey)) {
      res.writeHead(401).end();
      return true;
    }
    // CloudEvents 1.0 abuse-protection handshake.
    if (req.method === 'OPTIONS') {
      const origin = req.headers['webhook-request-origin'];
      res.writeHead(200, origin ? { 'webhook-allowed-origin': String(origin) } : {}).end();
      return true;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST, OPTIONS' }).end();
      return true;
    }
    const qualified = url.searchParams.get('functionName') ?? '';
    const fn = functions.get(qualified.replace(/^Host\.Functions\./, ''));
    if (!fn || !qualified.startsWith('Host.Functions.')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`No blob-triggered function '${qualified}'; use functionName=Host.Functions.<function name>.`);
      return true;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('The body is not valid JSON.');
      return true;
    }
    const events = (Array.isArray(parsed) ? parsed : [parsed]).map(normalizeEvent);
    const eventType = String(req.headers['aeg-event-type'] ?? '');
    if (eventType === 'SubscriptionValidation') {
      const code = events[0]?.data?.validationCode;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ validationResponse: code }));
      return true;
    }
    let accepted = 0;
    for (const event of events) if (accept(fn, event)) accepted++;
    log(`Blob webhook for '${fn.name}': ${events.length} event(s), ${accepted} matching.`);
    res.writeHead(202).end();
    return true;
  }

  // ------------------------------------------------------------------------------------------ watcher

  let scans = 0;
  let scanning = false;
  const scanWaiters: { target: number; resolve: () => void }[] = [];
  const reportedErrors = new Set<string>();

  async function scan(): Promise<void> {
    scanning = true;
    try {
      for (const fn of functions.values()) {
        try {
          for await (const item of fn.service
            .getContainerClient(fn.container)
            .listBlobsFlat({ includeMetadata: false })) {
            if (closed) return;
            const etag = bareEtag(item.properties.etag);
            const key = receiptKey(fn, item.name);
            if (!etag || receipts[key] === etag || delivering.has(key) || !fn.blobPattern.test(item.name))
              continue;
            // The delivery (with its retries) now owns the event; it writes the receipt when it is over.
            accept(fn, syntheticEvent(fn, item.name, item.properties));
          }
        } catch (error) {
          if ((error as { statusCode?: number }).statusCode === 404) continue; // container not created yet
          const message = `Blob watcher cannot list '${fn.container}' for '${fn.name}': ${(error as Error).message}`;
          if (!reportedErrors.has(message)) log(message);
          reportedErrors.add(message);
        }
      }
    } finally {
      scanning = false;
      scans++;
      for (const waiter of scanWaiters.filter((w) => w.target <= scans)) {
        scanWaiters.splice(scanWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  function syntheticEvent(
    fn: BlobFunction,
    blobName: string,
    properties: { etag?: string; contentType?: string; contentLength?: number; lastModified?: Date },
  ): BlobCreatedEvent {
    const client = fn.service.getContainerClient(fn.container).getBlobClient(blobName);
    return {
      id: randomUUID(),
      topic: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/${fn.accountName}`,
      subject: `/blobServices/default/containers/${fn.container}/blobs/${blobName}`,
      eventType: 'Microsoft.Storage.BlobCreated',
      eventTime: (properties.lastModified ?? new Date()).toISOString(),
      data: {
        api: 'PutBlob',
        clientRequestId: randomUUID(),
        requestId: randomUUID(),
        eTag: properties.etag,
        contentType: properties.contentType,
        contentLength: properties.contentLength,
        blobType: 'BlockBlob',
        url: client.url,
        sequencer: (properties.lastModified?.getTime() ?? Date.now()).toString(16).padStart(32, '0'),
        storageDiagnostics: { batchId: randomUUID() },
      },
      dataVersion: '',
      metadataVersion: '1',
    };
  }

  let watchTimer: NodeJS.Timeout | undefined;
  let currentScan: Promise<void> | undefined;
  const watching = (options.watch ?? true) && functions.size > 0;
  const loop = (): void => {
    if (closed) return;
    currentScan = scan().finally(() => {
      currentScan = undefined;
      if (!closed) watchTimer = setTimeout(loop, options.pollIntervalMs ?? 1000);
    });
  };
  if (watching) loop();

  return {
    handleHttp,
    has: (name) => functions.has(name),
    async runNow(functionName, blobPath) {
      const fn = functions.get(functionName);
      if (!fn) throw new Error(`"${functionName}" is not a blob-triggered function.`);
      const blobName = blobPath.startsWith(`${fn.container}/`)
        ? blobPath.slice(fn.container.length + 1)
        : blobPath;
      const props = await fn.service.getContainerClient(fn.container).getBlobClient(blobName).getProperties();
      if (!accept(fn, syntheticEvent(fn, blobName, props))) {
        throw new Error(`Blob '${blobPath}' doesn't match the path of "${functionName}".`);
      }
    },
    whenScanned(count = 1) {
      if (!watching)
        return Promise.reject(
          new Error('The blob watcher is not running (watch: false or no blob functions).'),
        );
      return new Promise((resolve) =>
        scanWaiters.push({ target: scans + (scanning ? 1 : 0) + count, resolve }),
      );
    },
    async settled() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    async close() {
      closed = true;
      clearTimeout(watchTimer);
      // Wake deliveries waiting to retry: they see `closed` and end without a receipt.
      for (const [timer, wake] of sleepers) {
        clearTimeout(timer);
        wake();
      }
      sleepers.clear();
      await currentScan;
      await Promise.allSettled([...inFlight]);
      await writes;
    },
  };
}

/** Accepts the Event Grid schema and the CloudEvents 1.0 schema, returning the Event Grid shape. */
function normalizeEvent(raw: unknown): BlobCreatedEvent & { data?: { validationCode?: string } } {
  const event = (raw ?? {}) as Record<string, unknown>;
  if (typeof event.specversion === 'string') {
    return {
      id: String(event.id ?? ''),
      topic: typeof event.source === 'string' ? event.source : undefined,
      subject: String(event.subject ?? ''),
      eventType: String(event.type ?? ''),
      eventTime: typeof event.time === 'string' ? event.time : undefined,
      data: event.data as BlobCreatedEvent['data'],
    };
  }
  return event as unknown as BlobCreatedEvent;
}

async function readJson<T>(file: string | undefined, fallback: T): Promise<T> {
  if (!file) return fallback;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw new Error(`Cannot read ${file}: ${(error as Error).message}. Delete the file to reset it.`);
  }
}
