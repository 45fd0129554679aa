// Key Vault in RBAC mode holding the TomTom API key and the callback signing secret.
// The app reads both with @azure/keyvault-secrets (no Key Vault references), so a new secret
// version is picked up within API_KEY_CACHE_TTL_SECONDS without a config change or restart.
param name string
param location string = resourceGroup().location
param tags object = {}

@description('Write the initial secret values. Only on the first provision: a PUT always creates a new latest version.')
param seedSecrets bool = true
param tomtomApiKeySecretName string
@secure()
param tomtomApiKeyValue string
param notifySigningSecretName string
@secure()
param notifySigningSecretValue string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource tomtomApiKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (seedSecrets) {
  parent: vault
  name: tomtomApiKeySecretName
  properties: {
    value: tomtomApiKeyValue
    contentType: 'TomTom API key (placeholder until set with az keyvault secret set)'
  }
}

resource notifySigningSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (seedSecrets) {
  parent: vault
  name: notifySigningSecretName
  properties: {
    value: notifySigningSecretValue
    contentType: 'HMAC-SHA256 key for result callbacks'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
output resourceId string = vault.id
