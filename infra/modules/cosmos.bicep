@description('Cosmos DB account name.')
param name string

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

@description('Database name (COSMOS_DATABASE).')
param databaseName string

@description('Containers and partition keys, exactly as the code uses them (infra/cosmos-containers.json).')
param containers array

@description('serverless (pay per request, the default) or autoscale (provisioned, for steady large fleets).')
@allowed(['serverless', 'autoscale'])
param capacityMode string = 'serverless'

@description('Autoscale maximum RU/s of the database, when capacityMode is autoscale.')
@minValue(1000)
param autoscaleMaxThroughput int = 4000

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: false }]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    capabilities: capacityMode == 'serverless' ? [{ name: 'EnableServerless' }] : []
    // Entra ID only: the account keys cannot be used.
    disableLocalAuth: true
    minimalTlsVersion: 'Tls12'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: { id: databaseName }
    options: capacityMode == 'autoscale' ? { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } } : {}
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [for c in containers: {
  parent: database
  name: c.name
  properties: {
    // defaultTtl -1: items that carry a `ttl` expire (the deny list's change log); the others never do.
    resource: union(contains(c, 'defaultTtl') ? { defaultTtl: c.defaultTtl } : {}, {
      id: c.name
      partitionKey: { paths: [c.partitionKeyPath], kind: 'Hash', version: 2 }
      // Index only what the queries filter or sort on where the container says so; everything otherwise.
      indexingPolicy: contains(c, 'indexedPaths')
        ? {
            indexingMode: 'consistent'
            includedPaths: map(c.indexedPaths, p => { path: p })
            excludedPaths: [{ path: '/*' }]
          }
        : { indexingMode: 'consistent', includedPaths: [{ path: '/*' }], excludedPaths: [{ path: '/"_etag"/?' }] }
    })
  }
}]

@description('Cosmos DB account name.')
output accountName string = account.name

@description('Cosmos DB account endpoint (COSMOS_CONNECTION__accountEndpoint).')
output endpoint string = account.properties.documentEndpoint
