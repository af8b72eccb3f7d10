/**
 * The AllocationRequest DPS POSTs, as a JSON Schema, compiled at build time (dev/generate-validators.ts): every field the decision reads has its type
 * and a length cap, so a malformed call is a 400 that names the path — before any rule runs — and no string is long
 * enough to make a normalisation slow. Unknown fields are allowed: DPS may add some. The contract (contract.ts) reads
 * keys with exactly these spellings, so what it reads is what this schema checked.
 */
/** DPS sends at most 96 KB a message; a request body above this is refused before it is parsed. */
export const MAX_REQUEST_BYTES = 128 * 1024;

/** An optional string, capped; DPS sends null for an absent one. */
const text = (maxLength: number) => ({ type: ['string', 'null'], maxLength });
const hostName = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+$' };

const CERTIFICATE_DETAILS = {
  type: 'object',
  properties: {
    subjectName: text(1024),
    issuerName: text(1024),
    sha1Thumbprint: text(128),
    sha256Thumbprint: text(128),
    notBeforeUtc: text(64),
    notAfterUtc: text(64),
    serialNumber: text(128),
  },
};

const ATTESTATION = {
  type: 'object',
  properties: {
    type: text(32),
    tpm: { type: ['object', 'null'], properties: { endorsementKey: text(4096), storageRootKey: text(4096) } },
  },
};

const ENROLLMENT = (idField: string) => ({
  type: 'object',
  required: [idField],
  properties: {
    [idField]: { type: 'string', minLength: 1, maxLength: 128 },
    attestation: ATTESTATION,
    initialTwin: { type: ['object', 'null'] },
    iotHubs: { type: ['array', 'null'], maxItems: 50, items: text(253) },
    // DPS 2026-11-01 (when the enrollment's customAllocationDefinition.apiVersion is): its ADR certificate policy.
    namespaceName: text(64),
    certificateAuthorityName: text(63),
    certificatePolicyName: text(63),
  },
});

export const ALLOCATION_REQUEST_SCHEMA = {
  type: 'object',
  required: ['deviceRuntimeContext', 'linkedHubs'],
  properties: {
    individualEnrollment: ENROLLMENT('registrationId'),
    enrollmentGroup: ENROLLMENT('enrollmentGroupId'),
    linkedHubs: { type: 'array', minItems: 1, maxItems: 50, items: hostName },
    deviceRuntimeContext: {
      type: 'object',
      required: ['registrationId'],
      properties: {
        registrationId: { type: 'string', minLength: 1, maxLength: 128 },
        currentIotHubHostName: { type: ['string', 'null'], maxLength: 253 },
        // Older docs' spelling; the contract reads it when the current one is absent.
        currentIoTHubHostName: { type: ['string', 'null'], maxLength: 253 },
        currentDeviceId: { type: ['string', 'null'], maxLength: 128 },
        tpm: { type: ['object', 'null'], properties: { endorsementKey: text(4096), storageRootKey: text(4096) } },
        symmetricKey: { type: ['object', 'null'] },
        x509: {
          type: ['object', 'null'],
          properties: {
            ...CERTIFICATE_DETAILS.properties,
            certificateInfo: { ...CERTIFICATE_DETAILS, type: ['object', 'null'] },
            signingCertificateInfo: { ...CERTIFICATE_DETAILS, type: ['object', 'null'] },
            enrollmentGroupId: text(128),
            clientCertificate: text(16 * 1024),
          },
        },
      },
    },
  },
  anyOf: [{ required: ['individualEnrollment'] }, { required: ['enrollmentGroup'] }],
} as const;
