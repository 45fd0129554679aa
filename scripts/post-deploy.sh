#!/bin/sh
# azd postdeploy hook: subscribe the inbox Event Grid trigger to the inbox's BlobCreated events.
#
# The storage account's Event Grid system topic (infra/main.bicep) delivers Microsoft.Storage.BlobCreated
# events whose subject begins with /blobServices/default/containers/<inbox>/blobs/, in the Event Grid schema,
# to the Event Grid extension's webhook:
#   https://<app host>/runtime/webhooks/eventgrid?functionName=<function>&code=<eventgrid_extension key>
# An undelivered event is retried (at most 30 attempts within 24 h), then dead-lettered into the
# <dead-letter> container, which the system topic writes with its own managed identity (the storage
# account takes no shared keys).
# The eventgrid_extension system key exists only once the code is deployed and the host has indexed the
# Event Grid trigger, so the subscription is made here, not in Bicep (as in Microsoft's Event Grid blob
# trigger quickstart). A subscription on the storage account is a subscription of its system topic.
# Safe to run again: `create` is a PUT (create or update), so a second run brings the same subscription to
# these settings (a rotated key, a renamed function) without deleting it, and no event is lost meanwhile.
# local/subscriptions.ts is the same subscription for the local host; a unit test keeps the two in step.
#
# Inputs (azd environment values, from infra/main.bicep outputs):
#   AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, AZURE_STORAGE_ACCOUNT_ID, INBOX_CONTAINER,
#   EVENTGRID_DEADLETTER_CONTAINER, EVENTGRID_TRIGGER_FUNCTION_NAME (default onInboxUpload),
#   SERVICE_API_URI (optional), EVENTGRID_SUBSCRIPTION_NAME (optional, default gemflow-inbox-blobcreated).
# The key is never printed.
set -eu

rg="${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set: run azd provision first}"
app="${AZURE_FUNCTION_APP_NAME:?AZURE_FUNCTION_APP_NAME is not set: run azd provision first}"
storage_id="${AZURE_STORAGE_ACCOUNT_ID:?AZURE_STORAGE_ACCOUNT_ID is not set: run azd provision first}"
inbox="${INBOX_CONTAINER:-inbox}"
dead_letter="${EVENTGRID_DEADLETTER_CONTAINER:-eventgrid-deadletter}"
function_name="${EVENTGRID_TRIGGER_FUNCTION_NAME:-onInboxUpload}"
subscription="${EVENTGRID_SUBSCRIPTION_NAME:-gemflow-inbox-blobcreated}"
event_type="Microsoft.Storage.BlobCreated"
schema="EventGridSchema"
max_delivery_attempts=30
event_ttl_minutes=1440

base_url="${SERVICE_API_URI:-}"
if [ -z "$base_url" ]; then
  base_url="https://$(az functionapp show --resource-group "$rg" --name "$app" --query defaultHostName -o tsv)"
fi

# Wake the host (Flex scales to zero) so it loads the Event Grid extension, which creates its system key.
curl --silent --output /dev/null --max-time 60 "$base_url/api/health" || true

key=""
attempt=1
while [ "$attempt" -le 20 ]; do
  key="$(az functionapp keys list --resource-group "$rg" --name "$app" --query "systemKeys.eventgrid_extension" -o tsv 2>/dev/null || true)"
  [ -n "$key" ] && break
  echo "Waiting for the eventgrid_extension system key of $app (attempt $attempt/20)..."
  sleep 15
  attempt=$((attempt + 1))
done
if [ -z "$key" ]; then
  echo "No eventgrid_extension system key on $app. Is the Event Grid trigger '$function_name' deployed?" >&2
  echo "Check the app's functions in the portal, then run this script again." >&2
  exit 1
fi

endpoint="$base_url/runtime/webhooks/eventgrid?functionName=$function_name&code=$key"
subject="/blobServices/default/containers/$inbox/blobs/"

# Event Grid validates the webhook with a handshake the host answers; a cold start can make the first
# try time out, so try a few times.
attempt=1
until az eventgrid event-subscription create \
  --source-resource-id "$storage_id" \
  --name "$subscription" \
  --endpoint-type webhook \
  --endpoint "$endpoint" \
  --included-event-types "$event_type" \
  --subject-begins-with "$subject" \
  --event-delivery-schema "$schema" \
  --max-delivery-attempts "$max_delivery_attempts" \
  --event-ttl "$event_ttl_minutes" \
  --deadletter-identity systemassigned \
  --deadletter-identity-endpoint "$storage_id/blobServices/default/containers/$dead_letter" \
  --output none; do
  if [ "$attempt" -ge 3 ]; then
    echo "Could not create the Event Grid subscription '$subscription'." >&2
    exit 1
  fi
  echo "Retrying the Event Grid subscription in 30 s (attempt $attempt/3 failed)..."
  sleep 30
  attempt=$((attempt + 1))
done
echo "Event Grid subscription '$subscription': $event_type under $subject -> $function_name" \
  "(retries: $max_delivery_attempts attempts within $event_ttl_minutes min; dead letters: $dead_letter)"
