/**
 * Azure Device Registry's resource-manager contract, api-version 2026-11-01, the part the local ADR serves, as JSON
 * Schema: Azure/azure-rest-api-specs specification/deviceregistry/resource-manager/Microsoft.DeviceRegistry/
 * DeviceRegistry/stable/2026-11-01/deviceregistry.json (from its TypeSpec: certificateAuthorities.tsp,
 * certificatePolicies.tsp, registryDevices.tsp, common/deviceTypes.tsp, main.tsp's operation statuses) and ARM's common
 * types v5 (TrackedResource, ProxyResource, ErrorResponse, OperationStatusResult). The namespace's messaging,
 * provisioning and management endpoints are taken as any object: nothing here reads or writes them.
 */
import { anyObject, arrayOf, dateTime, int, obj, oneOf, ref, type Schema, str } from './schema-kit';

const systemData = obj({
  createdBy: str,
  createdByType: str,
  createdAt: dateTime,
  lastModifiedBy: str,
  lastModifiedByType: str,
  lastModifiedAt: dateTime,
});
const tags: Schema = { type: 'object', additionalProperties: str };
/** ADR's ProvisioningState (common/provisioningState.tsp is not read here: ARM's terminal states and the usual ones). */
const provisioningState = oneOf('Succeeded', 'Failed', 'Canceled', 'Accepted', 'Provisioning', 'Updating', 'Deleting');
const tracked = (properties: Schema, required: string[] = []) =>
  obj({ id: str, name: str, type: str, systemData, tags, location: str, properties, etag: str }, required);
const listOf = (item: string) => obj({ value: arrayOf(ref(item)), nextLink: str }, ['value']);

export const ADR: Record<string, Schema> = {
  Namespace: tracked(
    obj({ uuid: str, provisioningState, messaging: anyObject, provisioning: anyObject, management: anyObject }),
  ),
  CertificateAuthority: tracked(
    obj(
      {
        provisioningState,
        uuid: str,
        certificateAuthorityType: oneOf('Root', 'ICA'),
        keyType: oneOf('ECC'),
        subject: str,
        validityNotBefore: dateTime,
        validityNotAfter: dateTime,
        issuer: obj(
          {
            issuerType: oneOf('Microsoft', 'External'),
            certificateAuthorityResourceId: str,
            certificateSigningRequest: str,
            thumbprint: str,
            status: oneOf('PendingActivation', 'Active', 'ActiveButPendingRenewal'),
          },
          ['issuerType'],
        ),
      },
      ['certificateAuthorityType', 'keyType'],
    ),
  ),
  CertificatePolicy: obj({
    id: str,
    name: str,
    type: str,
    systemData,
    properties: obj({
      provisioningState,
      uuid: str,
      certificate: obj({ validityPeriodInDays: int }, ['validityPeriodInDays']),
    }),
  }),
  RegistryDevice: tracked(
    obj(
      {
        enablementState: oneOf('Enabled', 'Disabled'),
        uuid: str,
        externalDeviceId: str,
        manufacturer: str,
        model: str,
        hardwareRevision: str,
        softwareRevision: str,
        provisioningState,
      },
      ['enablementState'],
    ),
  ),
  /** ResourceUpdateModel<RegistryDevice, RegistryDeviceProperties>: tags and any of the properties. */
  RegistryDeviceUpdate: obj({
    tags,
    properties: obj({
      enablementState: oneOf('Enabled', 'Disabled'),
      manufacturer: str,
      model: str,
      hardwareRevision: str,
      softwareRevision: str,
    }),
  }),
  NamespaceList: listOf('Namespace'),
  CertificateAuthorityList: listOf('CertificateAuthority'),
  CertificatePolicyList: listOf('CertificatePolicy'),
  RegistryDeviceList: listOf('RegistryDevice'),
  OperationStatusResult: obj(
    {
      id: str,
      resourceId: str,
      name: str,
      status: str,
      percentComplete: { type: 'number', minimum: 0, maximum: 100 },
      startTime: dateTime,
      endTime: dateTime,
      operations: arrayOf(ref('OperationStatusResult')),
      error: ref('ErrorDetail'),
    },
    ['status'],
  ),
  ErrorDetail: obj({
    code: str,
    message: str,
    target: str,
    details: arrayOf(ref('ErrorDetail')),
    additionalInfo: arrayOf(obj({ type: str, info: anyObject })),
  }),
  ErrorResponse: obj({ error: ref('ErrorDetail') }),
};
