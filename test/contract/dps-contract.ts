/**
 * DPS's published data-plane contract, api-version 2021-10-01, written out as JSON Schema: the service API
 * (Azure/azure-rest-api-specs, specification/deviceprovisioningservices/data-plane/DeviceProvisioningServices/
 * stable/2021-10-01/service.json) and the device API (device.json beside it). Field names, types, enums and required
 * lists are the spec's. Where the spec is known to be wrong about what DPS and its own SDKs exchange, the schema says
 * so and follows the wire (the README's fidelity table lists each case).
 */
import { anyObject, arrayOf, bool, dateTime, int, obj, oneOf, ref, type Schema, str } from './schema-kit';

const certificateInfo = obj(
  {
    subjectName: str,
    sha1Thumbprint: str,
    sha256Thumbprint: str,
    issuerName: str,
    notBeforeUtc: dateTime,
    notAfterUtc: dateTime,
    serialNumber: str,
    version: int,
  },
  [
    'subjectName',
    'sha1Thumbprint',
    'sha256Thumbprint',
    'issuerName',
    'notBeforeUtc',
    'notAfterUtc',
    'serialNumber',
    'version',
  ],
);
const enrollmentStatus = oneOf('unassigned', 'assigning', 'assigned', 'failed', 'disabled');
const substatus = oneOf(
  'initialAssignment',
  'deviceDataMigrated',
  'deviceDataReset',
  'reprovisionedToInitialAssignment',
);
const registrationStateFields = {
  registrationId: str,
  createdDateTimeUtc: dateTime,
  assignedHub: str,
  deviceId: str,
  status: enrollmentStatus,
  substatus,
  errorCode: int,
  errorMessage: str,
  lastUpdatedDateTimeUtc: dateTime,
  etag: str,
  payload: anyObject,
};
/**
 * TwinCollection: the spec gives it `additionalProperties: { type: object }`, which would refuse every scalar tag
 * and desired property — yet DPS takes and returns them, and so does every SDK. Any JSON value is taken here.
 */
const twinCollection: Schema = { type: 'object' };
const enrollmentFields = {
  attestation: ref('AttestationMechanism'),
  capabilities: obj({ iotEdge: bool }, ['iotEdge']),
  iotHubHostName: str,
  initialTwin: obj({ tags: twinCollection, properties: obj({ desired: twinCollection }) }),
  etag: str,
  provisioningStatus: oneOf('enabled', 'disabled'),
  reprovisionPolicy: obj({ updateHubAssignment: bool, migrateDeviceData: bool }, [
    'updateHubAssignment',
    'migrateDeviceData',
  ]),
  createdDateTimeUtc: dateTime,
  lastUpdatedDateTimeUtc: dateTime,
  allocationPolicy: oneOf('hashed', 'geoLatency', 'static', 'custom'),
  iotHubs: arrayOf(str),
  customAllocationDefinition: obj({ webhookUrl: str, apiVersion: str }, ['webhookUrl', 'apiVersion']),
};
const x509Certificates = obj({ primary: ref('X509CertificateWithInfo'), secondary: ref('X509CertificateWithInfo') });

export const DPS_SERVICE: Record<string, Schema> = {
  AttestationMechanism: obj(
    {
      type: oneOf('none', 'tpm', 'x509', 'symmetricKey'),
      tpm: obj({ endorsementKey: str, storageRootKey: str }, ['endorsementKey']),
      x509: obj({
        clientCertificates: x509Certificates,
        signingCertificates: x509Certificates,
        caReferences: obj({ primary: str, secondary: str }),
      }),
      symmetricKey: obj({ primaryKey: str, secondaryKey: str }),
    },
    ['type'],
  ),
  X509CertificateWithInfo: obj({ certificate: str, info: certificateInfo }),
  IndividualEnrollment: obj(
    {
      registrationId: str,
      deviceId: str,
      registrationState: ref('DeviceRegistrationState'),
      optionalDeviceInformation: twinCollection,
      ...enrollmentFields,
    },
    ['registrationId', 'attestation'],
  ),
  EnrollmentGroup: obj({ enrollmentGroupId: str, ...enrollmentFields }, ['enrollmentGroupId', 'attestation']),
  DeviceRegistrationState: obj(registrationStateFields),
  /** OperationMode: the spec spells `updateIfMatchETag`; the Node service SDK sends `updateIfMatchEtag`, DPS takes both. */
  BulkEnrollmentOperation: obj(
    {
      enrollments: arrayOf(ref('IndividualEnrollment')),
      mode: oneOf('create', 'update', 'updateIfMatchETag', 'updateIfMatchEtag', 'delete'),
    },
    ['enrollments', 'mode'],
  ),
  BulkEnrollmentOperationResult: obj(
    {
      errors: arrayOf(
        obj({ registrationId: str, errorCode: int, errorStatus: str }, ['registrationId', 'errorCode', 'errorStatus']),
      ),
      isSuccessful: bool,
    },
    ['isSuccessful'],
  ),
  QuerySpecification: obj({ query: str }, ['query']),
  ProvisioningServiceErrorDetails: obj({
    errorCode: int,
    trackingId: str,
    message: str,
    info: { type: 'object', additionalProperties: str },
    timestampUtc: dateTime,
  }),
};

