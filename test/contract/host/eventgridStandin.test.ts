// The local stand-in for Storage's Event Grid system topic and its subscriptions (local/host/eventgridPublisher.ts):
// - its BlobCreated events have the shape of Microsoft's documented sample (articles/event-grid/
//   event-schema-blob-storage.md, test/fixtures/eventgrid), field by field;
// - one upload (one etag) is delivered exactly once while deliveries succeed, across a restart too, and only
//   blobs the subscription's filter matches are delivered;
// - a failing delivery is retried on Event Grid's schedule until maxDeliveryAttempts or the event TTL runs out,
//   then dead-lettered as <container>/<SUBSCRIPTION>/<Y>/<M>/<D>/<H>/<guid>.json with the documented fields
//   (articles/event-grid/delivery-and-retry.md, manage-event-delivery.md);
// - receipts are written only once a delivery is over, so a host stopped mid-delivery delivers again (at least once).
// Storage is the stack's Azurite (https).
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EventGridSchemaEvent } from '../../../local/host/eventgridEvents.js';
import type { EventGridSubscription } from '../../../local/host/eventgridPublisher.js';
import { type RunningHost, startHost } from '../../../local/host/host.js';
import { documentedBlobCreated } from '../../fixtures/eventgrid/sample.js';
import { fixtureApp, records, storageConnectionString, tempDir, waitFor } from './helpers.js';

interface EventRecord {
  event: EventGridSchemaEvent;
}

const out = tempDir('egsi-out');
const service = () => BlobServiceClient.fromConnectionString(storageConnectionString());

/** A container of its own per test, so blobs (and missing receipts) of other tests play no part. */
async function newContainer(prefix: string): Promise<ContainerClient> {
  const container = service().getContainerClient(`${prefix}-${randomUUID().slice(0, 8)}`);
  await container.create();
  return container;
}

function subscription(
  container: string,
  overrides: Partial<EventGridSubscription> = {},
): EventGridSubscription {
  return {
    name: 'fixture-blobcreated',
    functionName: 'onEvent',
    connection: 'AzureWebJobsStorage',
    includedEventTypes: ['Microsoft.Storage.BlobCreated'],
    subjectBeginsWith: `/blobServices/default/containers/${container}/blobs/`,
    eventDeliverySchema: 'EventGridSchema',
    maxDeliveryAttempts: 30,
    eventTimeToLiveInMinutes: 1440,
    ...overrides,
  };
}

function start(
  stateDir: string,
  subscriptions: EventGridSubscription[],
  options: { timeScale?: number; log?: string[]; env?: Record<string, string> } = {},
): Promise<RunningHost> {
  return startHost({
    appRoot: fixtureApp,
    port: 0,
    stateDir,
    env: {
      FIXTURE_OUT_DIR: out,
      FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *',
      LOCAL_TIME_SCALE: String(options.timeScale ?? 1),
      LOCAL_BLOB_WATCH: 'true',
      ...options.env,
    },
    eventGrid: { pollIntervalMs: 50, subscriptions },
    log: (line) => options.log?.push(line),
  });
}

/** Starts a host on `stateDir`, lets its watcher scan three times and settle, and stops it. */
async function restartAndSettle(stateDir: string, subscriptions: EventGridSubscription[]): Promise<void> {
  const host = await start(stateDir, subscriptions);
  try {
    await host.eventGrid.whenScanned(3);
    await host.eventGrid.settled();
  } finally {
    await host.close();
  }
}

const deliveriesOf = (container: string, name: string) =>
  records<EventRecord>(out, 'events.jsonl').filter(
    (r) => r.event.subject === `/blobServices/default/containers/${container}/blobs/${name}`,
  );

