/**
 * The local stand-in for Azure Storage's Event Grid system topic and its subscriptions. In Azure, Storage
 * publishes a `Microsoft.Storage.BlobCreated` event when a blob is committed and Event Grid delivers it to each
 * subscription whose filter matches, retrying with backoff until the retry policy runs out, then dead-letters
 * it. Locally there is no Event Grid, so this module plays both parts for the subscriptions it is given
 * (LOCAL_EVENTGRID_SUBSCRIPTIONS: the ones the app's deployment creates on Azure):
 *
 *  - a watcher lists each subscription's container every `pollIntervalMs` and publishes one BlobCreated event
 *    (local/host/eventgridEvents.ts) for every blob version (etag) it holds no receipt for;
 *  - each event is POSTed to the function's webhook exactly as Event Grid posts it (`aeg-*` headers, an array of
 *    one event, the `eventgrid_extension` key), after the subscription validation handshake at start;
 *  - a delivery that is not answered 200–204 within 30 s is retried on Event Grid's schedule (10 s, 30 s, 1 min,
 *    5 min, 10 min, 30 min, 1 h, then hourly; longer after some status codes) in the host's virtual time, until
 *    `maxDeliveryAttempts` or `eventTimeToLiveInMinutes` runs out; then the event is written as a dead letter
 *    (`<container>/<SUBSCRIPTION>/<Y>/<M>/<D>/<H>/<guid>.json`) in the same storage account, or dropped if the
 *    subscription has no dead-letter container. Source: "Event Grid message delivery and retry" and "Set
 *    dead-letter location and retry policy" (articles/event-grid/delivery-and-retry.md, manage-event-delivery.md).
 *
 * At least once, across restarts too: a receipt (`<stateDir>/eventgrid-receipts.json`, `{ "<subscription>|
 * <account>/<container>/<blob>": "<etag>" }`) is written only once a delivery is over (acknowledged, dead-
 * lettered or dropped), so a host stopped or killed mid-delivery publishes the blob again after the restart, as
 * Event Grid would have kept retrying. Blobs without a receipt are published at start for the same reason.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { join } from 'node:path';
import type { BlobServiceClient } from '@azure/storage-blob';
import { z } from 'zod';
import { isNotFound } from '../../shared/errors.js';
import { normaliseEtag } from '../../shared/etag.js';
import type { Clock } from './clock.js';
import { blobServiceClientFor, resolveStorageConnection } from './connections.js';
import {
  blobCreatedEvent,
  type DeadLetterReason,
  deadLetterBlobName,
  deadLetterRecord,
  type EventGridSchemaEvent,
  storageAccountTopic,
  subscriptionValidationEvent,
} from './eventgridEvents.js';
import { resolveSettingReferences } from './settings.js';
import { type JsonState, loadJsonState } from './state.js';

/** An event subscription on a storage account's system topic, in the terms `az eventgrid ... create` uses. */
export const eventGridSubscriptionSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9-]{3,64}$/, 'must be 3-64 letters, digits or hyphens'),
  /** The Event Grid trigger function the webhook endpoint names (`?functionName=`). */
  functionName: z.string().min(1),
  /** The storage account whose events are published: a connection setting name, as a binding's `connection`. */
  connection: z.string().min(1),
  includedEventTypes: z.array(z.string().min(1)).min(1),
  /** `/blobServices/default/containers/<container>/blobs/<prefix>`; `%SETTING%` references are resolved. */
  subjectBeginsWith: z
    .string()
    .regex(/^\/blobServices\/default\/containers\/[^/%]*(%[^%]+%)?[^/]*\/blobs\//, {
      message: 'must name a container: /blobServices/default/containers/<container>/blobs/<prefix>',
    }),
  subjectEndsWith: z.string().default(''),
  eventDeliverySchema: z.literal('EventGridSchema'),
  maxDeliveryAttempts: z.number().int().min(1).max(30),
  eventTimeToLiveInMinutes: z.number().int().min(1).max(1440),
  /** Blob container in the same account for undeliverable events; without one they are dropped. */
  deadLetterContainer: z.string().optional(),
});

