@description('Storage account name (3–24 lower-case letters and digits).')
param name string

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

@description('Queues that drive the queue-triggered workers, exactly as the code names them.')
param queueNames array

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Blob containers the app and its host use, besides the deployment package and the audit trail (storage-containers.json): created here so the app needs no right to create them.')
param containerNames array

@description('Blob container of the immutable audit trail (AUDIT_TRAIL_CONTAINER in shared/audit-trail.ts).')
param auditTrailContainerName string = 'audit-trail'

@description('Days each audit-trail blob stays immutable after it is created.')
@minValue(1)
param auditRetentionDays int = 365

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    // Identity only: no account keys, so no connection string can leak.
    allowSharedKeyAccess: false
    supportsHttpsTrafficOnly: true
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: deploymentContainerName
}

resource appContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for c in containerNames: {
  parent: blobs
  name: c
}]

// The audit trail's copy the app cannot rewrite (shared/audit-trail.ts): append blobs under a time-based retention
// policy that allows protected append writes — blocks may be added, nothing changed or deleted for the period. The
// policy is created unlocked, so a first deployment can still be corrected; lock it once reviewed (README).
resource auditTrail 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: auditTrailContainerName
}

resource auditTrailRetention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: auditTrail
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: auditRetentionDays
    allowProtectedAppendWrites: true
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queue in queueNames: {
  parent: queueService
  name: queue
}]

@description('Every blob container the app identity works in, each given its own role assignment (rbac.bicep).')
output appContainerNames array = concat([deploymentContainerName, auditTrailContainerName], containerNames)

@description('Storage account resource ID.')
output resourceId string = storage.id

@description('Storage account name.')
output name string = storage.name

@description('Blob service endpoint.')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('Queue service endpoint.')
output queueEndpoint string = storage.properties.primaryEndpoints.queue

@description('Table service endpoint.')
output tableEndpoint string = storage.properties.primaryEndpoints.table
