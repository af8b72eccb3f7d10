// Azure Device Registry (Microsoft.DeviceRegistry 2026-11-01): the namespace whose certificate policy DPS issues
// device certificates from, its root CA and one issuing (intermediate) CA with its policy, and the identity DPS uses
// to reach it. Types and shapes: Azure/azure-rest-api-specs specification/deviceregistry/…/stable/2026-11-01 examples
// (CreateOrReplace_CertificateAuthority_Root/_ICAInternalIssuer, CreateOrReplace_CertificatePolicy).
@description('ADR namespace name (3–64 lower-case letters, digits and -).')
@minLength(3)
@maxLength(64)
param name string

@description('Azure region (ADR runs in a few regions only: East US, East US 2, West US, West US 2, West Europe, North Europe).')
param location string

@description('Resource tags.')
param tags object = {}

@description('Name of the user-assigned identity DPS reaches the namespace with.')
param linkIdentityName string

@description('Validity of the certificates the policy issues, in days (ADR: 7–90; devices renew at 80 %).')
@minValue(7)
@maxValue(90)
param validityPeriodInDays int = 30

// Azure Device Registry Contributor: what Microsoft's certificate-management setup grants the identity DPS and the
// hub use on the namespace (read the namespace, its devices and policies). Role ID from Microsoft's setup scripts.
var adrContributorRoleId = 'a5c3590a-3a1a-4cd4-9648-ea0a32b15137'

resource namespace 'Microsoft.DeviceRegistry/namespaces@2026-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {}
}

resource root 'Microsoft.DeviceRegistry/namespaces/certificateAuthorities@2026-11-01' = {
  parent: namespace
  name: 'root-ca'
  location: location
  tags: tags
  properties: { certificateAuthorityType: 'Root', keyType: 'ECC' }
}

// The issuing CA: ECC P-384, signed by the namespace's root (issuer Microsoft, the namespace's own PKI).
resource issuing 'Microsoft.DeviceRegistry/namespaces/certificateAuthorities@2026-11-01' = {
  parent: namespace
  name: 'issuing-ca-1'
  location: location
  tags: tags
  properties: {
    certificateAuthorityType: 'ICA'
    keyType: 'ECC'
    issuer: { issuerType: 'Microsoft', certificateAuthorityResourceId: root.id }
  }
}

resource policy 'Microsoft.DeviceRegistry/namespaces/certificateAuthorities/certificatePolicies@2026-11-01' = {
  parent: issuing
  name: 'device-certificates'
  properties: { certificate: { validityPeriodInDays: validityPeriodInDays } }
}

resource linkIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: linkIdentityName
  location: location
  tags: tags
}

resource linkRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, linkIdentity.id, adrContributorRoleId)
  scope: namespace
  properties: {
    principalId: linkIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', adrContributorRoleId)
  }
}

@description('Namespace resource ID (DPS links it).')
output namespaceId string = namespace.id

@description('Namespace name.')
output namespaceName string = namespace.name

@description('The certificate policy enrollments name: namespace, issuing CA, policy.')
output certificatePolicy object = {
  namespaceName: namespace.name
  certificateAuthorityName: issuing.name
  certificatePolicyName: policy.name
}

@description('Resource ID of the identity DPS reaches the namespace with.')
output linkIdentityId string = linkIdentity.id
