// gem-flow on Azure: Flex Consumption (FC1) function app with a user-assigned managed identity,
// identity-only storage (no shared keys), Key Vault (RBAC), Application Insights (Entra auth only)
// and the Event Grid system topic that feeds the inbox Event Grid trigger.
// Layout follows Microsoft's azd quickstarts for TypeScript Functions (AVM modules, infra/app/*.bicep).
// The Event Grid *subscription* is created by the azd postdeploy hook (scripts/post-deploy.sh),
// because the eventgrid_extension system key it needs exists only once the code is deployed.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds a unique token for resource names and the task hub name.')
param environmentName string

@minLength(1)
@description('Primary location for all resources. Must be a region that offers Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID). Gets data-plane roles on storage and Key Vault Secrets Officer so they can set the TomTom API key. Leave empty to grant nothing.')
param principalId string = ''

@description('Principal type of principalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('TomTom API host.')
param tomtomApiBaseUrl string = 'https://api.tomtom.com'

@description('Scope requested from managed identity for the GEM/PDG bearer token.')
param gemTokenScope string = 'https://gem.core.orbis.tomtom.com/.default'

@description('PDG storage id used when a run does not name one (blob uploads). Empty: not set; callers must name a storage.')
param defaultStorageId string = ''

@description('Overture release (YYYY-MM-DD.N) used for ROAD_MATCHING when a run does not name one. Empty: not set.')
param defaultOvertureRelease string = ''

@description('Blob container watched for uploads.')
param inboxContainerName string = 'inbox'

@description('Blob container that receives results, summaries and validation reports.')
param outboxContainerName string = 'outbox'

@description('Blob container that receives inbox files whose match the retention timer purged.')
param archiveContainerName string = 'archive'

@description('Days after which archived inbox files move to the Cool tier (lifecycle management). Nothing is deleted.')
param archiveCoolAfterDays int = 30

@description('Write the Key Vault secrets below. The preprovision hook sets this to false once they exist, so a re-provision never replaces a real API key with the placeholder nor rotates the signing secret.')
param seedSecrets bool = true

// A placeholder by design (never a real key), so the default is not sensitive.
#disable-next-line secure-parameter-default
@secure()
@description('Initial value of the tomtom-api-key secret: a placeholder, never a real key. Set the real key afterwards with az keyvault secret set (README: Deploy, Put the TomTom API key in Key Vault).')
param tomtomApiKeyPlaceholder string = 'replace-me'

@secure()
@description('Initial value of the notify-signing-secret secret (HMAC key for result callbacks). Generated per deployment; only written while seedSecrets is true.')
param notifySigningSecret string = '${newGuid()}${newGuid()}'

@description('Flex Consumption instance memory.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Flex Consumption scale-out limit.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional Entra ID sign-in in front of the app and its results page: the client id of an app registration (README "Results page"). Empty: no sign-in.')
param authClientId string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-gemflow-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
// Task hub names: letters and digits only, starting with a letter, at most 45 characters.
var taskHubName = take('gemflow${replace(replace(replace(toLower(environmentName), '-', ''), '_', ''), '.', '')}', 45)
var tomtomApiKeySecretName = 'tomtom-api-key'
var notifySigningSecretName = 'notify-signing-secret'
// Where the system topic dead-letters inbox events it could not deliver (scripts/post-deploy.sh).
var deadLetterContainerName = 'eventgrid-deadletter'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-gemflow-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stgemflow${take(resourceToken, 13)}'
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: 'Standard_LRS'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [
        { name: deploymentContainerName }
        { name: inboxContainerName }
        { name: outboxContainerName }
        { name: deadLetterContainerName }
        { name: archiveContainerName }
      ]
    }
    // Archived inputs are kept, not deleted; they only move to a cheaper tier. Add a delete action here to
    // have a deletion policy.
    managementPolicyRules: [
      {
        name: 'archive-to-cool'
        enabled: true
        type: 'Lifecycle'
        definition: {
          filters: {
            blobTypes: [
              'blockBlob'
            ]
            prefixMatch: [
              '${archiveContainerName}/'
            ]
          }
          actions: {
            baseBlob: {
              tierToCool: {
                daysAfterModificationGreaterThan: archiveCoolAfterDays
              }
            }
          }
        }
      }
    ]
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: 'log-gemflow-${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module monitoring 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: 'appi-gemflow-${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: 'kv-gemflow-${take(resourceToken, 11)}'
    location: location
    tags: tags
    seedSecrets: seedSecrets
    tomtomApiKeySecretName: tomtomApiKeySecretName
    tomtomApiKeyValue: tomtomApiKeyPlaceholder
    notifySigningSecretName: notifySigningSecretName
    notifySigningSecretValue: notifySigningSecret
  }
}

