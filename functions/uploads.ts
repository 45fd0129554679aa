/**
 * A file lands in the inbox → one `matchFile` run. The trigger uses Event Grid (`source: 'EventGrid'`), the only
 * blob trigger Flex Consumption supports; delivery is at least once, so the instance id is derived from the
 * container, the name and the etag: a repeated event finds its instance and starts nothing.
 */
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getSettings } from '../shared/config.js';
import { normaliseEtag } from '../shared/workflow/ids.js';
import { writeRejection } from './rejections.js';
import { bodyFromBlobMetadata, type InboxBlobRef, startMatch } from './startMatch.js';

export async function onInboxUpload(_content: unknown, context: InvocationContext): Promise<void> {
  const settings = getSettings();
  const blob = inboxBlobFromTrigger(context, settings.storage.inboxContainer);
  const client = df.getClient(context);
  const outcome = await startMatch(client, bodyFromBlobMetadata(blob), {
    trigger: 'blob',
    requestedAt: new Date(),
    inboxEtag: blob.etag,
  });
  switch (outcome.kind) {
    case 'started':
      context.log(`Started matchFile ${outcome.instanceId} for ${blob.container}/${blob.name}`);
      break;
    case 'existing':
      context.log(
        `Duplicate event for ${blob.container}/${blob.name}: instance ${outcome.instanceId} is ${outcome.runtimeStatus}`,
      );
      break;
    case 'rejected': {
      const report = await writeRejection(blob.name, outcome.errors);
      context.warn(
        `Rejected ${blob.container}/${blob.name}: ${outcome.errors.length} problem(s), see ${report}`,
      );
      break;
    }
  }
}

/** The blob's identity from the trigger metadata (`BlobTrigger`, `Properties`, `Metadata`), camelCased by the library. */
export function inboxBlobFromTrigger(context: InvocationContext, inboxContainer: string): InboxBlobRef {
  const meta = (context.triggerMetadata ?? {}) as Record<string, unknown>;
  const path = String(meta.blobTrigger ?? '');
  const name = typeof meta.name === 'string' ? meta.name : path.slice(path.indexOf('/') + 1);
  const properties = (meta.properties ?? {}) as Record<string, unknown>;
  const etag = normaliseEtag(String(properties.eTag ?? properties.ETag ?? properties.etag ?? ''));
  if (!name || !etag) {
    throw new Error(
      `The blob trigger did not supply the blob name and etag (got name="${name}", etag="${etag}"); ` +
        'check that the function is bound to the inbox container with source EventGrid.',
    );
  }
  const metadata = (meta.metadata ?? {}) as Record<string, string>;
  return { container: inboxContainer, name, etag, metadata };
}

app.storageBlob('onInboxUpload', {
  path: `${getSettings().storage.inboxContainer}/{name}`,
  connection: 'AzureWebJobsStorage',
  source: 'EventGrid',
  extraInputs: [df.input.durableClient()],
  handler: onInboxUpload,
});
