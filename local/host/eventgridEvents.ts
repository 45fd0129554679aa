/**
 * The events the local Event Grid stand-in publishes, in the shapes Azure produces them: Blob Storage's
 * `Microsoft.Storage.BlobCreated` in the Event Grid schema (field for field as Microsoft's sample in "Azure Blob
 * Storage as an Event Grid source", articles/event-grid/event-schema-blob-storage.md), the subscription
 * validation event, and the dead-letter record ("Event Grid message delivery and retry", delivery-and-retry.md).
 */
import { createHash, randomUUID } from 'node:crypto';
import { normaliseEtag } from '../../shared/etag.js';

/** An event in the Event Grid schema. */
export interface EventGridSchemaEvent {
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  id: string;
  data: Record<string, unknown>;
  dataVersion: string;
  metadataVersion: string;
}

/** What a blob listing says about one blob (the fields of `listBlobsFlat` items that the event carries). */
export interface ListedBlob {
  name: string;
  etag: string;
  contentType?: string;
  contentLength?: number;
  blobType?: string;
  lastModified?: Date;
}

/** The storage account's ARM id, the `topic` of its system topic (no real subscription exists locally). */
export function storageAccountTopic(accountName: string): string {
  return `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/${accountName}`;
}

/** A GUID made from a hash, so the same upload keeps the same event id when it is published again. */
function stableGuid(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** .NET round-trip time (7 fractional digits), as Event Grid writes `eventTime`. */
export function eventGridTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/**
 * The BlobCreated event Azure Storage publishes for a committed blob. The local stand-in cannot know which REST
 * call created it, so `api` is always PutBlob. `sequencer` orders the events of one blob as Storage's does (by
 * string comparison): the last-modified time, then `sequence`, the order in which the stand-in saw the versions.
 */
export function blobCreatedEvent(
  account: { name: string; blobUrl: (container: string, blob: string) => string },
  container: string,
  blob: ListedBlob,
  sequence: number,
): EventGridSchemaEvent {
  const modified = blob.lastModified ?? new Date();
  const etag = normaliseEtag(blob.etag);
  const id = stableGuid(account.name, container, blob.name, etag);
  return {
    topic: storageAccountTopic(account.name),
    subject: `/blobServices/default/containers/${container}/blobs/${blob.name}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: eventGridTime(modified),
    id,
    data: {
      api: 'PutBlob',
      clientRequestId: randomUUID(),
      // Storage's request ids end in six zeros (the sample's 831e1650-001e-001b-66ab-eeb76e000000).
      requestId: `${id.slice(0, 30)}000000`,
      eTag: `"${etag}"`,
      contentType: blob.contentType ?? 'application/octet-stream',
      contentLength: blob.contentLength ?? 0,
      blobType: blob.blobType ?? 'BlockBlob',
      url: account.blobUrl(container, blob.name),
      sequencer: modified.getTime().toString(16).padStart(16, '0') + sequence.toString(16).padStart(16, '0'),
      storageDiagnostics: { batchId: randomUUID() },
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

/** The event Event Grid posts (aeg-event-type: SubscriptionValidation) when a webhook subscription is created. */
export function subscriptionValidationEvent(topic: string, validationCode: string): EventGridSchemaEvent {
  return {
    topic,
    subject: '',
    eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
    eventTime: eventGridTime(new Date()),
    id: randomUUID(),
    data: { validationCode, validationUrl: 'https://eventgrid.invalid/local-stand-in' },
    dataVersion: '1',
    metadataVersion: '1',
  };
}

export type DeadLetterReason = 'MaxDeliveryAttemptsExceeded' | 'TimeToLiveExceeded';

/** A dead-lettered event: the event as published plus why and how its delivery ended. */
export function deadLetterRecord(
  event: EventGridSchemaEvent,
  outcome: {
    reason: DeadLetterReason;
    attempts: number;
    lastOutcome: string;
    publishTime: Date;
    lastAttemptTime: Date;
  },
): Record<string, unknown> {
  return {
    ...event,
    deadLetterReason: outcome.reason,
    deliveryAttempts: outcome.attempts,
    lastDeliveryOutcome: outcome.lastOutcome,
    publishTime: eventGridTime(outcome.publishTime),
    lastDeliveryAttemptTime: eventGridTime(outcome.lastAttemptTime),
  };
}

/** Where Event Grid writes a dead letter: `<SUBSCRIPTION NAME>/<YYYY>/<M>/<D>/<H>/<guid>.json`, UTC, unpadded. */
export function deadLetterBlobName(subscriptionName: string, at: Date): string {
  const parts = [at.getUTCFullYear(), at.getUTCMonth() + 1, at.getUTCDate(), at.getUTCHours()];
  return `${subscriptionName.toUpperCase()}/${parts.join('/')}/${randomUUID()}.json`;
}
