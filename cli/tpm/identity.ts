/**
 * What a TPM's device will present to DPS, read the way the device reads it: the official client
 * (`azure-iot-security-tpm`) reads the EK persisted at 0x81010001 — creating it from its own template when the TPM has
 * none, as the device's first boot would — and derives the registration ID from it. An EK created another way (for
 * instance `tpm2_createek`'s default template, whose `unique` field differs) has another modulus and so another
 * registration ID: a station that reads that one enrolls a key the device never presents.
 */
import { TpmSecurityClient } from 'azure-iot-security-tpm';
import { NullPwSession, TPM_HANDLE } from 'tss.js';

import type { TpmConnection } from './connection';

/** Where the TCG EK Credential Profile puts the certificate of the RSA-2048 EK (template L-1). */
export const EK_CERTIFICATE_NV_INDEX = 0x01c00002;
/** Bytes per NV_Read: under every TPM's MAX_NV_BUFFER_SIZE (1,024 on most; 512 is the least seen). */
const NV_READ_CHUNK = 512;

export interface TpmIdentity {
  /** TPM2B_PUBLIC of the EK, as the device sends it. */
  endorsementKey: Buffer;
  registrationId: string;
  /** DER of the EK certificate the TPM's vendor provisioned, when there is one. */
  ekCertificate?: Buffer;
}

/** The callback the TSS and the official TPM client answer through. */
export type Callback<T> = (err: Error | null | undefined, result?: T) => void;

/** One TSS or TPM-client call, as a promise. */
export function call<T>(run: (done: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, result) => (err ? reject(err) : resolve(result as T))));
}

/** A DER value's own length (tag, length octets, content): NV indices may be larger than the certificate. */
function derLength(bytes: Buffer): number {
  if (bytes.length < 2 || bytes[0] !== 0x30) return bytes.length;
  const first = bytes[1];
  if (first < 0x80) return 2 + first;
  const octets = first & 0x7f;
  if (octets > 4 || bytes.length < 2 + octets) return bytes.length;
  return Math.min(bytes.length, 2 + octets + bytes.subarray(2, 2 + octets).readUIntBE(0, octets));
}

async function readEkCertificate(connection: TpmConnection): Promise<Buffer | undefined> {
  const { tpm } = connection;
  const index = new TPM_HANDLE(EK_CERTIFICATE_NV_INDEX);
  const size = await new Promise<number | undefined>((resolve) =>
    tpm.allowErrors().NV_ReadPublic(index, (err, res) => resolve(err ? undefined : res?.nvPublic.dataSize)),
  );
  if (!size) return undefined;
  const parts: Buffer[] = [];
  for (let offset = 0; offset < size; offset += NV_READ_CHUNK) {
    const length = Math.min(NV_READ_CHUNK, size - offset);
    // The EK certificate index is readable with its own (empty) authorization (TPMA_NV_AUTHREAD).
    parts.push(
      await call<Buffer>((done) => tpm.withSession(NullPwSession).NV_Read(index, index, length, offset, done)),
    );
  }
  const der = Buffer.concat(parts);
  return der.subarray(0, derLength(der));
}

export async function readTpmIdentity(connection: TpmConnection): Promise<TpmIdentity> {
  const client = new TpmSecurityClient(undefined, connection.tpm);
  const endorsementKey = await call<Buffer>((done) => client.getEndorsementKey(done));
  const registrationId = await call<string>((done) => client.getRegistrationId(done));
  const ekCertificate = await readEkCertificate(connection);
  return { endorsementKey, registrationId, ...(ekCertificate ? { ekCertificate } : {}) };
}