export const DPS_DEVICE: Record<string, Schema> = {
  DeviceRegistration: obj({
    registrationId: str,
    tpm: obj({ endorsementKey: str, storageRootKey: str }, ['endorsementKey']),
    payload: anyObject,
  }),
  DeviceRegistrationResult: obj({
    tpm: obj({ authenticationKey: str }),
    x509: obj({ certificateInfo, enrollmentGroupId: str, signingCertificateInfo: certificateInfo }),
    symmetricKey: obj({ enrollmentGroupId: str }),
    ...registrationStateFields,
  }),
  RegistrationOperationStatus: obj(
    {
      operationId: { type: 'string', minLength: 1 },
      status: enrollmentStatus,
      registrationState: ref('DeviceRegistrationResult'),
    },
    ['operationId'],
  ),
  /**
   * Not in the spec: the 401 DPS answers a TPM device's first register with, as the official TPM clients read it
   * (azure-iot-provisioning-device-http `getAuthenticationChallenge`: `authenticationKey`, base64).
   */
  TpmAuthenticationChallenge: obj({ message: str, authenticationKey: str, keyName: str }, ['authenticationKey']),
  ProvisioningServiceErrorDetails: DPS_SERVICE.ProvisioningServiceErrorDetails,
};

/**
 * api-version 2026-11-01 (Azure/azure-rest-api-specs …/DeviceProvisioningServices/stable/2026-11-01/service.json):
 * individual enrollments and groups add the ADR policy they issue certificates from, three names with the spec's
 * lengths and patterns. Everything else is 2021-10-01's.
 */
const adrNames = {
  namespaceName: { type: 'string', minLength: 3, maxLength: 64, pattern: '^[a-z0-9][a-z0-9-]*[a-z0-9]$' },
  certificateAuthorityName: { type: 'string', minLength: 3, maxLength: 63, pattern: '^[0-9a-zA-Z][a-zA-Z0-9-]*$' },
  certificatePolicyName: { type: 'string', minLength: 3, maxLength: 63, pattern: '^[0-9a-zA-Z][a-zA-Z0-9-]*$' },
};
const withProperties = (schema: Schema, extra: Record<string, Schema>): Schema => ({
  ...schema,
  properties: { ...(schema.properties as Record<string, Schema>), ...extra },
});

export const DPS_SERVICE_2026: Record<string, Schema> = {
  ...DPS_SERVICE,
  IndividualEnrollment: withProperties(DPS_SERVICE.IndividualEnrollment, adrNames),
  EnrollmentGroup: withProperties(DPS_SERVICE.EnrollmentGroup, adrNames),
};

/**
 * device.json 2026-11-01: DeviceRegistration adds `csr` (base64 DER PKCS#10); DeviceRegistrationResult adds
 * `issuedCertificateChain` (an array of `format: byte`, leaf first).
 */
const base64: Schema = { type: 'string', pattern: '^[A-Za-z0-9+/]+={0,2}$' };
export const DPS_DEVICE_2026: Record<string, Schema> = {
  ...DPS_DEVICE,
  DeviceRegistration: withProperties(DPS_DEVICE.DeviceRegistration, { csr: str }),
  DeviceRegistrationResult: withProperties(DPS_DEVICE.DeviceRegistrationResult, {
    issuedCertificateChain: arrayOf(base64),
  }),
};
