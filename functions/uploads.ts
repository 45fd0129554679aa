/**
 * A file lands in the inbox → one `matchFile` run. An Event Grid trigger on the storage account's
 * `Microsoft.Storage.BlobCreated` events (subscribed by scripts/post-deploy.sh): the event names the blob and
 * its version, one conditional `getProperties` reads the per-file options (metadata), and the file itself is
 * never read here. The blob trigger would download the whole blob into the host and again into the worker
 * before the handler ran, and hands the etag to Node as `{}`. Delivery is at least once, so the instance id
 * is derived from the container, the name and the etag: a repeated event finds its instance and starts nothing.
 */
import { app, type EventGridEvent, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { type InboxUpload, inboxUploadFromEvent } from '../shared/workflow/inboxEvent.js';
import { loadConfig, loadServices } from './onDemand.js';
import { writeRejection } from './rejections.js';
import { bodyFromBlobMetadata, startMatch } from './startMatch.js';

/**
 * The worker hands an Event Grid trigger the event exactly as delivered: the extension binds it as a JSON
 * token and the host sends it to the worker as `json` (EventGridExtensionConfigProvider.cs in
 * Microsoft.Azure.WebJobs.Extensions.EventGrid; GrpcMessageConversionExtensions.cs in azure-functions-host).
 * The subscription delivers the Event Grid schema, which is what `EventGridEvent` describes.
 */
export async function onInboxUpload(event: EventGridEvent, context: InvocationContext): Promise<void> {
  const { getSettings } = await loadConfig();
  const outcome = inboxUploadFromEvent(event, getSettings().storage.inboxContainer);
  if (outcome.kind === 'ignored') {
    context.log(`Ignored Event Grid event ${String(event.id)}: ${outcome.reason}.`);
    return;
  }
  const upload = outcome.upload;
  const where = `${upload.container}/${upload.name}`;
  const metadata = await metadataOfVersion(upload);
  if (!metadata) {
    // Overwritten or deleted since the event: a newer version has an event of its own (or nothing to match).
    context.log(`Ignored the event for ${where} (etag ${upload.etag}): that version no longer exists.`);
    return;
  }
  const client = df.getClient(context);
  const requestedAt = new Date();
  const started = await startMatch(client, bodyFromBlobMetadata({ ...upload, metadata }), {
    trigger: 'blob',
    requestedAt,
    inboxEtag: upload.etag,
  });
  const size = upload.contentLength === undefined ? '' : ` (${upload.contentLength} bytes)`;
  switch (started.kind) {
    case 'started':
      context.log(`Started matchFile ${started.instanceId} for ${where}${size}`);
      break;
    case 'existing':
      context.log(`Duplicate event for ${where}: instance ${started.instanceId} is ${started.runtimeStatus}`);
      break;
    case 'rejected': {
      const report = await writeRejection(upload, started.errors, requestedAt);
      context.warn(`Rejected ${where}: ${started.errors.length} problem(s), see ${report}`);
      break;
    }
  }
}

/**
 * The blob's metadata (per-file options), read with one HEAD conditional on the announced etag, so the options
 * always belong to the version whose etag names the instance. Undefined when that version is gone (412/404).
 * Any other failure throws: the invocation fails, the webhook answers 500 and Event Grid delivers again.
 */
async function metadataOfVersion(upload: InboxUpload): Promise<Record<string, string> | undefined> {
  const { getServices } = await loadServices();
  try {
    const properties = await getServices()
      .inbox.getBlobClient(upload.name)
      .getProperties({ conditions: { ifMatch: `"${upload.etag}"` } });
    return properties.metadata ?? {};
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 412 || status === 404) return undefined;
    throw error;
  }
}

app.eventGrid('onInboxUpload', {
  extraInputs: [df.input.durableClient()],
  handler: onInboxUpload,
});
