@description('Event Hubs namespace name.')
param name string

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

@description('Event hub for the events the backend emits (EVENTHUB_NAME).')
param eventsHubName string

@description('Event hub for incoming security alerts (the breach trigger).')
param alertsHubName string

@description('Consumer group the breach trigger reads security alerts with.')
param alertsConsumerGroup string

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard', capacity: 1 }
  properties: {
    // Entra ID only: no SAS keys.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource events 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventsHubName
  properties: { partitionCount: 4, messageRetentionInDays: 1 }
}

resource alerts 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: alertsHubName
  properties: { partitionCount: 2, messageRetentionInDays: 1 }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: alerts
  name: alertsConsumerGroup
}

@description('Fully qualified namespace (EVENTHUB_CONNECTION__fullyQualifiedNamespace).')
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'

@description('Resource ID of the outgoing events hub.')
output eventsHubId string = events.id

@description('Resource ID of the security alerts hub.')
output alertsHubId string = alerts.id
