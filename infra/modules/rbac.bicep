// Every role assignment of the deployment, in one place: the function app's identity gets exactly what it uses.
@description('Principal ID of the function app\'s managed identity.')
param principalId string

@description('Optional principal (the deploying user) that may manage Key Vault secrets, e.g. the webhook URL.')
param operatorPrincipalId string = ''

@description('Storage account name.')
param storageAccountName string

@description('Blob containers the app identity works in: the deployment package, the audit trail, staged uploads, the host\'s own.')
param blobContainerNames array

@description('Cosmos DB account name.')
param cosmosAccountName string

@description('Cosmos DB database name.')
param cosmosDatabaseName string

@description('Names of the Cosmos DB containers (infra/cosmos-containers.json).')
param cosmosContainers array

@description('The container of the audit trail: the app may create and read there, never replace or delete.')
param auditContainerName string = 'audit'

@description('Event Hubs namespace name.')
param eventHubNamespaceName string

@description('Event hub the app sends events to.')
param eventsHubName string

@description('Event hub the app receives security alerts from.')
param alertsHubName string

@description('IoT hub names.')
param hubNames array

@description('Principal IDs of the hubs\' identities: they read and write the blob containers of import jobs.')
param hubPrincipalIds array = []

@description('DPS name.')
param dpsName string

@description('Application Insights name.')
param appInsightsName string

@description('Azure Device Registry namespace the app reads policies and CAs of, and acts on (devices, revokeAndRotate).')
param adrNamespaceName string

@description('Key Vault name.')
param keyVaultName string

// The IoT Hub data actions the code calls (shared/azure/hub.ts): devices, twin reads and queries, statistics, jobs.
var hubDataActions = [
  'Microsoft.Devices/IotHubs/devices/read'
  'Microsoft.Devices/IotHubs/devices/write'
  'Microsoft.Devices/IotHubs/devices/delete'
  'Microsoft.Devices/IotHubs/twins/read'
  'Microsoft.Devices/IotHubs/statistics/read'
  'Microsoft.Devices/IotHubs/jobs/read'
  'Microsoft.Devices/IotHubs/jobs/write'
]

// The Azure Device Registry actions the code calls (shared/azure/device-registry.ts). Names follow ARM's
// `<type>/<verb>` convention for the 2026-11-01 resource types; the provider's operations list is not published.
var adrActions = [
  'Microsoft.DeviceRegistry/namespaces/read'
  'Microsoft.DeviceRegistry/namespaces/certificateAuthorities/read'
  'Microsoft.DeviceRegistry/namespaces/certificateAuthorities/revokeAndRotate/action'
  'Microsoft.DeviceRegistry/namespaces/certificateAuthorities/certificatePolicies/read'
  'Microsoft.DeviceRegistry/namespaces/registryDevices/read'
  'Microsoft.DeviceRegistry/namespaces/registryDevices/write'
  'Microsoft.DeviceRegistry/locations/operationStatuses/read'
]

// What an IoT Hub import job does in its containers: read devices.txt, write importErrors.log.
var blobJobDataActions = [
  'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'
  'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'
  'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'
]

// Must match HUB_JOB_CONTAINER_PREFIX in shared/breach/hub-job-container.ts (test/unit/infra-matches-code.test.ts).
var hubJobContainerPrefix = 'jobs-'

var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  dpsDataContributor: 'dfce44e4-17b7-4bd1-a6d1-04996ec95633'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubNamespaceName
}

resource eventsHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: namespace
  name: eventsHubName
}

resource alertsHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: namespace
  name: alertsHubName
}

resource hubs 'Microsoft.Devices/IotHubs@2023-06-30' existing = [for hub in hubNames: {
  name: hub
}]

resource dps 'Microsoft.Devices/provisioningServices@2022-12-12' existing = {
  name: dpsName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for c in blobContainerNames: {
  parent: blobService
  name: c
}]

// Blobs, container by container (storage.bicep creates them all): the deployment package, the audit trail (its
// retention policy, not this role, keeps it from being rewritten), staged uploads, and the Functions host's own
// azure-webjobs-hosts (locks, timers) and azure-webjobs-secrets (function keys). No blob right on the whole account.
resource blobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (c, i) in blobContainerNames: {
  name: guid(blobContainers[i].id, principalId, roles.storageBlobDataContributor)
  scope: blobContainers[i]
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor) }
}]

// The makers' upload URLs are user-delegation SAS: the key is requested at account level, and this role grants that
// one action and no data access (the SAS reaches only what the signer itself may write: import-uploads).
resource blobDelegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageBlobDelegator)
  scope: storage
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDelegator) }
}

// Containment creates one container per hub import job, named at run time (jobs-<hub>-<hash>), so no per-container
// assignment can exist beforehand: the app may create containers, and read and write blobs only in those that start
// with jobs- (a condition can restrict data actions only; creating a container is not one, deleting one is not granted).
resource appJobBlobsRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'dps-lifecycle-app-job-blobs')
  properties: {
    roleName: 'dps-lifecycle app import-job blobs (${uniqueString(resourceGroup().id)})'
    description: 'Create blob containers; read and write blobs, limited by a condition on each assignment to the import-job containers.'
    type: 'customRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: ['Microsoft.Storage/storageAccounts/blobServices/containers/write']
        notActions: []
        dataActions: blobJobDataActions
        notDataActions: []
      }
    ]
  }
}

resource appJobBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, appJobBlobsRole.id)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: appJobBlobsRole.id
    conditionVersion: '2.0'
    condition: '((${join(map(blobJobDataActions, a => '!(ActionMatches{\'${a}\'})'), ' AND ')}) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringStartsWith \'${hubJobContainerPrefix}\'))'
  }
}

