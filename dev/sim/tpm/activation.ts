/**
 * DPS's side of TPM attestation, in software with node:crypto (TPM 2.0 Part 1, §24 "Credential Protection" and §23.3
 * "Duplication"): the activation blob that lets only the TPM holding a given EK load an HMAC key DPS chose.
 *
 * - A fresh HMAC-SHA256 key is duplicated to the device's SRK: an inner AES-CFB wrapper under a random key, then the
 *   outer wrapper of a seed only the SRK can decrypt (RSA-OAEP, label "DUPLICATE").
 * - The inner wrapper's key is the credential of a MakeCredential to the EK, bound to the SRK's Name: only the TPM
 *   holding that EK recovers it (ActivateCredential), and only for that SRK.
 *
 * The device runs ActivateCredential, then Import and Load under its SRK, and signs with the key in the TPM. The blob
 * is laid out as the official client (`azure-iot-security-tpm`) reads it and as Microsoft's DRS sample writes it:
 * TPM2B_ID_OBJECT ‖ TPM2B_ENCRYPTED_SECRET (EK) ‖ TPM2B_PRIVATE ‖ TPM2B_ENCRYPTED_SECRET (SRK) ‖ sized TPMT_PUBLIC ‖
 * TPM2B_DATA (a URI encrypted under the inner key, which the client reads and keeps).
 */
import { constants, createCipheriv, createHmac, publicEncrypt, randomBytes } from 'node:crypto';

import {
  hmacKeyPublic,
  hmacKeySensitive,
  objectName,
  readRsaStorageKey,
  type RsaStorageKey,
  sha256,
  SHA256_SIZE,
  tpm2b,
  u32,
} from './structures';

/** KDFa (Part 1, §11.4.10.2) with HMAC-SHA256: the counter-mode KDF of SP 800-108, label NUL-terminated. */
export function kdfa(key: Buffer, label: string, contextU: Buffer, contextV: Buffer, bits: number): Buffer {
  const bytes = Math.ceil(bits / 8);
  const blocks: Buffer[] = [];
  for (let counter = 1; blocks.length * SHA256_SIZE < bytes; counter++)
    blocks.push(
      createHmac('sha256', key)
        .update(u32(counter))
        .update(Buffer.from(`${label}\0`, 'latin1'))
        .update(contextU)
        .update(contextV)
        .update(u32(bits))
        .digest(),
    );
  return Buffer.concat(blocks).subarray(0, bytes);
}

/** AES-CFB with a zero IV, as the TPM uses for credentials and duplication blobs (no IV travels with them). */
export function aesCfb(key: Buffer, plain: Buffer): Buffer {
  const cipher = createCipheriv(`aes-${key.length * 8}-cfb`, key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(plain), cipher.final()]);
}

/** A seed only `protector`'s private key decrypts: RSA-OAEP with SHA-256 and the NUL-terminated label (Part 1, §B.10.3). */
function encryptSeed(protector: RsaStorageKey, label: 'IDENTITY' | 'DUPLICATE', seed: Buffer): Buffer {
  return publicEncrypt(
    {
      key: protector.publicKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
      oaepLabel: Buffer.from(`${label}\0`, 'latin1'),
    },
    seed,
  );
}

/**
 * The outer wrapper (Part 1, §23.3.2.4 and §24.4): `data` encrypted under KDFa(seed, "STORAGE", name) with the
 * protector's symmetric size, preceded by the sized HMAC of (ciphertext ‖ name) under KDFa(seed, "INTEGRITY").
 */
function outerWrap(protector: RsaStorageKey, seed: Buffer, name: Buffer, data: Buffer): Buffer {
  const symKey = kdfa(seed, 'STORAGE', name, Buffer.alloc(0), protector.symmetricKeyBits);
  const encrypted = aesCfb(symKey, data);
  const hmacKey = kdfa(seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), SHA256_SIZE * 8);
  const integrity = createHmac('sha256', hmacKey).update(encrypted).update(name).digest();
  return Buffer.concat([tpm2b(integrity), encrypted]);
}

/** TPM2_MakeCredential in software: `credential` for the TPM holding `ek`, released only for the object `name`. */
export function makeCredential(
  ek: RsaStorageKey,
  credential: Buffer,
  name: Buffer,
): { credentialBlob: Buffer; secret: Buffer } {
  const seed = randomBytes(SHA256_SIZE);
  return {
    credentialBlob: tpm2b(outerWrap(ek, seed, name, tpm2b(credential))),
    secret: encryptSeed(ek, 'IDENTITY', seed),
  };
}

/**
 * TPM2_Duplicate in software of an HMAC key made here: its public area, the TPM2B_PRIVATE for Import under `parent`
 * with the inner wrapper under `innerKey`, and the encrypted seed of the outer wrapper.
 */
export function duplicateHmacKey(
  parent: RsaStorageKey,
  key: Buffer,
  innerKey: Buffer,
): { publicArea: Buffer; duplicate: Buffer; outSymSeed: Buffer } {
  const seedValue = randomBytes(SHA256_SIZE);
  const publicArea = hmacKeyPublic(sha256(seedValue, key));
  const name = objectName(publicArea);
  const sensitive = tpm2b(hmacKeySensitive(seedValue, key));
  const innerIntegrity = sha256(sensitive, name);
  const encSensitive = aesCfb(innerKey, Buffer.concat([tpm2b(innerIntegrity), sensitive]));
  const seed = randomBytes(SHA256_SIZE);
  return {
    publicArea,
    duplicate: tpm2b(outerWrap(parent, seed, name, encSensitive)),
    outSymSeed: encryptSeed(parent, 'DUPLICATE', seed),
  };
}

/** Size of a generated HMAC key, in bytes: SHA-256's block-strength size, as IoT Hub's own device keys. */
export const HMAC_KEY_BYTES = 32;

/**
 * The activation blob DPS answers a TPM device with: `hmacKey` readable only inside the TPM that holds the EK of
 * `endorsementKey` (both TPM2B_PUBLIC), imported under its SRK `storageRootKey`. Throws `TpmStructureError` for keys
 * DPS could not challenge.
 */
export function activationBlob(endorsementKey: Buffer, storageRootKey: Buffer, hmacKey: Buffer, uri: string): Buffer {
  const ek = readRsaStorageKey(endorsementKey, 'the endorsement key');
  const srk = readRsaStorageKey(storageRootKey, 'the storage root key');
  const innerKey = randomBytes(srk.symmetricKeyBits / 8);
  const { publicArea, duplicate, outSymSeed } = duplicateHmacKey(srk, hmacKey, innerKey);
  const { credentialBlob, secret } = makeCredential(ek, innerKey, srk.name);
  return Buffer.concat([
    credentialBlob,
    tpm2b(secret),
    duplicate,
    tpm2b(outSymSeed),
    tpm2b(publicArea),
    tpm2b(aesCfb(innerKey, Buffer.from(uri, 'utf8'))),
  ]);
}