export type EventGridSubscription = z.input<typeof eventGridSubscriptionSchema>;

export interface EventGridPublisherOptions {
  subscriptions: EventGridSubscription[];
  env: Record<string, string | undefined>;
  /** The host's base URL and the `eventgrid_extension` key the subscription endpoints carry. */
  webhook: { baseUrl: string; key: string };
  clock: Clock;
  stateDir: string | undefined;
  /** List the containers and publish new blobs (default true); false delivers nothing on its own. */
  watch?: boolean;
  pollIntervalMs?: number;
  log: (line: string) => void;
}

export interface EventGridPublisher {
  /** Resolves after `count` complete watcher scans that started after the call. */
  whenScanned(count?: number): Promise<void>;
  /** Resolves when every published event's delivery is over (acknowledged, dead-lettered or dropped). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Event Grid's retry schedule (virtual ms before attempt n+1), then hourly. */
const RETRY_SCHEDULE_MS = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000];
/** Status codes after which Event Grid waits at least this long before the next attempt. */
const MIN_RETRY_DELAY_MS: Record<number, number> = {
  400: 300_000,
  401: 300_000,
  403: 300_000,
  404: 300_000,
  408: 120_000,
  503: 30_000,
};
/** How long Event Grid waits for an answer (real time: it is an HTTP timeout). */
const RESPONSE_TIMEOUT_MS = 30_000;

interface Route {
  subscription: z.output<typeof eventGridSubscriptionSchema>;
  service: BlobServiceClient;
  container: string;
  prefix: string;
  endpoint: string;
  failed: boolean;
}

/**
 * A Blob service client for a connection setting, resolved as the host resolves a binding's `connection`: the
 * setting as named, then with the `AzureWebJobs` prefix. Connection strings only.
 */
export function blobServiceForConnection(
  connection: string,
  env: Record<string, string | undefined>,
): BlobServiceClient {
  return blobServiceClientFor(
    resolveStorageConnection(env, connection, 'The Event Grid subscription source'),
  );
}

/** The subscriptions in the LOCAL_EVENTGRID_SUBSCRIPTIONS setting (a JSON array), validated. */
export function subscriptionsFromSetting(value: string | undefined): EventGridSubscription[] {
  if (!value?.trim()) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new Error(`LOCAL_EVENTGRID_SUBSCRIPTIONS is not JSON: ${(error as Error).message}`);
  }
  const result = z.array(eventGridSubscriptionSchema).safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`LOCAL_EVENTGRID_SUBSCRIPTIONS is invalid: ${problems.join('; ')}`);
  }
  return result.data;
}

function routeOf(raw: EventGridSubscription, options: EventGridPublisherOptions): Route {
  const subscription = eventGridSubscriptionSchema.parse(raw);
  const where = `the subjectBeginsWith of Event Grid subscription "${subscription.name}"`;
  subscription.subjectBeginsWith = resolveSettingReferences(
    subscription.subjectBeginsWith,
    options.env,
    where,
  );
  const [, container = '', prefix = ''] =
    /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.*)$/.exec(subscription.subjectBeginsWith) ?? [];
  const endpoint = new URL('/runtime/webhooks/eventgrid', options.webhook.baseUrl);
  endpoint.searchParams.set('functionName', subscription.functionName);
  endpoint.searchParams.set('code', options.webhook.key);
  return {
    subscription,
    service: blobServiceForConnection(subscription.connection, options.env),
    container,
    prefix,
    endpoint: endpoint.toString(),
    failed: false,
  };
}

/** Event Grid's subject filters compare case-insensitively unless a subscription asks otherwise. */
function matches(route: Route, event: EventGridSchemaEvent): boolean {
  const { subscription } = route;
  const subject = event.subject.toLowerCase();
  return (
    subscription.includedEventTypes.includes(event.eventType) &&
    subject.startsWith(subscription.subjectBeginsWith.toLowerCase()) &&
    subject.endsWith(subscription.subjectEndsWith.toLowerCase())
  );
}

