# azd postdeploy hook (Windows twin of post-deploy.sh): subscribe the inbox Event Grid trigger to the
# inbox's BlobCreated events through the storage account's Event Grid system topic:
#   https://<app host>/runtime/webhooks/eventgrid?functionName=<function>&code=<eventgrid_extension key>
# Event Grid schema, subject filter on the inbox, at most 30 attempts within 24 h, then a dead letter in
# the dead-letter container, written with the system topic's managed identity.
# Safe to run again: `create` is a PUT (create or update) that brings the subscription to these settings.
# local/subscriptions.ts is the same subscription for the local host; a unit test keeps the two in step.
# Inputs: AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, AZURE_STORAGE_ACCOUNT_ID, INBOX_CONTAINER,
# EVENTGRID_DEADLETTER_CONTAINER, EVENTGRID_TRIGGER_FUNCTION_NAME (default onInboxUpload), SERVICE_API_URI,
# EVENTGRID_SUBSCRIPTION_NAME. The key is never printed.
$ErrorActionPreference = 'Stop'

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_STORAGE_ACCOUNT_ID') {
  if (-not [Environment]::GetEnvironmentVariable($name)) { throw "$name is not set: run azd provision first" }
}
$rg = $env:AZURE_RESOURCE_GROUP
$app = $env:AZURE_FUNCTION_APP_NAME
$storageId = $env:AZURE_STORAGE_ACCOUNT_ID
$inbox = if ($env:INBOX_CONTAINER) { $env:INBOX_CONTAINER } else { 'inbox' }
$deadLetter = if ($env:EVENTGRID_DEADLETTER_CONTAINER) { $env:EVENTGRID_DEADLETTER_CONTAINER } else { 'eventgrid-deadletter' }
$functionName = if ($env:EVENTGRID_TRIGGER_FUNCTION_NAME) { $env:EVENTGRID_TRIGGER_FUNCTION_NAME } else { 'onInboxUpload' }
$subscription = if ($env:EVENTGRID_SUBSCRIPTION_NAME) { $env:EVENTGRID_SUBSCRIPTION_NAME } else { 'gemflow-inbox-blobcreated' }
$eventType = 'Microsoft.Storage.BlobCreated'
$schema = 'EventGridSchema'
$maxDeliveryAttempts = 30
$eventTtlMinutes = 1440

$baseUrl = $env:SERVICE_API_URI
if (-not $baseUrl) {
  $baseUrl = 'https://' + (az functionapp show --resource-group $rg --name $app --query defaultHostName -o tsv)
}

# Wake the host (Flex scales to zero) so it loads the Event Grid extension, which creates its system key.
try { Invoke-WebRequest -Uri "$baseUrl/api/health" -TimeoutSec 60 -UseBasicParsing | Out-Null } catch { }

$key = ''
for ($attempt = 1; $attempt -le 20; $attempt++) {
  $key = az functionapp keys list --resource-group $rg --name $app --query 'systemKeys.eventgrid_extension' -o tsv 2>$null
  if ($key) { break }
  Write-Host "Waiting for the eventgrid_extension system key of $app (attempt $attempt/20)..."
  Start-Sleep -Seconds 15
}
if (-not $key) {
  throw "No eventgrid_extension system key on $app. Is the Event Grid trigger '$functionName' deployed? Then run this script again."
}

$endpoint = "$baseUrl/runtime/webhooks/eventgrid?functionName=$functionName&code=$key"
$subject = "/blobServices/default/containers/$inbox/blobs/"

# Event Grid validates the webhook with a handshake; a cold start can make the first try time out.
for ($attempt = 1; ; $attempt++) {
  az eventgrid event-subscription create `
    --source-resource-id $storageId `
    --name $subscription `
    --endpoint-type webhook `
    --endpoint $endpoint `
    --included-event-types $eventType `
    --subject-begins-with $subject `
    --event-delivery-schema $schema `
    --max-delivery-attempts $maxDeliveryAttempts `
    --event-ttl $eventTtlMinutes `
    --deadletter-identity systemassigned `
    --deadletter-identity-endpoint "$storageId/blobServices/default/containers/$deadLetter" `
    --output none
  if ($LASTEXITCODE -eq 0) { break }
  if ($attempt -ge 3) { throw "Could not create the Event Grid subscription '$subscription'." }
  Write-Host "Retrying the Event Grid subscription in 30 s (attempt $attempt/3 failed)..."
  Start-Sleep -Seconds 30
}
Write-Host "Event Grid subscription '$subscription': $eventType under $subject -> $functionName (retries: $maxDeliveryAttempts attempts within $eventTtlMinutes min; dead letters: $deadLetter)"
