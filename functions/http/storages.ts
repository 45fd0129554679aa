/**
 * `GET /api/storages`: the latest inventory snapshot; `?refresh=true` runs `listStorages` now and waits a
 * bounded time for it, falling back to the standard 202 check-status response when TomTom is slow.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { readInventory } from '../../shared/activities/inventory.js';
import { notFound, validationError } from '../../shared/api/errors.js';
import { parseListStoragesQuery } from '../../shared/api/schemas.js';
import { getSettings } from '../../shared/config.js';
import { refreshInventory } from '../sweep.js';

const REFRESH_WAIT_MS = 20_000;

export async function getStoragesHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  // The same schema the OpenAPI document publishes: `1` refreshes like `true`, and `yes` is a 400, not a snapshot.
  const query = parseListStoragesQuery(request.query);
  if (!query.ok) return validationError(query.errors);
  if (query.value.refresh) {
    const client = df.getClient(context);
    const { instanceId } = await refreshInventory(client, getSettings().workflow.storageFanOutLimit);
    const response = await client.waitForCompletionOrCreateCheckStatusResponse(request, instanceId, {
      timeoutInMilliseconds: REFRESH_WAIT_MS,
      retryIntervalInMilliseconds: 500,
    });
    if (response.status !== 200) return response;
    const status = await client.getStatus(instanceId);
    if (status.runtimeStatus !== 'Completed') return response;
    return { status: 200, jsonBody: { source: 'refreshed', snapshot: status.output } };
  }
  const snapshot = await readInventory();
  if (!snapshot) return notFound('storage inventory (none taken yet; call GET /api/storages?refresh=true)');
  return { status: 200, jsonBody: { source: 'snapshot', snapshot } };
}

app.http('getStorages', {
  route: 'storages',
  methods: ['GET'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: getStoragesHandler,
});
