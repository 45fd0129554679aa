// The inbox trigger (functions/uploads.ts), the compiled app on the local host in this process, against the
// stack's Azurite. Its input is the event the Event Grid extension hands to Node: the JSON token it received,
// unchanged (EventGridExtensionConfigProvider.cs in Microsoft.Azure.WebJobs.Extensions.EventGrid binds a JToken;
// GrpcMessageConversionExtensions.cs in azure-functions-host sends a JObject to the worker as `json`), here
// Microsoft's documented BlobCreated sample (test/fixtures/eventgrid) aimed at a real upload. What it proves:
// - the trigger never downloads the blob: every storage request of this process is watched (the http client's
//   diagnostics channel), and the blob is only ever HEADed — once per delivery, conditional on the event's etag —
//   or read by the validator in small ranges, never fetched whole;
// - three deliveries of one event start one match; a version overwritten since its event, an event for another
//   container and another event type start nothing, each with a log line; bad per-file options get the
//   rejection report.
// The blob trigger it replaces hands Node `properties.eTag` as `{}`: BlobTriggerBinding.cs (Storage Blobs
// WebJobs extension) puts Azure.Storage.Blobs.Models.BlobProperties in the trigger metadata, whose ETag is the
// Azure.ETag struct (sdk/core/Azure.Core/src/ETag.cs: no public properties), and the host serializes metadata
// with Newtonsoft (ToRpcDefault in GrpcMessageConversionExtensions.cs), which writes such a struct as {}.
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startHost } from '../../../local/host/host.js';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { matchInstanceIdForBlob, rejectedUploadRunFor } from '../../../shared/workflow/ids.js';
import { nameKeyFor } from '../../../shared/workflow/outboxNames.js';
import { documentedBlobCreatedFor, type SampleEvent } from '../../fixtures/eventgrid/sample.js';
import { storageConnectionString } from '../host/helpers.js';

const repoRoot = join(__dirname, '../../..');
const inboxName = `inbox-trigger-${randomUUID().slice(0, 8)}`;
const hostLog: string[] = [];
let host: RunningHost;
let inbox: ContainerClient;

interface SeenRequest {
  method: string;
  path: string;
  range: string | undefined;
  ifMatch: string | undefined;
}
const seen: SeenRequest[] = [];
const onRequest = (message: unknown) => {
  const request = (message as { request: ClientRequest }).request;
  const header = (name: string) => {
    const value = request.getHeader(name);
    return value === undefined ? undefined : String(value);
  };
  seen.push({
    method: request.method,
    path: decodeURIComponent(request.path.split('?')[0]!),
    range: header('x-ms-range') ?? header('range'),
    ifMatch: header('if-match'),
  });
};

beforeAll(async () => {
  inbox = BlobServiceClient.fromConnectionString(storageConnectionString()).getContainerClient(inboxName);
  await inbox.create();
  subscribe('http.client.request.start', onRequest);
  host = await startHost({
    appRoot: repoRoot,
    port: 0,
    env: {
      INBOX_CONTAINER: inboxName,
      TASKHUB_NAME: `inboxtrigger${randomUUID().replace(/-/g, '').slice(0, 8)}`,
      SWEEP_SCHEDULE: '0 0 0 1 1 *',
      LOCAL_BLOB_WATCH: 'false',
    },
    eventGrid: { subscriptions: [] },
    log: (line) => hostLog.push(line),
  });
});
afterAll(async () => {
  unsubscribe('http.client.request.start', onRequest);
  await host?.close();
});

