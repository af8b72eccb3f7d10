/**
 * The JSON shapes of the DPS service API (api-version 2021-10-01) and of IoT Hub device identities,
 * as they cross the wire. Only the fields this backend reads or writes are typed; the rest pass through.
 */

export type ProvisioningStatus = 'enabled' | 'disabled';
export type AllocationPolicy = 'hashed' | 'geoLatency' | 'static' | 'custom';

export interface X509CertificateInfo {
  subjectName: string;
  sha1Thumbprint: string;
  sha256Thumbprint: string;
  issuerName: string;
  notBeforeUtc: string;
  notAfterUtc: string;
  serialNumber: string;
  version: number;
}

/** A certificate slot: the PEM/base64 going in, the parsed `info` coming back (DPS never returns the certificate). */
export interface X509CertificateWithInfo {
  certificate?: string;
  info?: X509CertificateInfo;
}

export interface X509Certificates {
  primary?: X509CertificateWithInfo;
  secondary?: X509CertificateWithInfo;
}

export interface X509Attestation {
  clientCertificates?: X509Certificates;
  signingCertificates?: X509Certificates;
  caReferences?: { primary?: string; secondary?: string };
}

export interface TpmAttestation {
  endorsementKey: string;
  storageRootKey?: string;
}

export interface SymmetricKeyAttestation {
  primaryKey?: string;
  secondaryKey?: string;
}

export interface AttestationMechanism {
  type: 'tpm' | 'x509' | 'symmetricKey';
  tpm?: TpmAttestation;
  x509?: X509Attestation;
  symmetricKey?: SymmetricKeyAttestation;
}

export interface TwinState {
  tags?: Record<string, unknown>;
  properties?: { desired?: Record<string, unknown> };
}

export interface ReprovisionPolicy {
  updateHubAssignment?: boolean;
  migrateDeviceData?: boolean;
}

export interface CustomAllocationDefinition {
  webhookUrl: string;
  apiVersion: string;
}

interface EnrollmentCommon {
  attestation: AttestationMechanism;
  iotHubHostName?: string;
  initialTwin?: TwinState;
  etag?: string;
  provisioningStatus?: ProvisioningStatus;
  reprovisionPolicy?: ReprovisionPolicy;
  createdDateTimeUtc?: string;
  lastUpdatedDateTimeUtc?: string;
  allocationPolicy?: AllocationPolicy;
  iotHubs?: string[];
  customAllocationDefinition?: CustomAllocationDefinition;
  capabilities?: { iotEdge: boolean };
  /** DPS 2026-11-01: the ADR certificate policy whose CA signs its devices' CSRs (all three or none; see certificate-policy.ts). */
  namespaceName?: string;
  certificateAuthorityName?: string;
  certificatePolicyName?: string;
}

export interface IndividualEnrollment extends EnrollmentCommon {
  registrationId: string;
  deviceId?: string;
  registrationState?: DeviceRegistrationState;
}

export interface EnrollmentGroup extends EnrollmentCommon {
  enrollmentGroupId: string;
}

export type RegistrationStatus = 'unassigned' | 'assigning' | 'assigned' | 'failed' | 'disabled';

export interface DeviceRegistrationState {
  registrationId: string;
  createdDateTimeUtc?: string;
  assignedHub?: string;
  deviceId?: string;
  status: RegistrationStatus;
  substatus?: 'initialAssignment' | 'deviceDataMigrated' | 'deviceDataReset' | 'reprovisionedToInitialAssignment';
  errorCode?: number;
  errorMessage?: string;
  lastUpdatedDateTimeUtc?: string;
  etag?: string;
  payload?: unknown;
  /** Device API only: a TPM device's IoT Hub key, as an activation blob for its TPM. */
  tpm?: { authenticationKey: string };
  /** Device API only: the certificates an X.509 device was admitted by, and its group. */
  x509?: Record<string, unknown>;
  /** Device API only: the group a symmetric-key device was admitted through. */
  symmetricKey?: { enrollmentGroupId?: string };
}

export type BulkEnrollmentMode = 'create' | 'update' | 'updateIfMatchEtag' | 'delete';

export interface BulkEnrollmentOperationResult {
  isSuccessful: boolean;
  errors: Array<{ registrationId: string; errorCode: number; errorStatus: string }>;
}

/** IoT Hub device identity (api-version 2021-04-12). */
export interface HubDevice {
  deviceId: string;
  generationId?: string;
  etag?: string;
  status?: 'enabled' | 'disabled';
  statusReason?: string | null;
  authentication?: {
    type: 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';
    symmetricKey?: { primaryKey?: string | null; secondaryKey?: string | null };
    x509Thumbprint?: { primaryThumbprint?: string | null; secondaryThumbprint?: string | null };
  };
  capabilities?: { iotEdge: boolean };
  connectionState?: string;
  connectionStateUpdatedTime?: string;
  statusUpdatedTime?: string;
  lastActivityTime?: string;
  cloudToDeviceMessageCount?: number;
}

export interface HubTwin {
  deviceId: string;
  etag?: string;
  tags?: Record<string, unknown>;
  properties?: { desired?: Record<string, unknown>; reported?: Record<string, unknown> };
  status?: string;
  /** `Connected` or `Disconnected`, as the hub shows it (Microsoft: for development and debugging). */
  connectionState?: string;
  lastActivityTime?: string;
}

export interface HubBulkResult {
  isSuccessful: boolean;
  errors: Array<{ deviceId: string; errorCode: string; errorStatus: string }>;
  warnings: Array<{ deviceId: string; warningCode: string; warningStatus: string }>;
}

export interface HubStatistics {
  totalDeviceCount: number;
  enabledDeviceCount: number;
  disabledDeviceCount: number;
}
