/**
 * What a `Microsoft.Storage.BlobCreated` event says about an inbox upload. Azure Storage publishes the event
 * (Microsoft's "Azure Blob Storage as an Event Grid source", Event Grid schema) with the blob's path in
 * `subject` and its version, size and URL in `data`: everything needed to derive the match's instance id, so a
 * match starts without the file ever being read. Framework-free: the trigger passes in the event object the
 * Functions worker hands it, and anything that is not an inbox BlobCreated comes back as `ignored` with the
 * reason, for the log line.
 */
import { normaliseEtag } from '../etag.js';

export const BLOB_CREATED_EVENT_TYPE = 'Microsoft.Storage.BlobCreated';

/** The Event Grid schema fields read here; the worker's `EventGridEvent` has all of them. */
export interface EventGridEventFields {
  readonly id?: unknown;
  readonly eventType?: unknown;
  readonly subject?: unknown;
  readonly data?: unknown;
}

export interface InboxUpload {
  container: string;
  /** The blob name inside the container, as the subject carries it (not URL-encoded). */
  name: string;
  /** Bare etag (no quotes) of the version the event announces. */
  etag: string;
  /** `data.url`, the blob's URL as Storage reports it (informational: the app reads through its own client). */
  url: string;
  /** `data.contentLength` as the event claims it; never used to size an allocation. */
  contentLength: number | undefined;
}

export type InboxEventOutcome = { kind: 'upload'; upload: InboxUpload } | { kind: 'ignored'; reason: string };

/** `/blobServices/default/containers/<container>/blobs/<name>`, the subject of every Blob Storage event. */
const BLOB_SUBJECT = /^\/blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/;

export function blobPathOfSubject(subject: string): { container: string; name: string } | undefined {
  const match = BLOB_SUBJECT.exec(subject);
  return match ? { container: match[1]!, name: match[2]! } : undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function inboxUploadFromEvent(event: EventGridEventFields, inboxContainer: string): InboxEventOutcome {
  const ignored = (reason: string): InboxEventOutcome => ({ kind: 'ignored', reason });
  if (event.eventType !== BLOB_CREATED_EVENT_TYPE) {
    return ignored(`its type is ${JSON.stringify(event.eventType)}, not ${BLOB_CREATED_EVENT_TYPE}`);
  }
  const subject = typeof event.subject === 'string' ? event.subject : '';
  const path = blobPathOfSubject(subject);
  if (!path) {
    return ignored(
      `its subject ${JSON.stringify(subject)} names no blob (/blobServices/default/containers/<container>/blobs/<name>)`,
    );
  }
  if (path.container !== inboxContainer) {
    return ignored(`its blob is in container "${path.container}", not the inbox "${inboxContainer}"`);
  }
  const data = isRecord(event.data) ? event.data : {};
  const etag = typeof data.eTag === 'string' ? normaliseEtag(data.eTag) : '';
  if (!etag) return ignored('it carries no data.eTag, so the upload it announces cannot be identified');
  const length = data.contentLength;
  return {
    kind: 'upload',
    upload: {
      ...path,
      etag,
      url: typeof data.url === 'string' ? data.url : '',
      contentLength:
        typeof length === 'number' && Number.isSafeInteger(length) && length >= 0 ? length : undefined,
    },
  };
}
