@description('Key Vault name.')
param name string

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    // Access by Azure RBAC only (no access policies); purge protection so a secret cannot vanish for good.
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
    softDeleteRetentionInDays: 30
  }
}

@description('Key Vault name.')
output name string = vault.name

@description('Key Vault URI.')
output uri string = vault.properties.vaultUri
