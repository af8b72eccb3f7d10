/**
 * Azure Device Registry as the certificates capability needs it: the CAs and certificate policies a namespace holds
 * (what DPS issues from, and for how long), a registry device switched on or off, and an intermediate revoked and
 * rotated — IoT Hub reads no CRL, so rotating the issuing CA is how issued certificates are revoked. The adapter
 * (shared/azure/device-registry.ts) speaks ARM; this port says nothing of it.
 */
import type { CertificatePolicyRef } from '../certificate-policy';

export type RegistryEnablement = 'Enabled' | 'Disabled';

export interface RegistryCertificateAuthority {
  namespaceName: string;
  name: string;
  /** `Root`, or `ICA` (an intermediate that issues, one policy each). */
  type: 'Root' | 'ICA' | string;
  subject?: string;
  notBefore?: string;
  notAfter?: string;
  /** `Succeeded` once usable; `Updating` while a revokeAndRotate runs. */
  provisioningState?: string;
}

export interface RegistryCertificatePolicy extends CertificatePolicyRef {
  /** How long the certificates it issues are valid (ADR: 7–90 days). */
  validityPeriodInDays: number;
  provisioningState?: string;
}

export interface DeviceRegistryPort {
  certificateAuthorities(namespaceName: string): Promise<RegistryCertificateAuthority[]>;
  certificateAuthority(namespaceName: string, name: string): Promise<RegistryCertificateAuthority | undefined>;
  certificatePolicies(namespaceName: string, certificateAuthorityName: string): Promise<RegistryCertificatePolicy[]>;
  certificatePolicy(ref: CertificatePolicyRef): Promise<RegistryCertificatePolicy | undefined>;
  /** Enables or disables a registry device (a disabled one is not provisioned again). */
  setDeviceEnablement(namespaceName: string, deviceName: string, state: RegistryEnablement): Promise<void>;
  /** Revokes an intermediate and replaces its key and certificate; resolves once ADR says it succeeded. */
  revokeAndRotate(namespaceName: string, certificateAuthorityName: string): Promise<void>;
}
