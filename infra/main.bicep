// dps-lifecycle: the whole backend. `azd up` provisions this and deploys the function app (azure.yaml).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd), used to name every resource.')
param environmentName string

@minLength(1)
@description('Azure region of every resource.')
param location string

@description('Object ID of the deploying user, granted Key Vault secrets access for the webhook wiring (optional).')
param principalId string = ''

@description('How many IoT hubs to create and link to DPS.')
@minValue(1)
@maxValue(50)
param iotHubCount int = 2

@description('IoT Hub SKU.')
@allowed(['S1', 'S2', 'S3'])
param iotHubSku string = 'S1'

@description('Units per IoT hub.')
@minValue(1)
param iotHubUnits int = 1

@description('Cosmos DB capacity: serverless (default) or autoscale.')
@allowed(['serverless', 'autoscale'])
param cosmosCapacityMode string = 'serverless'

@description('Autoscale maximum RU/s when cosmosCapacityMode is autoscale.')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 4000

@description('Instances kept warm for the allocation webhook.')
@minValue(0)
param allocateAlwaysReady int = 1

@description('Client ID of the Entra ID app registration that represents this API (app roles Manufacturer.Import and Admin). Empty: no Entra sign-in, so manufacturer routes refuse every call until it is set.')
param apiAppClientId string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var databaseName = 'dps-lifecycle'
var eventsHubName = 'lifecycle-events'
var alertsHubName = 'security-alerts'
var deploymentContainerName = 'app-package-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: { name: '${abbrs.identity}${resourceToken}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: { logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}', appInsightsName: '${abbrs.appInsights}${resourceToken}', location: location, tags: tags }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: { appInsightsId: monitoring.outputs.appInsightsId, location: location, tags: tags }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storage}${resourceToken}'
    location: location
    tags: tags
    queueNames: loadJsonContent('storage-queues.json')
    containerNames: loadJsonContent('storage-containers.json')
    deploymentContainerName: deploymentContainerName
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: '${abbrs.cosmos}${resourceToken}'
    location: location
    tags: tags
    databaseName: databaseName
    containers: loadJsonContent('cosmos-containers.json')
    capacityMode: cosmosCapacityMode
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  scope: rg
  params: {
    name: '${abbrs.eventHubNamespace}${resourceToken}'
    location: location
    tags: tags
    eventsHubName: eventsHubName
    alertsHubName: alertsHubName
    alertsConsumerGroup: 'dps-lifecycle'
  }
}

module iotHubs 'modules/iothubs.bicep' = {
  name: 'iothubs'
  scope: rg
  params: { namePrefix: '${abbrs.iotHub}${resourceToken}', count: iotHubCount, sku: iotHubSku, units: iotHubUnits, location: location, tags: tags }
}

module deviceRegistry 'modules/device-registry.bicep' = {
  name: 'device-registry'
  scope: rg
  params: {
    name: '${abbrs.adrNamespace}${resourceToken}'
    location: location
    tags: tags
    linkIdentityName: '${abbrs.identity}adr-link-${resourceToken}'
  }
}

