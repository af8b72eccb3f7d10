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

/** A device of the namespace's registry, as far as containment needs it. */
export interface RegistryDevice {
  namespaceName: string;
  name: string;
  enablementState: RegistryEnablement;
  /** The device's own ID where ADR keeps it (`externalDeviceId`). */
  externalDeviceId?: string;
}

/**
 * The registry device DPS makes for a device it provisions through a policy of the namespace. Microsoft publishes no
 * naming rule: the device ID is taken, with the characters an ARM name refuses (`^[0-9a-zA-Z][a-zA-Z0-9-]*$`, 3–63)
 * made `-` — **assumed**, and the local ADR names them the same way (dev/sim/adr.ts `registryDeviceName`; a unit
 * test keeps the two alike).
 */
export function registryDeviceName(deviceId: string): string {
  return deviceId
    .replace(/[^a-zA-Z0-9-]/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .padEnd(3, '0');
}

export interface DeviceRegistryPort {
  certificateAuthorities(namespaceName: string): Promise<RegistryCertificateAuthority[]>;
  certificateAuthority(namespaceName: string, name: string): Promise<RegistryCertificateAuthority | undefined>;
  certificatePolicies(namespaceName: string, certificateAuthorityName: string): Promise<RegistryCertificatePolicy[]>;
  certificatePolicy(ref: CertificatePolicyRef): Promise<RegistryCertificatePolicy | undefined>;
  /** A registry device of the namespace, or undefined when there is none. */
  registryDevice(namespaceName: string, deviceName: string): Promise<RegistryDevice | undefined>;
  /** Enables or disables a registry device (a disabled one is not provisioned again). */
  setDeviceEnablement(namespaceName: string, deviceName: string, state: RegistryEnablement): Promise<void>;
  /**
   * Revokes an intermediate and replaces its key and certificate; resolves once ADR says it succeeded. Never sent
   * twice by the adapter: a lost answer is the caller's to settle, by reading the CA again.
   */
  revokeAndRotate(namespaceName: string, certificateAuthorityName: string): Promise<void>;
}