/** The format of a sample value, so the stand-in's values can be compared with the documented ones. */
function formatOf(value: unknown): string {
  if (typeof value !== 'string') return typeof value;
  const formats: [string, RegExp][] = [
    ['empty', /^$/],
    ['storage request id', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{6}000000$/],
    ['guid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/],
    ['quoted etag', /^"0x[0-9A-F]+"$/],
    ['round-trip utc time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/],
    ['32 hex digits', /^[0-9A-Fa-f]{32}$/],
    [
      'storage account topic',
      /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+$/,
    ],
    ['blob subject', /^\/blobServices\/default\/containers\/[^/]+\/blobs\/.+$/],
    ['https blob url', /^https:\/\/[^/]+\/.+\/[^/]+$/],
    ['mime type', /^[a-z]+\/[a-z0-9.+-]+$/],
  ];
  return formats.find(([, pattern]) => pattern.test(value))?.[0] ?? `literal ${value}`;
}

/** Every leaf of `value` as `path: format`, keys sorted. */
function shapeOf(value: unknown, path = ''): string[] {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.keys(value)
      .sort()
      .flatMap((key) => shapeOf((value as Record<string, unknown>)[key], path ? `${path}.${key}` : key));
  }
  return [`${path}: ${formatOf(value)}`];
}

describe('the stand-in publishes BlobCreated as Azure Storage does', () => {
  let container: ContainerClient;
  let host: RunningHost;
  beforeAll(async () => {
    container = await newContainer('egsi-shape');
    host = await start(tempDir('egsi-shape'), [subscription(container.containerName)]);
    return () => host.close();
  });

  it("matches Microsoft's documented sample field by field", async () => {
    const name = 'new-file.txt';
    const uploaded = await container.getBlockBlobClient(name).upload('x'.repeat(524), 524, {
      blobHTTPHeaders: { blobContentType: 'text/plain' },
    });
    const [delivered] = await waitFor(() => {
      const found = deliveriesOf(container.containerName, name);
      return found.length ? found : undefined;
    }, 'the BlobCreated delivery');
    const sample = documentedBlobCreated();
    const event = delivered!.event;
    const literals = (e: typeof sample | typeof event) => ({
      eventType: e.eventType,
      dataVersion: (e as typeof sample).dataVersion,
      metadataVersion: (e as typeof sample).metadataVersion,
      blobType: e.data.blobType,
    });
    expect(shapeOf(event).filter((line) => !line.startsWith('data.api'))).toEqual(
      shapeOf(sample).filter((line) => !line.startsWith('data.api')),
    );
    expect(literals(event)).toEqual(literals(sample));
    // The values that describe this blob.
    expect(event.subject).toBe(`/blobServices/default/containers/${container.containerName}/blobs/${name}`);
    expect(event.topic.endsWith(`/storageAccounts/${service().accountName}`)).toBe(true);
    expect(event.data).toMatchObject({
      api: 'PutBlob',
      eTag: uploaded.etag,
      contentLength: 524,
      contentType: 'text/plain',
      url: container.getBlobClient(name).url,
    });
  });

  it('delivers each upload once, and a new version of the blob once more', async () => {
    const name = `versions-${randomUUID()}.txt`;
    await container.getBlockBlobClient(name).upload('v1', 2);
    await waitFor(() => deliveriesOf(container.containerName, name)[0], 'the first version');
    await host.eventGrid.whenScanned(3);
    await host.eventGrid.settled();
    expect(deliveriesOf(container.containerName, name)).toHaveLength(1);
    await container.getBlockBlobClient(name).upload('v2', 2);
    await waitFor(
      () => (deliveriesOf(container.containerName, name).length === 2 ? true : undefined),
      'the second version',
    );
    const [v1, v2] = deliveriesOf(container.containerName, name).map((r) => r.event);
    expect(v1!.data.eTag).not.toBe(v2!.data.eTag);
    expect(String(v2!.data.sequencer) > String(v1!.data.sequencer)).toBe(true);
  });
});

describe('subscription filters and the LOCAL_BLOB_WATCH switch', () => {
  it('delivers only blobs under subjectBeginsWith that end with subjectEndsWith', async () => {
    const container = await newContainer('egsi-filter');
    const host = await start(tempDir('egsi-filter'), [
      subscription(container.containerName, {
        subjectBeginsWith: `/blobServices/default/containers/${container.containerName}/blobs/in/`,
        subjectEndsWith: '.parquet',
      }),
    ]);
    try {
      for (const name of ['in/a.parquet', 'in/b.txt', 'other/c.parquet'])
        await container.getBlockBlobClient(name).upload('x', 1);
      await waitFor(() => deliveriesOf(container.containerName, 'in/a.parquet')[0], 'the matching blob');
      await host.eventGrid.whenScanned(3);
      await host.eventGrid.settled();
      expect(deliveriesOf(container.containerName, 'in/b.txt')).toHaveLength(0);
      expect(deliveriesOf(container.containerName, 'other/c.parquet')).toHaveLength(0);
    } finally {
      await host.close();
    }
  });

  it("validates each subscription's webhook at start; one that fails the handshake delivers nothing", async () => {
    const container = await newContainer('egsi-invalid');
    const log: string[] = [];
    const host = await start(
      tempDir('egsi-invalid'),
      [subscription(container.containerName, { functionName: 'hello' })],
      {
        log,
      },
    );
    try {
      expect(log.join('\n')).toMatch(
        /'fixture-blobcreated' failed validation: the webhook for 'hello' answered 404/,
      );
    } finally {
      await host.close();
    }
  });

  it('publishes nothing with LOCAL_BLOB_WATCH=false', async () => {
    const container = await newContainer('egsi-nowatch');
    const host = await startHost({
      appRoot: fixtureApp,
      port: 0,
      env: { FIXTURE_OUT_DIR: out, FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *', LOCAL_BLOB_WATCH: 'false' },
      eventGrid: { subscriptions: [subscription(container.containerName)] },
      log: () => {},
    });
    try {
      await expect(host.eventGrid.whenScanned()).rejects.toThrow(/not watching/);
    } finally {
      await host.close();
    }
  });
});

describe('retries, dead letters and receipts', () => {
  const deadLetters = async (container: ContainerClient) => {
    const found: { name: string; records: Record<string, unknown>[] }[] = [];
    for await (const blob of container.listBlobsFlat()) {
      const text = (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
      found.push({ name: blob.name, records: JSON.parse(text) });
    }
    return found;
  };

  it('retries a failing delivery until maxDeliveryAttempts, then dead-letters it in the documented format', async () => {
    const container = await newContainer('egsi-retry');
    const deadLetterContainer = `${container.containerName}-dl`;
    // 60× time: Event Grid's 10 s and 30 s retry delays pass in under a second.
    const host = await start(
      tempDir('egsi-retry'),
      [subscription(container.containerName, { maxDeliveryAttempts: 3, deadLetterContainer })],
      { timeScale: 60 },
    );
    try {
      const name = `fail-${randomUUID()}.txt`;
      await container.getBlockBlobClient(name).upload('x', 1);
      await waitFor(
        () => (deliveriesOf(container.containerName, name).length === 3 ? true : undefined),
        'three attempts',
      );
      await host.eventGrid.settled();
      const letters = await deadLetters(service().getContainerClient(deadLetterContainer));
      expect(letters).toHaveLength(1);
      expect(letters[0]!.name).toMatch(
        /^FIXTURE-BLOBCREATED\/\d{4}\/\d{1,2}\/\d{1,2}\/\d{1,2}\/[0-9a-f-]{36}\.json$/,
      );
      const [record] = letters[0]!.records;
      expect(record).toMatchObject({
        ...deliveriesOf(container.containerName, name)[0]!.event,
        deadLetterReason: 'MaxDeliveryAttemptsExceeded',
        deliveryAttempts: 3,
        lastDeliveryOutcome: 'InternalServerError',
      });
      // The three attempts carried one event: Event Grid redelivers the same event, it does not make a new one.
      expect(new Set(deliveriesOf(container.containerName, name).map((r) => r.event.id)).size).toBe(1);
      // Dead-lettered is over: no further delivery.
      await host.eventGrid.whenScanned(3);
      expect(deliveriesOf(container.containerName, name)).toHaveLength(3);
    } finally {
      await host.close();
    }
  });

  it('dead-letters when the next retry would fall after the event time-to-live', async () => {
    const container = await newContainer('egsi-ttl');
    const deadLetterContainer = `${container.containerName}-dl`;
    const host = await start(
      tempDir('egsi-ttl'),
      [subscription(container.containerName, { eventTimeToLiveInMinutes: 1, deadLetterContainer })],
      { timeScale: 60 },
    );
    try {
      const name = `fail-ttl-${randomUUID()}.txt`;
      await container.getBlockBlobClient(name).upload('x', 1);
      await waitFor(() => deliveriesOf(container.containerName, name)[0], 'the first attempt');
      await host.eventGrid.whenScanned(2);
      await host.eventGrid.settled();
      // Attempts at 0 s, 10 s and 40 s; the next would be at 100 s, past the 60 s time-to-live.
      expect(deliveriesOf(container.containerName, name)).toHaveLength(3);
      const [letter] = await deadLetters(service().getContainerClient(deadLetterContainer));
      expect(letter!.records[0]).toMatchObject({
        deadLetterReason: 'TimeToLiveExceeded',
        deliveryAttempts: 3,
      });
    } finally {
      await host.close();
    }
  });

  it('delivers again after a restart when the host stopped while a delivery was waiting to retry', async () => {
    const container = await newContainer('egsi-stop');
    const stateDir = tempDir('egsi-stop');
    const receipts = (): Record<string, string> => {
      const file = join(stateDir, 'eventgrid-receipts.json');
      return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    };
    const name = `fail-stop-${randomUUID()}.txt`;
    await container.getBlockBlobClient(name).upload('x', 1);
    // Real time: the first retry is 10 s away when the host stops.
    let host = await start(stateDir, [subscription(container.containerName)]);
    try {
      await waitFor(() => deliveriesOf(container.containerName, name)[0], 'the first attempt');
      await host.eventGrid.whenScanned(3);
      expect(deliveriesOf(container.containerName, name)).toHaveLength(1);
    } finally {
      await host.close();
    }
    expect(Object.keys(receipts()).filter((k) => k.endsWith(`/${name}`))).toEqual([]);

    // After the restart the upload is delivered again; one attempt only now, so it ends (dropped), with a receipt.
    host = await start(stateDir, [subscription(container.containerName, { maxDeliveryAttempts: 1 })]);
    try {
      await waitFor(
        () => (deliveriesOf(container.containerName, name).length === 2 ? true : undefined),
        'the redelivery',
      );
      await host.eventGrid.settled();
      expect(Object.keys(receipts()).filter((k) => k.endsWith(`/${name}`))).toHaveLength(1);
    } finally {
      await host.close();
    }

    // Its delivery is over: a further restart delivers it no more.
    await restartAndSettle(stateDir, [subscription(container.containerName)]);
    expect(deliveriesOf(container.containerName, name)).toHaveLength(2);
  });

  it('keeps a delivered upload delivered across a restart', async () => {
    const container = await newContainer('egsi-restart');
    const stateDir = tempDir('egsi-restart');
    const name = `ok-${randomUUID()}.txt`;
    await container.getBlockBlobClient(name).upload('x', 1);
    await restartAndSettle(stateDir, [subscription(container.containerName)]);
    expect(deliveriesOf(container.containerName, name)).toHaveLength(1);
    await restartAndSettle(stateDir, [subscription(container.containerName)]);
    expect(deliveriesOf(container.containerName, name)).toHaveLength(1);
  });
});
