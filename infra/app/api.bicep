// The gem-flow function app on Flex Consumption: Node 22, user-assigned identity for everything
// (deployment package, AzureWebJobsStorage, Key Vault, Application Insights, TomTom tokens).
param name string
param location string = resourceGroup().location
param tags object = {}
param appServicePlanId string
param storageAccountName string
param deploymentContainerName string
param identityId string
param identityClientId string
param applicationInsightsConnectionString string
param keyVaultUri string
param tomtomApiBaseUrl string
param tomtomApiKeySecretName string
param notifySigningSecretName string
param gemTokenScope string
param taskHubName string
param inboxContainerName string
param outboxContainerName string
param archiveContainerName string
param defaultStorageId string = ''
param defaultOvertureRelease string = ''
param instanceMemoryMB int = 2048
param maximumInstanceCount int = 100
@description('Entra ID sign-in in front of the whole app (App Service Authentication), on when this is the client id of an app registration. Empty: no sign-in; the function key alone guards the data routes.')
param authClientId string = ''
@description('The Entra tenant whose users sign in; default the tenant of the deployment.')
param authTenantId string = tenant().tenantId
@description('Paths that skip sign-in: machine callers that carry a key of their own (Event Grid\'s webhook) and the liveness probe.')
param authExcludedPaths array = [
  '/runtime/webhooks/eventgrid'
  '/api/health'
]

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// ---- app settings: begin ----
// Every app setting the app needs in Azure, and nothing else. test/unit/infra/settings.test.ts reads
// the keys between these markers and checks them against shared/config.ts (settingDefinitions),
// host.json's %NAME% references and the platform's own settings. Keep one `KEY: value` per line.
// Never a secret, a connection string or an account key here: secrets live in Key Vault and are
// read by the app with its identity; storage is reached with the identity (AzureWebJobsStorage__*).
// Local-only settings (TOMTOM_API_KEY, NOTIFY_SIGNING_SECRET, KEY_VAULT_DISABLE_CHALLENGE_VERIFICATION,
// AZURE_AUTHORITY_HOST, PDG_DISABLE_INSTANCE_DISCOVERY) must never appear. Not set on purpose (Flex
// Consumption deprecations): FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
// WEBSITE_RUN_FROM_PACKAGE, WEBSITE_TIME_ZONE (timers run in UTC).
var appSettings = {
  // Functions host storage and the Durable Task hub (Azure Storage provider), identity-based.
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  TASKHUB_NAME: taskHubName
  INBOX_CONTAINER: inboxContainerName
  OUTBOX_CONTAINER: outboxContainerName
  // Read by the sweep timer as %SWEEP_SCHEDULE%; a binding expression takes no default from the code.
  SWEEP_SCHEDULE: '0 */15 * * * *'
  ARCHIVE_CONTAINER: archiveContainerName
  // Timer schedules are %NAME% binding expressions, resolved by the host from app settings: they must exist.
  RETENTION_SCHEDULE: '0 30 2 * * *'
  // Telemetry with Entra auth only (the component has local auth disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // Identity: ManagedIdentityCredential with the user-assigned identity.
  TOKEN_CREDENTIAL: 'managed-identity'
  AZURE_CLIENT_ID: identityClientId
  GEM_TOKEN_SCOPE: gemTokenScope
  // TomTom API key and callback signing secret: names of Key Vault secrets, never values.
  KEY_VAULT_URL: keyVaultUri
  TOMTOM_API_KEY_SECRET_NAME: tomtomApiKeySecretName
  NOTIFY_SIGNING_SECRET_NAME: notifySigningSecretName
  // Empty: callbacks reach https receivers on public addresses only. List a receiver inside your network
  // (host name, IP or CIDR) here to admit it; never loopback, where the platform's own endpoints listen.
  NOTIFY_ALLOWED_HOSTS: ''
  TOMTOM_API_BASE_URL: tomtomApiBaseUrl
}
// Set only when the deployer gave a value (an empty app setting would not mean "unset" to the app).
var optionalAppSettings = union(
  empty(defaultStorageId) ? {} : { DEFAULT_STORAGE_ID: defaultStorageId },
  empty(defaultOvertureRelease) ? {} : { DEFAULT_OVERTURE_RELEASE: defaultOvertureRelease }
)
// ---- app settings: end ----

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: appServicePlanId
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Created with the site so the host never starts without its storage settings.
      appSettings: [for setting in items(union(appSettings, optionalAppSettings)): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        // Durable on Flex: keep one instance of the `durable` scale group warm so orchestrations
        // and activities are picked up without waiting for a scale-from-zero decision.
        alwaysReady: [
          {
            name: 'durable'
            instanceCount: 1
          }
        ]
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// No basic-auth publishing: azd deploys with Entra ID.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

// Optional Entra sign-in (App Service Authentication, "Easy Auth"): every request but the excluded paths needs a
// signed-in user, and a browser without a session is sent to the Microsoft sign-in page and back to the page
// it asked for. The page's data calls carry the session cookie (same origin) as well as the function key, so
// the key alone no longer opens the data. No client secret: sign-in uses ID tokens, which the registration
// must allow (README "Results page"); no token store, as the app never calls anything on the user's behalf.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(authClientId)) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: authExcludedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            authClientId
            'api://${authClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output name string = app.name
output uri string = 'https://${app.properties.defaultHostName}'
output resourceId string = app.id
