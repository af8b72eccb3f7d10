/**
 * The types device attestation shares across its SAS, X.509 and TPM parts (attestation.ts, tpm-attestation.ts), kept
 * apart so that neither imports the other for its types.
 */
import type { X509Certificate } from 'node:crypto';

import type { EnrollmentGroup, HubDevice, IndividualEnrollment } from '../../shared/dps-types';
import type { SimState } from './state';

/** A TPM's public keys as the device sent them (TPM2B_PUBLIC). */
export interface DeviceTpmKeys {
  endorsementKey: Buffer;
  storageRootKey: Buffer;
}

/** What attestation reads of the simulator. */
export interface AttestationContext {
  state: SimState;
  idScope: string;
  /** Verified signer certificates of each X.509 group, under `g:{groupId}`. */
  certificates: Map<string, Map<string, X509Certificate>>;
}

export type Source =
  { individual: IndividualEnrollment; group?: undefined } | { group: EnrollmentGroup; individual?: undefined };

export interface Attested {
  source: Source;
  auth: HubDevice['authentication'];
  runtime: Record<string, unknown>;
  /** A TPM device's public keys: the hub key DPS makes for it goes back wrapped to them. */
  tpm?: DeviceTpmKeys;
  /** A disabled enrollment entry holding a certificate of the device's chain: the registration fails (disabled). */
  disallowedBy?: string;
}
