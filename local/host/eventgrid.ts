/**
 * Event Grid triggers, served the way the Event Grid extension serves them in Azure
 * (Microsoft.Azure.WebJobs.Extensions.EventGrid: EventGridExtensionConfigProvider.cs, HttpRequestProcessor.cs,
 * EventGridTriggerAttributeBindingProvider.cs). One webhook, `/runtime/webhooks/eventgrid?functionName=<name>`:
 *
 *  - key: the `eventgrid_extension` system key or the master key, else 401 (the host's SystemKeyAuthLevel);
 *  - `functionName` is the function's own name; anything else is 404 "cannot find function: '<name>'";
 *  - `OPTIONS` (the CloudEvents abuse-protection handshake) answers 200 with `Webhook-Allowed-Origin`;
 *  - `aeg-event-type: SubscriptionValidation` answers 200 `{"validationResponse": <data.validationCode>}`;
 *  - `aeg-event-type: Notification` takes an array (or one object) of events and invokes the function once per
 *    event, all in parallel (single dispatch: a Node trigger is not an array parameter); 202 when every
 *    invocation succeeded, else 500 with the failure's message, so Event Grid delivers the batch again;
 *  - `Unsubscribe` answers 202, any other or no `aeg-event-type` 400.
 *
 * Each event reaches the worker as `json` (the extension binds a JToken and the host serializes it unchanged;
 * GrpcMessageConversionExtensions.cs), with trigger metadata `data` (the binding data contract) and `sys`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { coreState, type InvocationLogLine, invokeFunction, triggerBinding } from './core.js';
import {
  type BodyReader,
  extensionKeyName,
  type HostKeys,
  keyMatches,
  presentedKey,
  refuseUnread,
} from './http.js';

export const EVENTGRID_WEBHOOK_PATH = '/runtime/webhooks/eventgrid';

export interface EventGridTriggers {
  /** Handles /runtime/webhooks/eventgrid; returns false for other paths. */
  /** The body is read only once the key is checked. */
  handleHttp(req: IncomingMessage, res: ServerResponse, url: URL, body: BodyReader): Promise<boolean>;
  has(functionName: string): boolean;
  /** Invokes the function with one event given as JSON text, as the portal's "Test/Run" does. */
  runNow(functionName: string, eventJson: string): Promise<void>;
}

export interface EventGridTriggerOptions {
  keys: HostKeys;
  log: (line: string) => void;
  invocationLog: (line: InvocationLogLine) => void;
}

/** Origins the extension echoes in `Webhook-Allowed-Origin`; any other gets the public cloud's. */
const EVENT_GRID_ORIGINS = [
  'eventgrid.azure.net',
  'eventgrid.azure.us',
  'eventgrid.azure.eaglex.ic.gov',
  'eventgrid.azure.microsoft.scloud',
  'eventgrid.azure.cn',
];

/** What the webhook serves: the app's Event Grid functions and the key that may call them. */
interface EventGridTriggerState {
  options: EventGridTriggerOptions;
  functions: Set<string>;
  eventGridKey: string;
}

export function startEventGridTriggers(options: EventGridTriggerOptions): EventGridTriggers {
  const state: EventGridTriggerState = {
    options,
    functions: new Set(
      [...coreState.registrations.values()]
        .filter((r) => triggerBinding(r).type.toLowerCase() === 'eventgridtrigger')
        .map((r) => r.metadata.name),
    ),
    eventGridKey: options.keys.systemKeys[extensionKeyName('eventgrid')]!,
  };
  return {
    handleHttp: (req, res, url, body) => handleWebhook(state, req, res, url, body),
    has: (name) => state.functions.has(name),
    async runNow(functionName, eventJson) {
      if (!state.functions.has(functionName)) {
        throw new Error(`"${functionName}" is not an Event Grid function.`);
      }
      await invoke(state.options, functionName, JSON.parse(eventJson));
    },
  };
}

