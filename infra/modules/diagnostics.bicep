// Diagnostic settings: every resource that acts on devices or holds their state sends its logs and metrics to the
// Log Analytics workspace — the function app, Cosmos DB, Event Hubs, Key Vault, DPS and every IoT hub. The category
// group allLogs takes each resource's own categories (DPS DeviceOperations, IoT Hub Connections, Key Vault AuditEvent, …).
@description('Resource ID of the Log Analytics workspace.')
param workspaceId string

@description('Function app name.')
param functionAppName string

@description('Cosmos DB account name.')
param cosmosAccountName string

@description('Event Hubs namespace name.')
param eventHubNamespaceName string

@description('Key Vault name.')
param keyVaultName string

@description('DPS name.')
param dpsName string

@description('IoT hub names.')
param hubNames array

var everything = {
  workspaceId: workspaceId
  logs: [{ categoryGroup: 'allLogs', enabled: true }]
  metrics: [{ category: 'AllMetrics', enabled: true }]
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubNamespaceName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource dps 'Microsoft.Devices/provisioningServices@2022-12-12' existing = {
  name: dpsName
}

resource hubs 'Microsoft.Devices/IotHubs@2023-06-30' existing = [for hub in hubNames: {
  name: hub
}]

resource appLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: app
  properties: everything
}

// Cosmos DB writes to resource-specific tables (CDBDataPlaneRequests, …) rather than the legacy AzureDiagnostics.
resource cosmosLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: cosmos
  properties: union(everything, { logAnalyticsDestinationType: 'Dedicated' })
}

resource eventHubsLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
  properties: everything
}

resource vaultLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: everything
}

resource dpsLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: dps
  properties: everything
}

resource hubLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [for (hub, i) in hubNames: {
  name: 'to-log-analytics'
  scope: hubs[i]
  properties: everything
}]
