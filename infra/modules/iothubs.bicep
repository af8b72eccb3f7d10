@description('Prefix of the IoT hub names; hubs are named <prefix>-<n>.')
param namePrefix string

@description('How many IoT hubs to create and link to DPS.')
@minValue(1)
@maxValue(50)
param count int

@description('IoT Hub SKU.')
@allowed(['S1', 'S2', 'S3'])
param sku string

@description('Units per hub.')
@minValue(1)
param units int

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

resource hubs 'Microsoft.Devices/IotHubs@2023-06-30' = [for i in range(0, count): {
  name: '${namePrefix}-${i + 1}'
  location: location
  tags: tags
  sku: { name: sku, capacity: units }
  // The hub's own identity reads the blob containers of containment import jobs (rbac.bicep).
  identity: { type: 'SystemAssigned' }
  properties: {
    minTlsVersion: '1.2'
    // The only key: the one DPS links with (registry write, service and device connect), not iothubowner.
    // The function app itself works by Entra ID (IoT Hub Registry Contributor).
    authorizationPolicies: [
      { keyName: 'dps-link', rights: 'RegistryWrite, ServiceConnect, DeviceConnect' }
    ]
  }
}]

@description('Host names of the hubs (IOTHUB_HOST_NAMES).')
output hostNames array = [for i in range(0, count): hubs[i].properties.hostName]

@description('Names of the hubs.')
output names array = [for i in range(0, count): hubs[i].name]

@description('Principal IDs of the hubs\' system-assigned identities.')
output principalIds array = [for i in range(0, count): hubs[i].identity.principalId]
