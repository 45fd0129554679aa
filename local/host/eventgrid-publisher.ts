/**
 * The local stand-in for Azure Storage's Event Grid system topic and its subscriptions. In Azure, Storage
 * publishes a `Microsoft.Storage.BlobCreated` event when a blob is committed and Event Grid delivers it to each
 * subscription whose filter matches, retrying with backoff until the retry policy runs out, then dead-letters
 * it. Locally there is no Event Grid, so this module plays both parts for the subscriptions it is given
 * (LOCAL_EVENTGRID_SUBSCRIPTIONS: the ones the app's deployment creates on Azure):
 *
 *  - a watcher lists each subscription's container every `pollIntervalMs` and publishes one BlobCreated event
 *    (local/host/eventgrid-events.ts) for every blob version (etag) it holds no receipt for;
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
} from './eventgrid-events.js';
import { resolveSettingReferences } from './settings.js';
import { loadJsonState } from './state.js';

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
 * One publisher for all subscriptions. Its parts (deliveries, the watcher, receipts, shutdown) share the
 * in-flight and receipt state, so they are closures over it here rather than separate functions.
 */
export async function startEventGridPublisher(
  options: EventGridPublisherOptions,
): Promise<EventGridPublisher> {
  const { log, clock } = options;
  const routes = options.subscriptions.map((s) => routeOf(s, options));
  const receiptsFile = options.stateDir ? join(options.stateDir, 'eventgrid-receipts.json') : undefined;
  const state = await loadJsonState<Record<string, string>>(receiptsFile, {}, 'Event Grid receipts');
  const receipts = state.value;
  const receiptKey = (route: Route, blob: string) =>
    `${route.subscription.name}|${route.service.accountName}/${route.container}/${blob}`;

  let closed = false;
  const inFlight = new Set<Promise<void>>();
  /** Receipt keys with a delivery under way: the watcher publishes nothing more for them meanwhile. */
  const delivering = new Set<string>();
  const sleepers = new Map<NodeJS.Timeout, () => void>();
  const sleepVirtual = (virtualMs: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        sleepers.delete(timer);
        resolve();
      }, clock.toRealDelayMs(virtualMs));
      sleepers.set(timer, resolve);
    });

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

  /** Delivers until acknowledged or the retry policy runs out; false when the host stopped first. */
  async function deliver(route: Route, event: EventGridSchemaEvent): Promise<boolean> {
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
      if (closed) return false;
      const delay = Math.max(
        RETRY_SCHEDULE_MS[attempt - 1] ?? 3_600_000,
        MIN_RETRY_DELAY_MS[status] ?? 10_000,
      );
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
        await deadLetter(route, record);
        return true;
      }
      await sleepVirtual(delay);
      if (closed) return false;
    }
  }

  async function deadLetter(route: Route, record: Record<string, unknown>): Promise<void> {
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

  function publish(route: Route, event: EventGridSchemaEvent, blob: string, etag: string): void {
    const key = receiptKey(route, blob);
    delivering.add(key);
    const work = deliver(route, event)
      .then(async (over) => {
        if (!over || receipts[key] === etag) return;
        receipts[key] = etag;
        await state.save();
      })
      // Nobody awaits a delivery: a failure such as an unwritable state file is logged, never left unhandled.
      .catch((error: unknown) =>
        log(`Event Grid delivery of ${event.subject}: ${(error as Error)?.message ?? error}`),
      )
      .finally(() => {
        inFlight.delete(work);
        delivering.delete(key);
      });
    inFlight.add(work);
  }

  /** Event Grid validates a webhook when the subscription is created; a failed handshake disables it. */
  async function validate(route: Route): Promise<void> {
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

  let scans = 0;
  let scanning = false;
  let published = 0;
  const scanWaiters: { target: number; resolve: () => void }[] = [];
  const reportedErrors = new Set<string>();

  async function scanRoute(route: Route): Promise<void> {
    const container = route.service.getContainerClient(route.container);
    const account = {
      name: route.service.accountName,
      blobUrl: (c: string, b: string) => route.service.getContainerClient(c).getBlobClient(b).url,
    };
    for await (const item of container.listBlobsFlat({ prefix: route.prefix })) {
      if (closed) return;
      const etag = (item.properties.etag ?? '').replace(/^"|"$/g, '');
      const key = receiptKey(route, item.name);
      if (!etag || receipts[key] === etag || delivering.has(key)) continue;
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
        ++published,
      );
      if (matches(route, event)) publish(route, event, item.name, etag);
    }
  }

  async function scan(): Promise<void> {
    scanning = true;
    try {
      for (const route of routes.filter((r) => !r.failed)) {
        try {
          await scanRoute(route);
        } catch (error) {
          if (isNotFound(error)) continue; // container not created yet
          const message = `Event Grid stand-in cannot list '${route.container}' for '${route.subscription.name}': ${(error as Error).message}`;
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

  for (const route of routes) await validate(route);
  let watchTimer: NodeJS.Timeout | undefined;
  let currentScan: Promise<void> | undefined;
  const watching = (options.watch ?? true) && routes.length > 0;
  const loop = (): void => {
    if (closed) return;
    currentScan = scan().finally(() => {
      currentScan = undefined;
      if (!closed) watchTimer = setTimeout(loop, options.pollIntervalMs ?? 1000);
    });
  };
  if (watching) loop();

  return {
    whenScanned(count = 1) {
      if (!watching) {
        return Promise.reject(
          new Error('The Event Grid stand-in is not watching (watch: false or no subscriptions).'),
        );
      }
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
      await state.flushed();
    },
  };
}