async function upload(name: string, bytes: Uint8Array, metadata?: Record<string, string>) {
  const blob = inbox.getBlockBlobClient(name);
  const response = await blob.uploadData(bytes, metadata ? { metadata } : {});
  const etag = response.etag!.replace(/"/g, '');
  const event = documentedBlobCreatedFor({
    account: 'devstoreaccount1',
    container: inboxName,
    name,
    etag,
    url: blob.url,
    contentLength: bytes.byteLength,
  });
  return {
    event,
    etag,
    matchId: matchInstanceIdForBlob(inboxName, name, etag),
    path: new URL(blob.url).pathname,
  };
}

async function deliver(event: SampleEvent | Record<string, unknown>): Promise<number> {
  const url = `${host.baseUrl}/runtime/webhooks/eventgrid?functionName=onInboxUpload&code=${host.keys.systemKeys.eventgrid_extension}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification' },
    body: JSON.stringify([event]),
  });
  await response.arrayBuffer();
  return response.status;
}

async function instance(id: string): Promise<{ runtimeStatus: string; output: unknown } | undefined> {
  const url = `${host.baseUrl}/runtime/webhooks/durabletask/instances/${id}?code=${host.keys.systemKey}`;
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  return (await response.json()) as { runtimeStatus: string; output: unknown };
}

/** Polls the Durable HTTP API until the instance has finished; the timeout only bounds a failing test. */
async function finished(id: string): Promise<{ runtimeStatus: string; output: unknown }> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    const status = await instance(id);
    if (status && ['Completed', 'Failed', 'Terminated'].includes(status.runtimeStatus)) return status;
    if (Date.now() > deadline)
      throw new Error(`match ${id} did not finish (last: ${JSON.stringify(status)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('the inbox Event Grid trigger', () => {
  it('starts one match for three deliveries and never downloads the blob', async () => {
    // 16 MiB that is no road format: the match's prepare step refuses it after reading its tail (the footer
    // fetch, 512 KiB) and its head (to recognise the format), so every read of the blob in this test is the
    // trigger's HEAD or one of those ranged reads, 1 MiB in all.
    const size = 16 * 1024 * 1024;
    const file = await upload(`not-parquet-${randomUUID()}.parquet`, new Uint8Array(size).fill(7));
    const firstRequest = seen.length;
    expect([await deliver(file.event), await deliver(file.event), await deliver(file.event)]).toEqual([
      202, 202, 202,
    ]);
    const status = await finished(file.matchId);
    expect(status.runtimeStatus).toBe('Completed');
    expect(hostLog.filter((l) => l.includes(`Started matchFile ${file.matchId}`))).toHaveLength(1);
    expect(hostLog.filter((l) => l.includes(`Duplicate event for ${inboxName}/`))).toHaveLength(2);

    const reads = seen.slice(firstRequest).filter((r) => r.path === file.path);
    const triggerHeads = reads.filter((r) => r.method === 'HEAD' && r.ifMatch === `"${file.etag}"`);
    expect(triggerHeads).toHaveLength(3);
    const gets = reads.filter((r) => r.method === 'GET');
    expect(gets.filter((r) => !r.range)).toEqual([]);
    const bytesRequested = gets
      .map((r) => /bytes=(\d+)-(\d+)/.exec(r.range!)!)
      .reduce((sum, [, from, to]) => sum + Number(to) - Number(from) + 1, 0);
    expect(bytesRequested).toBeLessThanOrEqual(1024 * 1024);
  });

  it('ignores an event for a version that has been overwritten since, and matches the new version', async () => {
    const name = `overwritten-${randomUUID()}.parquet`;
    const first = await upload(name, roadMatchingSample('valid', { rows: 5, seed: 1 }));
    const second = await upload(name, roadMatchingSample('valid', { rows: 6, seed: 2 }));
    expect(await deliver(first.event)).toBe(202);
    expect(hostLog.some((l) => l.includes(`(etag ${first.etag}): that version no longer exists`))).toBe(true);
    expect(await instance(first.matchId)).toBeUndefined();
    expect(await deliver(second.event)).toBe(202);
    expect(await instance(second.matchId)).toBeDefined();
  });

  it('ignores events for other containers and other event types, with a log line', async () => {
    const file = await upload(`elsewhere-${randomUUID()}.parquet`, new Uint8Array(16));
    const otherContainer = { ...file.event, subject: file.event.subject.replace(inboxName, 'outbox') };
    const deleted = { ...file.event, eventType: 'Microsoft.Storage.BlobDeleted' };
    expect(await deliver(otherContainer)).toBe(202);
    expect(await deliver(deleted)).toBe(202);
    expect(hostLog.some((l) => l.includes(`${otherContainer.id}: its blob is in container "outbox"`))).toBe(
      true,
    );
    expect(hostLog.some((l) => l.includes('its type is "Microsoft.Storage.BlobDeleted"'))).toBe(true);
    expect(await instance(file.matchId)).toBeUndefined();
  });

  it('writes the rejection report for an upload whose per-file options are malformed', async () => {
    const name = `bad-options-${randomUUID()}.parquet`;
    const file = await upload(name, new Uint8Array(16), { overturerelease: 'last-tuesday' });
    expect(await deliver(file.event)).toBe(202);
    const outbox = BlobServiceClient.fromConnectionString(storageConnectionString()).getContainerClient(
      process.env.OUTBOX_CONTAINER ?? 'outbox',
    );
    const readJson = async (blob: string) =>
      JSON.parse((await outbox.getBlobClient(blob).downloadToBuffer()).toString());
    // Its own folder under the name's key, like a run's documents; latest.json names it.
    const nameKey = nameKeyFor('inbox', name);
    const reportName = `${nameKey}/${rejectedUploadRunFor(inboxName, name, file.etag)}/validation.json`;
    const report = await readJson(reportName);
    expect(report).toMatchObject({ kind: 'gem-flow.rejected-upload', valid: false, etag: file.etag });
    expect(await readJson(`${nameKey}/latest.json`)).toMatchObject({
      outcome: 'rejected',
      outputs: { validationReport: reportName },
    });
    // A repeated event rewrites the same report.
    expect(await deliver(file.event)).toBe(202);
    expect(await readJson(reportName)).toEqual(report);
    expect(report.problems.map((p: { column: string }) => p.column)).toContain('overtureRelease');
    expect(await instance(file.matchId)).toBeUndefined();
  });
});
