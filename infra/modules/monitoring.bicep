@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights name.')
param appInsightsName string

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    // Telemetry is accepted only with an Entra ID token (the app's identity), never with the ingestion key alone.
    DisableLocalAuth: true
  }
}

@description('Log Analytics workspace resource ID (diagnostic settings send here).')
output logAnalyticsId string = logs.id

@description('Application Insights resource ID.')
output appInsightsId string = appInsights.id

@description('Application Insights name.')
output appInsightsName string = appInsights.name

@description('Connection string (not a secret with local auth disabled: it identifies the resource, the token authenticates).')
output connectionString string = appInsights.properties.ConnectionString
