/**
 * `GET /api/storages`: the latest inventory snapshot; `?refresh=true` runs `listStorages` now and waits a
 * bounded time for it. When TomTom is slow the answer is a 202 pointing back here — deliberately not Durable's
 * check-status payload, whose URLs carry the system key that can terminate or purge any instance.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { notFound, validationError } from '../../shared/api/errors.js';
import { loadConfig, loadInventory, loadSchemas, loadUrls } from '../onDemand.js';
import { refreshInventory } from '../sweep.js';

const REFRESH_WAIT_MS = 20_000;

export async function getStoragesHandler(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  // The same schema the OpenAPI document publishes: `1` refreshes like `true`, and `yes` is a 400, not a snapshot.
  const { parseListStoragesQuery } = await loadSchemas();
  const query = parseListStoragesQuery(request.query);
  if (!query.ok) return validationError(query.errors);
  if (query.value.refresh) {
    const client = df.getClient(context);
    const { getSettings } = await loadConfig();
    const { instanceId } = await refreshInventory(client, getSettings().workflow.storageFanOutLimit);
    const deadline = Date.now() + REFRESH_WAIT_MS;
    for (;;) {
      const status = await client.getStatus(instanceId);
      if (status.runtimeStatus === 'Completed') {
        return { status: 200, jsonBody: { source: 'refreshed', snapshot: status.output } };
      }
      if (status.runtimeStatus === 'Failed' || status.runtimeStatus === 'Terminated') {
        return {
          status: 502,
          jsonBody: {
            error: {
              code: 'InventoryRefreshFailed',
              message: `Reading the storages from TomTom failed (${status.runtimeStatus}); GET /api/health shows which dependency is failing.`,
            },
          },
        };
      }
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const retryUrl = (await loadUrls()).publicUrl('/api/storages');
    return {
      status: 202,
      headers: { location: retryUrl, 'retry-after': '10' },
      jsonBody: {
        refreshing: true,
        retryUrl,
        note: 'The refresh continues; GET /api/storages serves it when done.',
      },
    };
  }
  const snapshot = await (await loadInventory()).readInventory();
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
