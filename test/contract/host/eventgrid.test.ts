// The Event Grid webhook exactly as the Event Grid extension serves it, checked against its source in
// Azure/azure-sdk-for-net, sdk/eventgrid/Microsoft.Azure.WebJobs.Extensions.EventGrid/src:
//   Config/EventGridExtensionConfigProvider.cs  functionName lookup (404 "cannot find function"), one invocation
//                                               per event in parallel, 202 or 500 with the failure's message
//   TriggerBinding/HttpRequestProcessor.cs      aeg-event-type: SubscriptionValidation / Notification /
//                                               Unsubscribe / else 400; OPTIONS + Webhook-Allowed-Origin;
//                                               array or single object; CloudEvents' double-encoded data
//   TriggerBinding/SubscriptionValidationResponse.cs  {"validationResponse": "<code>"}
// and, in Azure/azure-functions-host: WebHooks/DefaultScriptWebHookProvider.cs (key name eventgrid_extension),
// Security/Authorization/Policies/AuthorizationOptionsExtensions.cs (that key or the master key, nothing else),
// and Azure/azure-webjobs-sdk Executors/FunctionExecutor.cs ("Exception while executing function: <ShortName>").
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHost, startHost } from '../../../local/host/host.js';
import { documentedBlobCreated } from '../../fixtures/eventgrid/sample.js';
import { fixtureApp, records, tempDir } from './helpers.js';

interface EventRecord {
  event: { id: string; subject: string; data: Record<string, unknown> };
  triggerMetadata: { data: Record<string, unknown>; sys: { methodName: string } };
}

const out = tempDir('eventgrid-out');
let host: RunningHost;
let eventGridKey: string;

beforeAll(async () => {
  host = await startHost({
    appRoot: fixtureApp,
    port: 0,
    stateDir: tempDir('eventgrid-state'),
    env: { FIXTURE_OUT_DIR: out, FIXTURE_TICK_SCHEDULE: '0 0 0 1 1 *', LOCAL_TIME_SCALE: '1' },
    eventGrid: { watch: false, subscriptions: [] },
    log: () => {},
  });
  eventGridKey = host.keys.systemKeys.eventgrid_extension!;
});
afterAll(() => host?.close());

const webhook = (query = `functionName=onEvent&code=${eventGridKey}`) =>
  `${host.baseUrl}/runtime/webhooks/eventgrid?${query}`;