/**
 * The publisher's state, one object its parts share: the receipts, the deliveries under way (which the watcher
 * skips, and close wakes and waits for), and the watcher's progress.
 */
interface PublisherState {
  options: EventGridPublisherOptions;
  routes: Route[];
  /** `{ "<subscription>|<account>/<container>/<blob>": "<etag>" }`, written once a delivery is over. */
  receipts: JsonState<Record<string, string>>;
  closed: boolean;
  inFlight: Set<Promise<void>>;
  /** Receipt keys with a delivery under way: the watcher publishes nothing more for them meanwhile. */
  delivering: Set<string>;
  /** Deliveries waiting (in virtual time) for their next attempt, woken by close. */
  sleepers: Map<NodeJS.Timeout, () => void>;
  watcher: WatcherState;
}

interface WatcherState {
  enabled: boolean;
  scans: number;
  scanning: boolean;
  /** Events published so far: the next event's sequence number. */
  published: number;
  waiters: { target: number; resolve: () => void }[];
  /** Listing errors already logged, each logged once. */
  reportedErrors: Set<string>;
  timer: NodeJS.Timeout | undefined;
  current: Promise<void> | undefined;
}

/** One publisher for all subscriptions: validates each webhook, then watches the containers. */
export async function startEventGridPublisher(
  options: EventGridPublisherOptions,
): Promise<EventGridPublisher> {
  const routes = options.subscriptions.map((s) => routeOf(s, options));
  const receiptsFile = options.stateDir ? join(options.stateDir, 'eventgrid-receipts.json') : undefined;
  const state: PublisherState = {
    options,
    routes,
    receipts: await loadJsonState<Record<string, string>>(receiptsFile, {}, 'Event Grid receipts'),
    closed: false,
    inFlight: new Set(),
    delivering: new Set(),
    sleepers: new Map(),
    watcher: {
      enabled: (options.watch ?? true) && routes.length > 0,
      scans: 0,
      scanning: false,
      published: 0,
      waiters: [],
      reportedErrors: new Set(),
      timer: undefined,
      current: undefined,
    },
  };
  for (const route of routes) await validateWebhook(route, options.log);
  if (state.watcher.enabled) watch(state);
  return {
    whenScanned: (count = 1) => whenScanned(state, count),
    async settled() {
      while (state.inFlight.size > 0) await Promise.all([...state.inFlight]);
    },
    close: () => closePublisher(state),
  };
}

async function closePublisher(state: PublisherState): Promise<void> {
  state.closed = true;
  clearTimeout(state.watcher.timer);
  // Wake deliveries waiting to retry: they see `closed` and end without a receipt.
  for (const [timer, wake] of state.sleepers) {
    clearTimeout(timer);
    wake();
  }
  state.sleepers.clear();
  await state.watcher.current;
  await Promise.allSettled([...state.inFlight]);
  await state.receipts.flushed();
}

// ------------------------------------------------------------------------------------------ receipts

function receiptKey(route: Route, blob: string): string {
  return `${route.subscription.name}|${route.service.accountName}/${route.container}/${blob}`;
}

function hasReceipt(state: PublisherState, key: string, etag: string): boolean {
  return state.receipts.value[key] === etag;
}

async function recordReceipt(state: PublisherState, key: string, etag: string): Promise<void> {
  if (hasReceipt(state, key, etag)) return;
  state.receipts.value[key] = etag;
  await state.receipts.save();
}

// ------------------------------------------------------------------------------------------ delivery