// The worker queues and the host's own queues; tables for the host's diagnostic events.
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageQueueDataContributor)
  scope: storage
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor) }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.storageTableDataContributor)
  scope: storage
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor) }
}

// Cosmos DB data plane, as SQL role assignments of the account (not Microsoft.Authorization): the built-in Data
// Contributor on each container but the audit trail, and on that one a custom role that may only create and read —
// so the app can append audit records but never rewrite or delete one.
resource cosmosData 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = [for c in cosmosContainers: if (c != auditContainerName) {
  parent: cosmos
  name: guid(cosmos.id, principalId, '00000000-0000-0000-0000-000000000002', c)
  properties: {
    principalId: principalId
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'
    scope: '${cosmos.id}/dbs/${cosmosDatabaseName}/colls/${c}'
  }
}]

resource auditAppendOnly 'Microsoft.DocumentDB/databaseAccounts/sqlRoleDefinitions@2024-11-15' = {
  parent: cosmos
  name: guid(cosmos.id, 'dps-lifecycle-audit-append-only')
  properties: {
    roleName: 'dps-lifecycle audit append-only'
    type: 'CustomRole'
    assignableScopes: [cosmos.id]
    permissions: [
      {
        dataActions: [
          'Microsoft.DocumentDB/databaseAccounts/readMetadata'
          'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create'
          'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read'
          'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeQuery'
          'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/readChangeFeed'
        ]
      }
    ]
  }
}

resource auditData 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: cosmos
  name: guid(cosmos.id, principalId, auditAppendOnly.id)
  properties: {
    principalId: principalId
    roleDefinitionId: auditAppendOnly.id
    scope: '${cosmos.id}/dbs/${cosmosDatabaseName}/colls/${auditContainerName}'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventsHub.id, principalId, roles.eventHubsDataSender)
  scope: eventsHub
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataSender) }
}

resource receiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(alertsHub.id, principalId, roles.eventHubsDataReceiver)
  scope: alertsHub
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver) }
}

// IoT Hub data plane: a custom role with exactly the data actions the code uses. The built-in IoT Hub Registry
// Contributor covers devices only (no registry statistics for the capacity rules, no import jobs for containment of
// large scopes); IoT Hub Data Contributor would add cloud-to-device messages, direct methods and configurations.
resource hubRegistryOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'dps-lifecycle-hub-registry-operator')
  properties: {
    roleName: 'dps-lifecycle IoT Hub registry operator (${uniqueString(resourceGroup().id)})'
    description: 'Device identities (read, write, delete), twin reads and queries, registry statistics, import/export jobs.'
    type: 'customRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: hubDataActions
        notDataActions: []
      }
    ]
  }
}

resource registry 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (hub, i) in hubNames: {
  name: guid(hubs[i].id, principalId, hubRegistryOperator.id)
  scope: hubs[i]
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: hubRegistryOperator.id }
}]

resource dpsData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dps.id, principalId, roles.dpsDataContributor)
  scope: dps
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.dpsDataContributor) }
}

resource telemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher) }
}

// Each hub runs containment import jobs (delete mode) with its own identity: it reads devices.txt and writes
// importErrors.log, in blob containers named jobs-<hub name>-<hash> (shared/breach/hub-job-container.ts), one per job
// because the log's name is fixed. So each hub gets blob data actions only — no container management — and only on
// containers that start with its own prefix: not the deployment package, not the host's keys, not another hub's jobs.
resource hubJobBlobs 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'dps-lifecycle-hub-job-blobs')
  properties: {
    roleName: 'dps-lifecycle IoT Hub import-job blobs (${uniqueString(resourceGroup().id)})'
    description: 'Read and write blobs, for IoT Hub import jobs; containers limited by a condition on each assignment.'
    type: 'customRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: blobJobDataActions
        notDataActions: []
      }
    ]
  }
}

resource hubBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (hubPrincipal, i) in hubPrincipalIds: {
  name: guid(storage.id, hubPrincipal, hubJobBlobs.id)
  scope: storage
  properties: {
    principalId: hubPrincipal
    principalType: 'ServicePrincipal'
    roleDefinitionId: hubJobBlobs.id
    conditionVersion: '2.0'
    condition: '((${join(map(blobJobDataActions, a => '!(ActionMatches{\'${a}\'})'), ' AND ')}) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringStartsWith \'${hubJobContainerPrefix}${toLower(hubNames[i])}-\'))'
  }
}]

// The app reads the allocation webhook URL (a Key Vault reference in its settings); it writes no secret.
resource appSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser) }
}

resource operatorSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: { principalId: operatorPrincipalId, principalType: 'User', roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer) }
}

resource adrNamespace 'Microsoft.DeviceRegistry/namespaces@2026-11-01' existing = {
  name: adrNamespaceName
}

// Azure Device Registry: a custom role with exactly what the app does there. The built-in Azure Device Registry
// Contributor and Onboarding roles also write or delete namespaces, CAs and policies, which the app never does.
resource adrOperator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'dps-lifecycle-adr-operator')
  properties: {
    roleName: 'dps-lifecycle ADR operator (${uniqueString(resourceGroup().id)})'
    description: 'Reads the namespace, its CAs and certificate policies; enables or disables registry devices; revokes and rotates an issuing CA.'
    type: 'customRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: adrActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource adr 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(adrNamespace.id, principalId, adrOperator.id)
  scope: adrNamespace
  properties: { principalId: principalId, principalType: 'ServicePrincipal', roleDefinitionId: adrOperator.id }
}