function post(
  url: string,
  eventType: string | undefined,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(eventType ? { 'aeg-event-type': eventType } : {}),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The documented sample with its own id and a subject under `path`, so each test finds its own records. */
function sampleEvent(path: string) {
  const event = documentedBlobCreated();
  event.id = randomUUID();
  event.subject = `/blobServices/default/containers/test-container/blobs/${path}`;
  return event;
}

const recordsFor = (subject: string) =>
  records<EventRecord>(out, 'events.jsonl').filter((r) => r.event.subject === subject);

describe('Event Grid webhook', () => {
  it('answers the subscription validation handshake (Event Grid schema array, CloudEvents object)', async () => {
    const validation = {
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
    };
    const res = await post(webhook(), 'SubscriptionValidation', [validation]);
    expect(res.status).toBe(200);
    expect(JSON.parse(await res.text())).toEqual({
      validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6',
    });

    const cloud = {
      specversion: '1.0',
      type: 'x',
      source: 's',
      id: 'i',
      data: JSON.stringify({ validationCode: 'c-1' }),
    };
    const cloudRes = await post(webhook(), 'SubscriptionValidation', cloud);
    expect(JSON.parse(await cloudRes.text())).toEqual({ validationResponse: 'c-1' });
  });

  it('answers the CloudEvents OPTIONS handshake with the requesting Event Grid origin, else the public one', async () => {
    const options = (origin: string) =>
      fetch(webhook(), { method: 'OPTIONS', headers: { 'webhook-request-origin': origin } });
    const known = await options('eventgrid.azure.us');
    expect(known.status).toBe(200);
    expect(known.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.us');
    expect((await options('attacker.example')).headers.get('webhook-allowed-origin')).toBe(
      'eventgrid.azure.net',
    );
  });

  it('accepts only the eventgrid_extension system key or the master key', async () => {
    const query = 'functionName=onEvent';
    const status = async (key?: string, asHeader = false) =>
      (
        await post(
          webhook(key && !asHeader ? `${query}&code=${key}` : query),
          'Unsubscribe',
          [],
          key && asHeader ? { 'x-functions-key': key } : {},
        )
      ).status;
    expect(await status()).toBe(401);
    expect(await status(host.keys.functionKey)).toBe(401);
    expect(await status(host.keys.systemKeys.durabletask_extension)).toBe(401);
    expect(await status(eventGridKey)).toBe(202);
    expect(await status(host.keys.masterKey, true)).toBe(202);
  });

  it("finds the function by its own name only: 404 with the extension's message otherwise", async () => {
    for (const name of ['nope', 'Host.Functions.onEvent', 'hello']) {
      const res = await post(webhook(`functionName=${name}&code=${eventGridKey}`), 'Notification', []);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe(`cannot find function: '${name}'`);
    }
  });

  it('answers 400 without a known aeg-event-type and 202 to Unsubscribe', async () => {
    expect((await post(webhook(), undefined, [])).status).toBe(400);
    expect((await post(webhook(), 'SomethingElse', [])).status).toBe(400);
    expect((await post(webhook(), 'Unsubscribe', [])).status).toBe(202);
  });

  it('hands the function the event exactly as delivered, with trigger metadata data and sys', async () => {
    const event = sampleEvent(`exact-${randomUUID()}.txt`);
    const res = await post(webhook(), 'Notification', [event]);
    expect(res.status).toBe(202);
    const [seen] = recordsFor(event.subject);
    expect(seen!.event).toEqual(event);
    expect(seen!.triggerMetadata.data).toEqual(event.data);
    expect(seen!.triggerMetadata.sys.methodName).toBe('onEvent');
  });

  it('invokes once per event of a batch, and takes a single object as a batch of one', async () => {
    const first = sampleEvent(`batch-a-${randomUUID()}.txt`);
    const second = sampleEvent(`batch-b-${randomUUID()}.txt`);
    expect((await post(webhook(), 'Notification', [first, second])).status).toBe(202);
    const single = sampleEvent(`single-${randomUUID()}.txt`);
    expect((await post(webhook(), 'Notification', single)).status).toBe(202);
    for (const event of [first, second, single]) expect(recordsFor(event.subject)).toHaveLength(1);
  });

  it('answers 500 with the invocation exception message when any event of the batch fails, so Event Grid retries', async () => {
    const ok = sampleEvent(`ok-${randomUUID()}.txt`);
    const failing = sampleEvent(`fail-${randomUUID()}.txt`);
    const res = await post(webhook(), 'Notification', [ok, failing]);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('Exception while executing function: Functions.onEvent');
    // Both ran: the extension dispatches every event before it looks at the results.
    expect(recordsFor(ok.subject)).toHaveLength(1);
    expect(recordsFor(failing.subject)).toHaveLength(1);

    const refused = sampleEvent(`hook-fail-${randomUUID()}.txt`);
    expect((await post(webhook(), 'Notification', [refused])).status).toBe(500);
    expect(recordsFor(refused.subject)).toHaveLength(0);
  });

  it('fails a notification whose body is not JSON (500, as the parse exception leaves the host)', async () => {
    expect((await post(webhook(), 'Notification', '[{"id": ')).status).toBe(500);
  });

  it('runs the function from the admin API with an event given as JSON text, as "Test/Run" does', async () => {
    const event = sampleEvent(`admin-${randomUUID()}.txt`);
    const res = await fetch(`${host.baseUrl}/admin/functions/onEvent`, {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.masterKey, 'content-type': 'application/json' },
      body: JSON.stringify({ input: JSON.stringify(event) }),
    });
    expect(res.status).toBe(202);
    expect(recordsFor(event.subject)[0]!.event).toEqual(event);
  });
});