async function handleWebhook(
  state: EventGridTriggerState,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: BodyReader,
): Promise<boolean> {
  const { options, functions } = state;
  if (url.pathname.replace(/\/+$/, '').toLowerCase() !== EVENTGRID_WEBHOOK_PATH) return false;
  if (!keyMatches(presentedKey(req, url), state.eventGridKey, options.keys.masterKey)) {
    refuseUnread(res, 401);
    return true;
  }
  const functionName = url.searchParams.get('functionName') ?? '';
  if (!functions.has(functionName)) {
    options.log(
      `Event Grid webhook: cannot find function '${functionName}', available: [${[...functions].join(', ')}]`,
    );
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`cannot find function: '${functionName}'`);
    return true;
  }
  if (req.method === 'OPTIONS') {
    answerAbuseProtection(req, res);
    return true;
  }
  const eventType = String(req.headers['aeg-event-type'] ?? '').toLowerCase();
  if (eventType === 'subscriptionvalidation') {
    answerValidation(res, await body());
    options.log(`Event Grid webhook: handshake for function '${functionName}'.`);
  } else if (eventType === 'notification') {
    await notify(options, res, functionName, await body());
  } else {
    res.writeHead(eventType === 'unsubscribe' ? 202 : 400).end();
  }
  return true;
}

/** The CloudEvents abuse-protection handshake: 200 with the Event Grid origin that asked, or the public one. */
function answerAbuseProtection(req: IncomingMessage, res: ServerResponse): void {
  const origin = String(req.headers['webhook-request-origin'] ?? '');
  res.writeHead(200, {
    'webhook-allowed-origin': EVENT_GRID_ORIGINS.includes(origin) ? origin : EVENT_GRID_ORIGINS[0]!,
  });
  res.end();
}

async function notify(
  options: EventGridTriggerOptions,
  res: ServerResponse,
  functionName: string,
  body: Buffer,
): Promise<void> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    // The extension's JToken.Load throws; the exception leaves the host as a 500.
    res.writeHead(500).end();
    return;
  }
  const events = Array.isArray(parsed) ? parsed : [parsed];
  const failures = (await Promise.all(events.map((event) => invoke(options, functionName, event)))).filter(
    Boolean,
  );
  if (failures.length > 0) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(failures[0]);
    return;
  }
  res.writeHead(202).end();
}

/** One invocation per event; the error message of a failed one, as FunctionInvocationException words it. */
async function invoke(
  options: EventGridTriggerOptions,
  functionName: string,
  event: unknown,
): Promise<string | undefined> {
  const data = (event as { data?: unknown } | null)?.data;
  const result = await invokeFunction(
    functionName,
    { json: JSON.stringify(event) },
    {
      triggerMetadata: {
        data: { json: JSON.stringify(data ?? null) },
        sys: {
          json: JSON.stringify({
            MethodName: functionName,
            UtcNow: new Date().toISOString(),
            RandGuid: randomUUID(),
          }),
        },
      },
      log: options.invocationLog,
    },
  );
  if (!result.error) return undefined;
  const error = result.error as Error;
  options.log(
    `Executed '${functionName}' (Failed, Id=${result.invocationId}): ${error?.stack ?? String(error)}`,
  );
  return `Exception while executing function: Functions.${functionName}`;
}

/**
 * The validation code from an Event Grid schema array (`[0].data.validationCode`) or a CloudEvents object,
 * whose `data` arrives JSON-encoded a second time; a body of another shape fails the request (500).
 */
function answerValidation(res: ServerResponse, body: Buffer): void {
  let code: unknown;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown;
    if (Array.isArray(parsed)) code = parsed[0].data.validationCode;
    else {
      const data = (parsed as { data: unknown }).data;
      code = (typeof data === 'string' ? JSON.parse(data) : data).validationCode;
    }
  } catch {
    code = undefined;
  }
  if (code === undefined || code === null) {
    res.writeHead(500).end();
    return;
  }
  // StringContent, as the extension answers: JSON text under text/plain.
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(JSON.stringify({ validationResponse: String(code) }));
}