module appServicePlan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'appServicePlan'
  scope: rg
  params: {
    name: 'plan-gemflow-${resourceToken}'
    location: location
    tags: tags
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.name
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    appServicePlanId: appServicePlan.outputs.resourceId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    tomtomApiBaseUrl: tomtomApiBaseUrl
    tomtomApiKeySecretName: tomtomApiKeySecretName
    notifySigningSecretName: notifySigningSecretName
    gemTokenScope: gemTokenScope
    taskHubName: taskHubName
    inboxContainerName: inboxContainerName
    outboxContainerName: outboxContainerName
    archiveContainerName: archiveContainerName
    defaultStorageId: defaultStorageId
    defaultOvertureRelease: defaultOvertureRelease
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    authClientId: authClientId
  }
  // The host starts as soon as the site exists: its identity must already hold the data-plane roles.
  dependsOn: [
    rbac
  ]
}

// One system topic per storage account. The BlobCreated subscription to the function's webhook is
// added by scripts/post-deploy.sh after `azd deploy`. The topic's own identity writes the dead letters.
module eventGridTopic 'br/public:avm/res/event-grid/system-topic:0.6.1' = {
  name: 'eventGridTopic'
  scope: rg
  params: {
    name: 'evgt-gemflow-${resourceToken}'
    location: location
    tags: tags
    source: storage.outputs.resourceId
    topicType: 'Microsoft.Storage.StorageAccounts'
    managedIdentities: {
      systemAssigned: true
    }
  }
}

module deadLetterAccess 'app/deadletter.bicep' = {
  name: 'deadLetterAccess'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    containerName: deadLetterContainerName
    principalId: eventGridTopic.outputs.systemAssignedMIPrincipalId
  }
}

// Outputs become azd environment values (read by the hooks and by the README's Deploy commands).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output HEALTH_URL string = '${api.outputs.uri}/api/health'
output AZURE_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_IDENTITY_NAME string = identity.outputs.name
output KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URI string = keyVault.outputs.uri
// Secret names, not values.
#disable-next-line outputs-should-not-contain-secrets
output TOMTOM_API_KEY_SECRET_NAME string = tomtomApiKeySecretName
#disable-next-line outputs-should-not-contain-secrets
output NOTIFY_SIGNING_SECRET_NAME string = notifySigningSecretName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_ACCOUNT_ID string = storage.outputs.resourceId
output INBOX_CONTAINER string = inboxContainerName
output OUTBOX_CONTAINER string = outboxContainerName
output ARCHIVE_CONTAINER string = archiveContainerName
output TASKHUB_NAME string = taskHubName
output EVENTGRID_SYSTEM_TOPIC_NAME string = eventGridTopic.outputs.name
output EVENTGRID_TRIGGER_FUNCTION_NAME string = 'onInboxUpload'
output EVENTGRID_DEADLETTER_CONTAINER string = deadLetterContainerName
output SET_TOMTOM_API_KEY_COMMAND string = 'az keyvault secret set --vault-name ${keyVault.outputs.name} --name ${tomtomApiKeySecretName} --value "<your TomTom API key>"'
