// Blob triggers with source EventGrid: the Event Grid webhook exactly as Azure calls it (validation
// handshake, BlobCreated notifications, system key), retries then poison, and the local watcher that turns
// an upload into exactly one event — across a restart too. Storage is the stack's Azurite (https).
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startHost } from '../../../local/host/host.js';
import { fixtureApp, records, storageConnectionString, tempDir, waitFor } from './helpers.js';

interface UploadRecord {
  content: string;
  triggerMetadata: {
    name: string;
    blobTrigger: string;
    uri: string;
    properties: {
      eTag: string;
      contentType: string;
      contentLength: number;
      length: number;
      lastModified: string;
    };
    metadata: Record<string, string>;
  };
}

const out = tempDir('blob-out');
const state = tempDir('blob-state');
// A container of its own per run, so blobs of earlier runs (and their missing receipts) play no part.
const containerName = `fixture-inbox-${randomUUID().slice(0, 8)}`;
const env = {
  FIXTURE_OUT_DIR: out,
  FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *',
  FIXTURE_CONTAINER: containerName,
  LOCAL_TIME_SCALE: '1',
};
let container: ContainerClient;

beforeAll(async () => {
  container = BlobServiceClient.fromConnectionString(storageConnectionString()).getContainerClient(
    containerName,
  );
  await container.createIfNotExists();
});

const uploadsOf = (name: string) =>
  records<UploadRecord>(out, 'uploads.jsonl').filter((r) => r.triggerMetadata.name === name);

