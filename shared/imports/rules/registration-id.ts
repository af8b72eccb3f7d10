/** DPS registration IDs: the rules DPS enforces, and the ID a TPM device derives from its EK. */
import { createHash } from 'node:crypto';

import { base32 } from 'rfc4648';

export const MAX_REGISTRATION_ID_LENGTH = 128;
const ALLOWED = /^[A-Za-z0-9](?:[A-Za-z0-9:._-]*[A-Za-z0-9])?$/;

/** Why DPS would refuse this registration ID, or undefined when it is fine. */
export function registrationIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'registrationId is empty';
  if (id.length > MAX_REGISTRATION_ID_LENGTH)
    return `registrationId has ${id.length} characters; DPS allows ${MAX_REGISTRATION_ID_LENGTH}`;
  if (!ALLOWED.test(id)) return 'registrationId may hold only letters, digits and : . _ - (not first or last)';
  return undefined;
}

/** SHA-256 of the TPM2B_PUBLIC bytes: the EK's identity, and the input of the derived registration ID. */
export function endorsementKeyHash(tpm2bPublic: Buffer): Buffer {
  return createHash('sha256').update(tpm2bPublic).digest();
}

/**
 * The registration ID the Azure IoT device SDKs use for a TPM when none is given (Node `azure-iot-security-tpm`
 * `getRegistrationId`, C `prov_auth_client.c`): RFC 4648 base32 of SHA-256 over the TPM2B_PUBLIC, lower case,
 * padding removed — 52 characters.
 */
export function registrationIdFromHash(ekHash: Buffer): string {
  return base32.stringify(ekHash, { pad: false }).toLowerCase();
}
