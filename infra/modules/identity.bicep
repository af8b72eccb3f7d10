@description('Name of the user-assigned managed identity the function app runs as.')
param name string

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource ID of the identity.')
output resourceId string = identity.id

@description('Principal (object) ID of the identity, for role assignments.')
output principalId string = identity.properties.principalId

@description('Client ID of the identity, for the SDKs (AZURE_CLIENT_ID, __clientId settings).')
output clientId string = identity.properties.clientId