module dps 'modules/dps.bicep' = {
  name: 'dps'
  scope: rg
  params: {
    name: '${abbrs.dps}${resourceToken}'
    location: location
    tags: tags
    hubNames: iotHubs.outputs.names
    adrNamespaceId: deviceRegistry.outputs.namespaceId
    adrLinkIdentityId: deviceRegistry.outputs.linkIdentityId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: { name: '${abbrs.keyVault}${resourceToken}', location: location, tags: tags }
}

// Exactly the settings the code reads (shared/settings.ts); test/unit/infra-settings.test.ts checks both ways.
var backendSettings = {
  DPS_HOST_NAME: dps.outputs.hostName
  DPS_ID_SCOPE: dps.outputs.idScope
  // DPS's documented 1,000 operations a minute (S1, one unit): where the shared pace of DPS calls starts; it then
  // learns what DPS really allows (README "Pacing"). Raise it with the unit count or an adjusted limit.
  DPS_OPERATIONS_PER_MINUTE: '1000'
  // A DPS or IoT Hub call with no answer this long (ms) is abandoned as a lost answer (bulk writes: twice as long).
  IOT_DEADLINE_MS: '30000'
  IOTHUB_HOST_NAMES: join(iotHubs.outputs.hostNames, ',')
  COSMOS_CONNECTION__accountEndpoint: cosmos.outputs.endpoint
  COSMOS_DATABASE: databaseName
  EVENTHUB_CONNECTION__fullyQualifiedNamespace: eventHubs.outputs.fullyQualifiedNamespace
  // Read by the Event Hubs trigger extension (security alerts), not by our code: the identity to connect with.
  EVENTHUB_CONNECTION__credential: 'managedidentity'
  EVENTHUB_CONNECTION__clientId: identity.outputs.clientId
  EVENTHUB_NAME: eventsHubName
  AZURE_CLIENT_ID: identity.outputs.clientId
  EXPIRY_HORIZONS_DAYS: '90,30,7'
  HUB_IMPORT_JOB_THRESHOLD: '1000'
  INCIDENT_AUTO_APPROVE_MAX_DEVICES: '10'
  // Four eyes: a plan that disables a group or a CA, or reaches more than the number above, is approved by another admin.
  INCIDENT_FOUR_EYES: 'true'
  // An alert refuses at once at most this many of the certificates and devices it names; the rest wait for an admin.
  INCIDENT_ALERT_IMMEDIATE_DENY_MAX: '100'
  CERT_MAX_AGE_DAYS: '3650'
  // Certificates DPS issues (ADR policies) are due for renewal at 80 % of their validity, as Microsoft suggests.
  CERT_RENEWAL_PERCENT: '80'
  // The Azure Device Registry namespaces (certificate policies, CAs, registry devices) are in the app's resource group.
  ADR_RESOURCE_GROUP_ID: rg.id
  // The namespace DPS is linked to: incidents and groups may name only its certificate policies.
  ADR_NAMESPACE: deviceRegistry.outputs.namespaceName
  // Import limits: 10 GB and 50 million rows a file (a 413 or a failed job above them).
  IMPORT_MAX_FILE_BYTES: '10737418240'
  IMPORT_MAX_ROWS: '50000000'
  // Written by the postdeploy hook (infra/scripts/wire-allocation.sh); resolved by the platform with the app's identity.
  ALLOCATION_WEBHOOK_URL: '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName=allocation-webhook-url)'
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: '${abbrs.functionApp}${resourceToken}'
    planName: '${abbrs.flexPlan}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    appSettings: backendSettings
    allocateAlwaysReady: allocateAlwaysReady
    apiAppClientId: apiAppClientId
  }
}

module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  scope: rg
  params: {
    workspaceId: monitoring.outputs.logAnalyticsId
    functionAppName: functionApp.outputs.name
    cosmosAccountName: cosmos.outputs.accountName
    eventHubNamespaceName: '${abbrs.eventHubNamespace}${resourceToken}'
    keyVaultName: keyVault.outputs.name
    dpsName: dps.outputs.name
    hubNames: iotHubs.outputs.names
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    storageAccountName: storage.outputs.name
    blobContainerNames: storage.outputs.appContainerNames
    cosmosAccountName: cosmos.outputs.accountName
    cosmosDatabaseName: databaseName
    cosmosContainers: map(loadJsonContent('cosmos-containers.json'), c => c.name)
    eventHubNamespaceName: '${abbrs.eventHubNamespace}${resourceToken}'
    eventsHubName: eventsHubName
    alertsHubName: alertsHubName
    hubNames: iotHubs.outputs.names
    hubPrincipalIds: iotHubs.outputs.principalIds
    dpsName: dps.outputs.name
    adrNamespaceName: deviceRegistry.outputs.namespaceName
    appInsightsName: monitoring.outputs.appInsightsName
    keyVaultName: keyVault.outputs.name
  }
}

@description('Resource group of the deployment.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('The ADR certificate policy (namespace/issuing CA/policy) a maker\'s certificatePolicy or an import\'s ?certificatePolicy= can name.')
output ADR_CERTIFICATE_POLICY string = '${deviceRegistry.outputs.certificatePolicy.namespaceName}/${deviceRegistry.outputs.certificatePolicy.certificateAuthorityName}/${deviceRegistry.outputs.certificatePolicy.certificatePolicyName}'

@description('Function app name (azd deploys to it).')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Base URL of the function app.')
output SERVICE_API_URL string = 'https://${functionApp.outputs.defaultHostName}'

@description('DPS service host name.')
output DPS_HOST_NAME string = dps.outputs.hostName

@description('DPS ID scope.')
output DPS_ID_SCOPE string = dps.outputs.idScope

@description('Key Vault that holds the allocation webhook URL (with its function key) after the postdeploy hook.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