/** A BlobCreated event in the Event Grid schema, shaped like Microsoft's published sample event. */
async function blobCreatedEvent(name: string) {
  const props = await container.getBlobClient(name).getProperties();
  return {
    topic:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Storage/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
    subject: `/blobServices/default/containers/${containerName}/blobs/${name}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: '2017-06-26T18:41:00.9584103Z',
    id: '831e1650-001e-001b-66ab-eeb76e069631',
    data: {
      api: 'PutBlockList',
      clientRequestId: '6d79dbfb-0e37-4fc4-981f-442c9ca65760',
      requestId: '831e1650-001e-001b-66ab-eeb76e000000',
      eTag: props.etag,
      contentType: 'text/plain',
      contentLength: props.contentLength,
      blobType: 'BlockBlob',
      url: container.getBlobClient(name).url,
      sequencer: '00000000000004420000000000028963',
      storageDiagnostics: { batchId: 'b68529f3-68cd-4744-baa4-3c0498ec19f0' },
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

describe('Event Grid webhook (watcher off)', () => {
  let host: RunningHost;
  let webhook: string;
  beforeAll(async () => {
    host = await startHost({
      appRoot: fixtureApp,
      port: 0,
      stateDir: state,
      env,
      blob: { watch: false, retryBaseDelayMs: 10 },
      log: () => {},
    });
    webhook = `${host.baseUrl}/runtime/webhooks/blobs?functionName=Host.Functions.onUpload&code=${host.keys.systemKey}`;
  });
  afterAll(() => host?.close());

  const post = (url: string, type: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'aeg-event-type': type, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('answers the subscription validation handshake', async () => {
    const res = await post(webhook, 'SubscriptionValidation', [
      {
        id: '2d1781af-3a4c-4d7c-bd0c-e34b19da4e66',
        topic: '/subscriptions/xx/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct',
        subject: '',
        data: {
          validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6',
          validationUrl: 'https://example.invalid',
        },
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        eventTime: '2018-01-25T22:12:19.4556811Z',
        metadataVersion: '1',
        dataVersion: '1',
      },
    ]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
  });

  it('requires the system (or master) key, like the blobs_extension key', async () => {
    const url = webhook.replace(/&code=.*$/, '');
    expect((await post(url, 'Notification', [])).status).toBe(401);
    expect((await post(`${url}&code=${host.keys.functionKey}`, 'Notification', [])).status).toBe(401);
    expect((await post(url, 'Notification', [], { 'x-functions-key': host.keys.masterKey })).status).toBe(
      202,
    );
  });

  it('runs the function with the blob content and metadata for a BlobCreated event, and again for a duplicate', async () => {
    const name = `hook-${randomUUID()}.txt`;
    await container.getBlockBlobClient(name).upload('hello blob', 10, {
      blobHTTPHeaders: { blobContentType: 'text/plain' },
      metadata: { origin: 'contract-test' },
    });
    const event = await blobCreatedEvent(name);
    const res = await post(webhook, 'Notification', [event]);
    expect(res.status).toBe(202);
    const [first] = await waitFor(
      () => (uploadsOf(name).length ? uploadsOf(name) : undefined),
      'the blob function',
    );
    expect(first!.content).toBe('hello blob');
    expect(first!.triggerMetadata).toMatchObject({
      name,
      blobTrigger: `${containerName}/${name}`,
      uri: container.getBlobClient(name).url,
      metadata: { origin: 'contract-test' },
      properties: { eTag: event.data.eTag, contentType: 'text/plain', contentLength: 10, length: 10 },
    });
    expect(Date.parse(first!.triggerMetadata.properties.lastModified)).not.toBeNaN();

    // Event Grid is at-least-once: the same event delivered again runs the function again.
    expect((await post(webhook, 'Notification', [event])).status).toBe(202);
    await waitFor(() => (uploadsOf(name).length === 2 ? true : undefined), 'the second delivery');
  });

  it('accepts the CloudEvents 1.0 schema too', async () => {
    const name = `cloud-${randomUUID()}.txt`;
    await container.getBlockBlobClient(name).upload('cloud', 5);
    const { data, subject, id } = await blobCreatedEvent(name);
    const res = await fetch(webhook, {
      method: 'POST',
      headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([
        {
          specversion: '1.0',
          type: 'Microsoft.Storage.BlobCreated',
          source: '/subscriptions/x',
          id,
          subject,
          time: '2024-01-01T00:00:00Z',
          data,
        },
      ]),
    });
    expect(res.status).toBe(202);
    await waitFor(() => uploadsOf(name)[0], 'the CloudEvents delivery');
  });

  it('ignores events for other containers or event types', async () => {
    const name = `other-${randomUUID()}.txt`;
    await container.getBlockBlobClient(name).upload('other', 5);
    const event = await blobCreatedEvent(name);
    await post(webhook, 'Notification', [
      { ...event, subject: `/blobServices/default/containers/elsewhere/blobs/${name}` },
      { ...event, eventType: 'Microsoft.Storage.BlobDeleted' },
    ]);
    await host.blobs.settled();
    expect(uploadsOf(name)).toHaveLength(0);
  });

  it('retries a failing invocation 5 times, then records the blob as poison', async () => {
    const name = `poison-${randomUUID()}.txt`;
    await container.getBlockBlobClient(name).upload('fail please', 11);
    await post(webhook, 'Notification', [await blobCreatedEvent(name)]);
    await waitFor(() => (uploadsOf(name).length === 5 ? true : undefined), 'five attempts');
    await host.blobs.settled();
    expect(uploadsOf(name)).toHaveLength(5);
    const poison = JSON.parse(readFileSync(join(state, 'blob-poison.json'), 'utf8'));
    expect(poison).toContainEqual(
      expect.objectContaining({
        functionName: 'onUpload',
        blob: `${containerName}/${name}`,
        attempts: 5,
        error: `refusing ${name}`,
      }),
    );
  });

  it('counts a failing preInvocation hook as a failed attempt: retries, then poison (no crash)', async () => {
    const name = `hook-${randomUUID()}.txt`;
    await container.getBlockBlobClient(name).upload('hook-fail', 9);
    await post(webhook, 'Notification', [await blobCreatedEvent(name)]);
    await waitFor(() => {
      const file = join(state, 'blob-poison.json');
      if (!existsSync(file)) return undefined;
      const poison = JSON.parse(readFileSync(file, 'utf8')) as { blob: string }[];
      return poison.find((p) => p.blob === `${containerName}/${name}`);
    }, 'a poison record');
    await host.blobs.settled();
    expect(uploadsOf(name)).toHaveLength(0); // the handler itself never ran
    const poison = JSON.parse(readFileSync(join(state, 'blob-poison.json'), 'utf8'));
    expect(poison).toContainEqual(
      expect.objectContaining({
        blob: `${containerName}/${name}`,
        error: 'the preInvocation hook refused this blob',
      }),
    );
  });
});

describe('blob watcher (stands in for Event Grid)', () => {
  const startWatching = () =>
    startHost({
      appRoot: fixtureApp,
      port: 0,
      stateDir: state,
      env,
      blob: { pollIntervalMs: 50 },
      log: () => {},
    });

  it('turns one upload into exactly one invocation, also across a restart', async () => {
    let host = await startWatching();
    try {
      // Blobs delivered through the webhook above left receipts: the watcher raises no event for them.
      await host.blobs.whenScanned(2);
      await host.blobs.settled();
      expect(records(out, 'uploads.jsonl').filter((r) => JSON.stringify(r).includes('"hook-'))).toHaveLength(
        2,
      );

      const name = `watched-${randomUUID()}.txt`;
      await container.getBlockBlobClient(name).upload('watched', 7);
      await waitFor(() => uploadsOf(name)[0], 'the watcher to deliver the upload');
      await host.blobs.whenScanned(3);
      await host.blobs.settled();
      expect(uploadsOf(name)).toHaveLength(1);

      await host.close();
      host = await startWatching();
      await host.blobs.whenScanned(2);
      await host.blobs.settled();
      expect(uploadsOf(name)).toHaveLength(1);

      // A new version of the blob (new ETag) is a new upload: one more event.
      await container.getBlockBlobClient(name).upload('watched v2', 10);
      await waitFor(() => (uploadsOf(name).length === 2 ? true : undefined), 'the second version');
      await host.blobs.whenScanned(2);
      expect(uploadsOf(name).map((r) => r.content)).toEqual(['watched', 'watched v2']);
    } finally {
      await host.close();
    }
  });
});

describe('blob receipts are written when a delivery is over (at least once across a stop)', () => {
  it('delivers a blob again after a restart when the host stopped while its delivery was still retrying', async () => {
    // A container and state of its own: the receipts of the tests above play no part.
    const ownState = tempDir('blob-stop-state');
    const ownContainer = `fixture-stop-${randomUUID().slice(0, 8)}`;
    const ownEnv = { ...env, FIXTURE_CONTAINER: ownContainer };
    const client = BlobServiceClient.fromConnectionString(storageConnectionString()).getContainerClient(
      ownContainer,
    );
    await client.createIfNotExists();
    const receipts = (): Record<string, string> => {
      const file = join(ownState, 'blob-receipts.json');
      return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    };
    const start = (blob: { maxAttempts?: number; retryBaseDelayMs?: number }) =>
      startHost({
        appRoot: fixtureApp,
        port: 0,
        stateDir: ownState,
        env: ownEnv,
        blob: { pollIntervalMs: 50, ...blob },
        log: () => {},
      });

    const name = `stopped-${randomUUID()}.txt`;
    await client.getBlockBlobClient(name).upload('fail until poison', 17);
    // The first attempt fails; the retry waits a minute, so the host is stopped mid-delivery.
    let host = await start({ retryBaseDelayMs: 60_000 });
    try {
      await waitFor(() => (uploadsOf(name).length === 1 ? true : undefined), 'the first attempt');
      // While the delivery is pending, the watcher raises no second event and no receipt is written.
      await host.blobs.whenScanned(3);
      expect(uploadsOf(name)).toHaveLength(1);
      expect(Object.keys(receipts()).filter((k) => k.endsWith(`/${name}`))).toEqual([]);
    } finally {
      await host.close();
    }
    expect(Object.keys(receipts()).filter((k) => k.endsWith(`/${name}`))).toEqual([]);

    // After the restart the upload is delivered again; one attempt only, so it ends as poison, with a receipt.
    host = await start({ maxAttempts: 1 });
    try {
      await waitFor(() => (uploadsOf(name).length === 2 ? true : undefined), 'the redelivery after restart');
      await host.blobs.settled();
      await host.blobs.whenScanned(2);
      expect(Object.keys(receipts()).filter((k) => k.endsWith(`/${name}`))).toHaveLength(1);
    } finally {
      await host.close();
    }

    // Its delivery is over (poison): a further restart delivers it no more.
    host = await start({ maxAttempts: 1 });
    try {
      await host.blobs.whenScanned(2);
      await host.blobs.settled();
      expect(uploadsOf(name)).toHaveLength(2);
    } finally {
      await host.close();
    }
  });
});