/** Starts delivering one event; its receipt is recorded once the delivery is over. Nobody awaits it. */
function publish(
  state: PublisherState,
  route: Route,
  event: EventGridSchemaEvent,
  blob: string,
  etag: string,
) {
  const key = receiptKey(route, blob);
  state.delivering.add(key);
  const work = deliver(state, route, event)
    .then(async (over) => {
      if (over) await recordReceipt(state, key, etag);
    })
    // Nobody awaits a delivery: a failure such as an unwritable state file is logged, never left unhandled.
    .catch((error: unknown) =>
      state.options.log(`Event Grid delivery of ${event.subject}: ${(error as Error)?.message ?? error}`),
    )
    .finally(() => {
      state.inFlight.delete(work);
      state.delivering.delete(key);
    });
  state.inFlight.add(work);
}

/** Delivers until acknowledged or the retry policy runs out; false when the host stopped first. */
async function deliver(state: PublisherState, route: Route, event: EventGridSchemaEvent): Promise<boolean> {
  const { log, clock } = state.options;
  const { maxDeliveryAttempts, eventTimeToLiveInMinutes } = route.subscription;
  const publishTime = clock.date();
  const expiresAt = publishTime.getTime() + eventTimeToLiveInMinutes * 60_000;
  for (let attempt = 1; ; attempt++) {
    const status = await post(route, event, attempt);
    if (status >= 200 && status <= 204) return true;
    const lastOutcome = status
      ? (STATUS_CODES[status] ?? String(status)).replace(/[^A-Za-z]/g, '')
      : 'TimedOut';
    log(
      `Event Grid subscription '${route.subscription.name}': delivery ${attempt}/${maxDeliveryAttempts} of ${event.subject} failed (${status || 'no answer'}).`,
    );
    if (state.closed) return false;
    const delay = Math.max(RETRY_SCHEDULE_MS[attempt - 1] ?? 3_600_000, MIN_RETRY_DELAY_MS[status] ?? 10_000);
    const reason: DeadLetterReason | undefined =
      attempt >= maxDeliveryAttempts
        ? 'MaxDeliveryAttemptsExceeded'
        : clock.now() + delay > expiresAt
          ? 'TimeToLiveExceeded'
          : undefined;
    if (reason) {
      const record = deadLetterRecord(event, {
        reason,
        attempts: attempt,
        lastOutcome,
        publishTime,
        lastAttemptTime: clock.date(),
      });
      await deadLetter(state.options, route, record);
      return true;
    }
    await sleepVirtual(state, delay);
    if (state.closed) return false;
  }
}

/** One POST as Event Grid sends it; the status, or 0 when no answer came (refused, reset, timed out). */
async function post(route: Route, event: EventGridSchemaEvent, attempt: number): Promise<number> {
  try {
    const response = await fetch(route.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'aeg-event-type': 'Notification',
        'aeg-subscription-name': route.subscription.name.toUpperCase(),
        'aeg-delivery-count': String(attempt - 1),
        'aeg-data-version': event.dataVersion,
        'aeg-metadata-version': event.metadataVersion,
      },
      body: JSON.stringify([event]),
      signal: AbortSignal.timeout(RESPONSE_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** Waits `virtualMs` of the host's clock; close wakes the wait early. */
function sleepVirtual(state: PublisherState, virtualMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      state.sleepers.delete(timer);
      resolve();
    }, state.options.clock.toRealDelayMs(virtualMs));
    state.sleepers.set(timer, resolve);
  });
}

async function deadLetter(
  { log, clock }: EventGridPublisherOptions,
  route: Route,
  record: Record<string, unknown>,
): Promise<void> {
  const { deadLetterContainer, name } = route.subscription;
  const what = `${record.subject} (${record.deadLetterReason})`;
  if (!deadLetterContainer) {
    log(`Event Grid subscription '${name}': dropped ${what}; it has no dead-letter container.`);
    return;
  }
  const container = route.service.getContainerClient(deadLetterContainer);
  const blobName = deadLetterBlobName(name, clock.date());
  try {
    await container.createIfNotExists();
    const body = JSON.stringify([record]);
    await container.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body));
    log(`Event Grid subscription '${name}': dead-lettered ${what} to ${deadLetterContainer}/${blobName}.`);
  } catch (error) {
    log(
      `Event Grid subscription '${name}': dropped ${what}; the dead letter could not be written: ${(error as Error).message}`,
    );
  }
}

