@description('Device Provisioning Service name.')
param name string

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

@description('Names of the IoT hubs to link (each has the dps-link shared access policy).')
param hubNames array

@description('Azure Device Registry namespace DPS issues device certificates from (its certificate policies).')
param adrNamespaceId string

@description('User-assigned identity DPS reaches the namespace with (it holds Azure Device Registry Contributor there).')
param adrLinkIdentityId string

resource hubs 'Microsoft.Devices/IotHubs@2023-06-30' existing = [for hub in hubNames: {
  name: hub
}]

// 2026-03-01-preview: the first version whose Bicep types carry deviceRegistryNamespace (the stable 2026-08-01 has
// it too, but Bicep 0.49 has no types for it, which the linter refuses).
resource dps 'Microsoft.Devices/provisioningServices@2026-03-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'S1', capacity: 1 }
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${adrLinkIdentityId}': {} } }
  properties: {
    allocationPolicy: 'Hashed'
    // The link to ADR: enrollments naming one of the namespace's certificate policies get certificates issued.
    deviceRegistryNamespace: {
      resourceId: adrNamespaceId
      authenticationType: 'UserAssigned'
      selectedUserAssignedIdentityResourceId: adrLinkIdentityId
    }
    // DPS links a hub by a connection string of the hub's dps-link policy; it is read at deployment, never stored in the repo.
    iotHubs: [for (hub, i) in hubNames: {
      connectionString: 'HostName=${hubs[i].properties.hostName};SharedAccessKeyName=dps-link;SharedAccessKey=${hubs[i].listkeys().value[0].primaryKey}'
      location: location
      allocationWeight: 1
      applyAllocationPolicy: true
    }]
  }
}

@description('DPS service host name (DPS_HOST_NAME).')
output hostName string = dps.properties.serviceOperationsHostName

@description('ID scope devices register under (DPS_ID_SCOPE).')
output idScope string = dps.properties.idScope

@description('DPS resource name.')
output name string = dps.name
