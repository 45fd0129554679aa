# azd postdeploy hook (Windows twin of post-deploy.sh): subscribe the blob trigger to BlobCreated
# events of the inbox container through the storage account's Event Grid system topic:
#   https://<app host>/runtime/webhooks/blobs?functionName=Host.Functions.<function>&code=<blobs_extension key>
# Idempotent: an identical subscription is left alone; one with another endpoint is replaced.
# Inputs: AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, EVENTGRID_SYSTEM_TOPIC_NAME, INBOX_CONTAINER,
# BLOB_TRIGGER_FUNCTION_NAME (default onInboxUpload), SERVICE_API_URI, EVENTGRID_SUBSCRIPTION_NAME.
# The key is never printed.
$ErrorActionPreference = 'Stop'

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'EVENTGRID_SYSTEM_TOPIC_NAME') {
  if (-not [Environment]::GetEnvironmentVariable($name)) { throw "$name is not set: run azd provision first" }
}
$rg = $env:AZURE_RESOURCE_GROUP
$app = $env:AZURE_FUNCTION_APP_NAME
$topic = $env:EVENTGRID_SYSTEM_TOPIC_NAME
$inbox = if ($env:INBOX_CONTAINER) { $env:INBOX_CONTAINER } else { 'inbox' }
$functionName = if ($env:BLOB_TRIGGER_FUNCTION_NAME) { $env:BLOB_TRIGGER_FUNCTION_NAME } else { 'onInboxUpload' }
$subscription = if ($env:EVENTGRID_SUBSCRIPTION_NAME) { $env:EVENTGRID_SUBSCRIPTION_NAME } else { 'gemflow-inbox-blobcreated' }

$baseUrl = $env:SERVICE_API_URI
if (-not $baseUrl) {
  $baseUrl = 'https://' + (az functionapp show --resource-group $rg --name $app --query defaultHostName -o tsv)
}

# Wake the host (Flex scales to zero) so it registers the blob extension and its system key.
try { Invoke-WebRequest -Uri "$baseUrl/api/health" -TimeoutSec 60 -UseBasicParsing | Out-Null } catch { }

$key = ''
for ($attempt = 1; $attempt -le 20; $attempt++) {
  $key = az functionapp keys list --resource-group $rg --name $app --query 'systemKeys.blobs_extension' -o tsv 2>$null
  if ($key) { break }
  Write-Host "Waiting for the blobs_extension system key of $app (attempt $attempt/20)..."
  Start-Sleep -Seconds 15
}
if (-not $key) {
  throw "No blobs_extension system key on $app. Is a blob trigger with source 'EventGrid' deployed as '$functionName'? Then run this script again."
}

$endpoint = "$baseUrl/runtime/webhooks/blobs?functionName=Host.Functions.$functionName&code=$key"
$subject = "/blobServices/default/containers/$inbox/blobs/"

az eventgrid system-topic event-subscription show --resource-group $rg --system-topic-name $topic --name $subscription --query name -o tsv 2>$null | Out-Null
if ($LASTEXITCODE -eq 0) {
  $current = az eventgrid system-topic event-subscription show --resource-group $rg --system-topic-name $topic `
    --name $subscription --include-full-endpoint-url true --query destination.endpointUrl -o tsv 2>$null
  if ($current -eq $endpoint) {
    Write-Host "Event Grid subscription '$subscription' is up to date."
    exit 0
  }
  Write-Host "Replacing Event Grid subscription '$subscription' (its endpoint changed)."
  az eventgrid system-topic event-subscription delete --resource-group $rg --system-topic-name $topic `
    --name $subscription --yes --output none
  if ($LASTEXITCODE -ne 0) { throw "Could not delete the Event Grid subscription '$subscription'." }
}

# Event Grid validates the webhook with a handshake; a cold start can make the first try time out.
for ($attempt = 1; ; $attempt++) {
  az eventgrid system-topic event-subscription create `
    --resource-group $rg `
    --system-topic-name $topic `
    --name $subscription `
    --endpoint-type webhook `
    --endpoint $endpoint `
    --included-event-types Microsoft.Storage.BlobCreated `
    --subject-begins-with $subject `
    --event-delivery-schema EventGridSchema `
    --max-delivery-attempts 30 `
    --event-ttl 1440 `
    --output none
  if ($LASTEXITCODE -eq 0) { break }
  if ($attempt -ge 3) { throw "Could not create the Event Grid subscription '$subscription'." }
  Write-Host "Retrying the Event Grid subscription in 30 s (attempt $attempt/3 failed)..."
  Start-Sleep -Seconds 30
}
Write-Host "Event Grid subscription '$subscription': BlobCreated under $subject -> Host.Functions.$functionName"