// ------------------------------------------------------------------------------------------ webhook validation

/** Event Grid validates a webhook when the subscription is created; a failed handshake disables it. */
async function validateWebhook(route: Route, log: (line: string) => void): Promise<void> {
  const code = randomUUID();
  const topic = storageAccountTopic(route.service.accountName);
  try {
    const response = await fetch(route.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'aeg-event-type': 'SubscriptionValidation',
      },
      body: JSON.stringify([subscriptionValidationEvent(topic, code)]),
      signal: AbortSignal.timeout(RESPONSE_TIMEOUT_MS),
    });
    const text = await response.text();
    const answer = response.ok ? (JSON.parse(text) as { validationResponse?: string }) : {};
    if (answer.validationResponse === code) return;
    route.failed = true;
    log(
      `Event Grid subscription '${route.subscription.name}' failed validation: the webhook for '${route.subscription.functionName}' answered ${response.status} ${text.slice(0, 200)}`,
    );
  } catch (error) {
    route.failed = true;
    log(
      `Event Grid subscription '${route.subscription.name}' failed validation: ${(error as Error).message}`,
    );
  }
}

// ------------------------------------------------------------------------------------------ watcher

/** Scans now, then again `pollIntervalMs` after each scan ends, until close. */
function watch(state: PublisherState): void {
  if (state.closed) return;
  const { watcher } = state;
  watcher.current = scan(state).finally(() => {
    watcher.current = undefined;
    if (!state.closed) watcher.timer = setTimeout(() => watch(state), state.options.pollIntervalMs ?? 1000);
  });
}

function whenScanned(state: PublisherState, count: number): Promise<void> {
  const { watcher } = state;
  if (!watcher.enabled) {
    return Promise.reject(
      new Error('The Event Grid stand-in is not watching (watch: false or no subscriptions).'),
    );
  }
  return new Promise((resolve) =>
    watcher.waiters.push({ target: watcher.scans + (watcher.scanning ? 1 : 0) + count, resolve }),
  );
}

async function scan(state: PublisherState): Promise<void> {
  const { watcher } = state;
  watcher.scanning = true;
  try {
    for (const route of state.routes.filter((r) => !r.failed)) {
      try {
        await scanRoute(state, route);
      } catch (error) {
        if (isNotFound(error)) continue; // container not created yet
        const message = `Event Grid stand-in cannot list '${route.container}' for '${route.subscription.name}': ${(error as Error).message}`;
        if (!watcher.reportedErrors.has(message)) state.options.log(message);
        watcher.reportedErrors.add(message);
      }
    }
  } finally {
    watcher.scanning = false;
    watcher.scans++;
    for (const waiter of watcher.waiters.filter((w) => w.target <= watcher.scans)) {
      watcher.waiters.splice(watcher.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }
}

/** Publishes a BlobCreated event for every blob version in the route's container that has no receipt. */
async function scanRoute(state: PublisherState, route: Route): Promise<void> {
  const container = route.service.getContainerClient(route.container);
  const account = {
    name: route.service.accountName,
    blobUrl: (c: string, b: string) => route.service.getContainerClient(c).getBlobClient(b).url,
  };
  for await (const item of container.listBlobsFlat({ prefix: route.prefix })) {
    if (state.closed) return;
    const etag = normaliseEtag(item.properties.etag ?? '');
    const key = receiptKey(route, item.name);
    if (!etag || hasReceipt(state, key, etag) || state.delivering.has(key)) continue;
    const event = blobCreatedEvent(
      account,
      route.container,
      {
        name: item.name,
        etag,
        contentType: item.properties.contentType,
        contentLength: item.properties.contentLength,
        blobType: item.properties.blobType,
        lastModified: item.properties.lastModified,
      },
      ++state.watcher.published,
    );
    if (matches(route, event)) publish(state, route, event, item.name, etag);
  }
}
