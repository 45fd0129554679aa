#!/bin/sh
# azd postdeploy hook: subscribe the blob trigger to BlobCreated events of the inbox container.
#
# On Flex Consumption the blob trigger runs with source 'EventGrid': the storage account's Event Grid
# system topic (created by infra/main.bicep) must deliver Microsoft.Storage.BlobCreated to
#   https://<app host>/runtime/webhooks/blobs?functionName=Host.Functions.<function>&code=<blobs_extension key>
# The blobs_extension system key exists only once the code is deployed and the host has started, so
# the subscription is made here, as in Microsoft's Event Grid blob trigger quickstart.
# Idempotent: an existing subscription with the same endpoint is left alone; one with another endpoint
# (rotated key, renamed function) is replaced, since a webhook endpoint cannot be edited in place.
#
# Inputs (azd environment values, from infra/main.bicep outputs):
#   AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, EVENTGRID_SYSTEM_TOPIC_NAME, INBOX_CONTAINER,
#   BLOB_TRIGGER_FUNCTION_NAME (default onInboxUpload), SERVICE_API_URI (optional),
#   EVENTGRID_SUBSCRIPTION_NAME (optional, default gemflow-inbox-blobcreated).
# The key is never printed.
set -eu

rg="${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set: run azd provision first}"
app="${AZURE_FUNCTION_APP_NAME:?AZURE_FUNCTION_APP_NAME is not set: run azd provision first}"
topic="${EVENTGRID_SYSTEM_TOPIC_NAME:?EVENTGRID_SYSTEM_TOPIC_NAME is not set: run azd provision first}"
inbox="${INBOX_CONTAINER:-inbox}"
function_name="${BLOB_TRIGGER_FUNCTION_NAME:-onInboxUpload}"
subscription="${EVENTGRID_SUBSCRIPTION_NAME:-gemflow-inbox-blobcreated}"

base_url="${SERVICE_API_URI:-}"
if [ -z "$base_url" ]; then
  base_url="https://$(az functionapp show --resource-group "$rg" --name "$app" --query defaultHostName -o tsv)"
fi

# Wake the host (Flex scales to zero) so it registers the blob extension and its system key.
curl --silent --output /dev/null --max-time 60 "$base_url/api/health" || true

key=""
attempt=1
while [ "$attempt" -le 20 ]; do
  key="$(az functionapp keys list --resource-group "$rg" --name "$app" --query "systemKeys.blobs_extension" -o tsv 2>/dev/null || true)"
  [ -n "$key" ] && break
  echo "Waiting for the blobs_extension system key of $app (attempt $attempt/20)..."
  sleep 15
  attempt=$((attempt + 1))
done
if [ -z "$key" ]; then
  echo "No blobs_extension system key on $app. Is a blob trigger with source 'EventGrid' deployed" >&2
  echo "as '$function_name'? Check the app's functions in the portal, then run this script again." >&2
  exit 1
fi

endpoint="$base_url/runtime/webhooks/blobs?functionName=Host.Functions.$function_name&code=$key"
subject="/blobServices/default/containers/$inbox/blobs/"

if az eventgrid system-topic event-subscription show --resource-group "$rg" --system-topic-name "$topic" \
  --name "$subscription" --query name -o tsv >/dev/null 2>&1; then
  current="$(az eventgrid system-topic event-subscription show --resource-group "$rg" --system-topic-name "$topic" \
    --name "$subscription" --include-full-endpoint-url true --query destination.endpointUrl -o tsv 2>/dev/null || true)"
  if [ "$current" = "$endpoint" ]; then
    echo "Event Grid subscription '$subscription' is up to date."
    exit 0
  fi
  echo "Replacing Event Grid subscription '$subscription' (its endpoint changed)."
  az eventgrid system-topic event-subscription delete --resource-group "$rg" --system-topic-name "$topic" \
    --name "$subscription" --yes --output none
fi

# Event Grid validates the webhook with a handshake the host answers; a cold start can make the first
# try time out, so try a few times.
attempt=1
until az eventgrid system-topic event-subscription create \
  --resource-group "$rg" \
  --system-topic-name "$topic" \
  --name "$subscription" \
  --endpoint-type webhook \
  --endpoint "$endpoint" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with "$subject" \
  --event-delivery-schema EventGridSchema \
  --max-delivery-attempts 30 \
  --event-ttl 1440 \
  --output none; do
  if [ "$attempt" -ge 3 ]; then
    echo "Could not create the Event Grid subscription '$subscription'." >&2
    exit 1
  fi
  echo "Retrying the Event Grid subscription in 30 s (attempt $attempt/3 failed)..."
  sleep 30
  attempt=$((attempt + 1))
done
echo "Event Grid subscription '$subscription': BlobCreated under $subject -> Host.Functions.$function_name"
