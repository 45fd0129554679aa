// At least once across a crash: the host CLI (dist/local/host/cli.js, as npm start runs it) is SIGKILLed while
// the Event Grid stand-in's delivery of an upload is waiting to retry. Nothing marked the upload as delivered
// (receipts are written only once a delivery is over, as Event Grid keeps an event until it is acknowledged or
// dead-lettered), so the restarted host on the same state delivers it again.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, expect, it } from 'vitest';
import type { EventGridSubscription } from '../../../local/host/eventgridPublisher.js';
import { fixtureApp, records, storageConnectionString, tempDir, waitFor } from './helpers.js';

const cli = resolve(__dirname, '../../../dist/local/host/cli.js');
const out = tempDir('egcrash-out');
const stateDir = tempDir('egcrash-state');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function launch(subscription: EventGridSubscription): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cli, '--app', fixtureApp, '--port', '0', '--state-dir', stateDir], {
    env: {
      ...process.env,
      FIXTURE_OUT_DIR: out,
      FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *',
      LOCAL_TIME_SCALE: '1',
      LOCAL_BLOB_WATCH: 'true',
      LOCAL_EVENTGRID_SUBSCRIPTIONS: JSON.stringify([subscription]),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stderr!.resume();
  await new Promise<void>((ready, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"event":"ready"')) ready();
    });
    child.once('exit', (code) => fail(new Error(`the host exited with ${code} before it was ready`)));
  });
  return child;
}

const stop = (child: ChildProcess, signal: NodeJS.Signals) =>
  new Promise<void>((stopped) => {
    child.once('exit', () => stopped());
    child.kill(signal);
  });

it('delivers an upload again after the host was killed while its delivery waited to retry', async () => {
  const container = BlobServiceClient.fromConnectionString(storageConnectionString()).getContainerClient(
    `egcrash-${randomUUID().slice(0, 8)}`,
  );
  await container.create();
  const subscription = (maxDeliveryAttempts: number): EventGridSubscription => ({
    name: 'crash-blobcreated',
    functionName: 'onEvent',
    connection: 'AzureWebJobsStorage',
    includedEventTypes: ['Microsoft.Storage.BlobCreated'],
    subjectBeginsWith: `/blobServices/default/containers/${container.containerName}/blobs/`,
    eventDeliverySchema: 'EventGridSchema',
    maxDeliveryAttempts,
    eventTimeToLiveInMinutes: 1440,
  });
  const name = `fail-${randomUUID()}.txt`;
  const subject = `/blobServices/default/containers/${container.containerName}/blobs/${name}`;
  const attempts = () =>
    records<{ event: { subject: string } }>(out, 'events.jsonl').filter((r) => r.event.subject === subject);
  const receipt = () => {
    const file = join(stateDir, 'eventgrid-receipts.json');
    const receipts: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    return Object.keys(receipts).find((key) => key.endsWith(`/${name}`));
  };
  await container.getBlockBlobClient(name).upload('x', 1);

  // The first attempt fails; the retry is 10 s away (real time) when the host is killed.
  let host = await launch(subscription(30));
  await waitFor(() => attempts()[0], 'the first delivery attempt');
  await stop(host, 'SIGKILL');
  expect(attempts()).toHaveLength(1);
  expect(receipt()).toBeUndefined();

  // Restarted on the same state: delivered again. One attempt only now, so that delivery ends (dropped: no
  // dead-letter container) and the upload gets its receipt.
  host = await launch(subscription(1));
  await waitFor(() => (attempts().length === 2 ? true : undefined), 'the redelivery after the crash');
  await waitFor(() => receipt(), 'the receipt');
  await stop(host, 'SIGTERM');
  expect(attempts()).toHaveLength(2);
});
