/**
 * The Event Grid subscriptions of this app, for the local host's Event Grid stand-in. On Azure the azd
 * postdeploy hook (scripts/post-deploy.sh, and scripts/post-deploy.ps1 on Windows) creates the same
 * subscription on the storage account's system topic; test/unit/infra/eventgridSubscription.test.ts checks
 * that both hooks pass exactly these values, and infra/main.bicep creates the dead-letter container.
 */
import type { EventGridSubscription } from './host/eventgridPublisher.js';

/** BlobCreated events of the inbox container → `onInboxUpload` (functions/uploads.ts). */
export const inboxSubscription = {
  name: 'gemflow-inbox-blobcreated',
  functionName: 'onInboxUpload',
  connection: 'AzureWebJobsStorage',
  includedEventTypes: ['Microsoft.Storage.BlobCreated'],
  subjectBeginsWith: '/blobServices/default/containers/%INBOX_CONTAINER%/blobs/',
  subjectEndsWith: '',
  eventDeliverySchema: 'EventGridSchema',
  maxDeliveryAttempts: 30,
  eventTimeToLiveInMinutes: 1440,
  deadLetterContainer: 'eventgrid-deadletter',
} as const satisfies EventGridSubscription;

export const appSubscriptions: EventGridSubscription[] = [
  { ...inboxSubscription, includedEventTypes: [...inboxSubscription.includedEventTypes] },
];
