/**
 * The few TPM 2.0 structures (Part 2) DPS's side of TPM attestation reads and writes: big-endian integers, sized
 * buffers (TPM2B), an RSA key's TPM2B_PUBLIC (the device's EK and SRK) read into what the crypto needs, and a
 * keyed-hash TPMT_PUBLIC written for the key DPS hands the device.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

export const TPM_ALG = {
  RSA: 0x0001,
  HMAC: 0x0005,
  AES: 0x0006,
  KEYEDHASH: 0x0008,
  SHA256: 0x000b,
  NULL: 0x0010,
  CFB: 0x0043,
} as const;

/** objectAttributes bits (Part 2, §8.3). */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  fixedParent: 1 << 4,
  userWithAuth: 1 << 6,
  noDA: 1 << 10,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
} as const;

/** Command codes that enter policy digests. */
export const TPM_CC = { Duplicate: 0x0000014b, PolicyCommandCode: 0x0000016c } as const;

export const SHA256_SIZE = 32;

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A TPM2B: the bytes behind their 16-bit size. */
export function tpm2b(bytes: Buffer): Buffer {
  if (bytes.length > 0xffff) throw new RangeError(`a TPM2B holds at most 65,535 bytes, not ${bytes.length}`);
  return Buffer.concat([u16(bytes.length), bytes]);
}

export function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  parts.forEach((p) => h.update(p));
  return h.digest();
}

/** An object's Name: its nameAlg, then the nameAlg digest of its marshalled TPMT_PUBLIC (Part 1, §16). */
export function objectName(publicArea: Buffer): Buffer {
  return Buffer.concat([u16(TPM_ALG.SHA256), sha256(publicArea)]);
}

/** What the crypto needs of a device's RSA storage or endorsement key. */
export interface RsaStorageKey {
  /** The marshalled TPMT_PUBLIC, without its size. */
  publicArea: Buffer;
  name: Buffer;
  /** AES key size of the key's symmetric parent parameters, in bits. */
  symmetricKeyBits: number;
  publicKey: KeyObject;
}

export class TpmStructureError extends Error {}

class Reader {
  private at = 0;
  constructor(
    private readonly bytes: Buffer,
    private readonly what: string,
  ) {}
  private take(n: number, field: string): Buffer {
    if (this.at + n > this.bytes.length)
      throw new TpmStructureError(`${this.what} is truncated: ${field} needs ${n} bytes at offset ${this.at}`);
    const v = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  u16(field: string): number {
    return this.take(2, field).readUInt16BE(0);
  }
  u32(field: string): number {
    return this.take(4, field).readUInt32BE(0);
  }
  sized(field: string): Buffer {
    return this.take(this.u16(`${field} size`), field);
  }
  get offset(): number {
    return this.at;
  }
}

/**
 * Reads a TPM2B_PUBLIC holding an RSA restricted decryption key with SHA-256 names and AES-CFB parent parameters:
 * the shape of every EK (TCG template L-1) and SRK DPS challenges. Anything else is refused, naming the field.
 */
export function readRsaStorageKey(tpm2bPublic: Buffer, what: string): RsaStorageKey {
  const outer = new Reader(tpm2bPublic, what);
  const publicArea = outer.sized('TPM2B_PUBLIC');
  if (outer.offset !== tpm2bPublic.length)
    throw new TpmStructureError(`${what} has ${tpm2bPublic.length - outer.offset} bytes after its TPM2B_PUBLIC`);
  const r = new Reader(publicArea, what);
  const type = r.u16('type');
  if (type !== TPM_ALG.RSA) throw new TpmStructureError(`${what} is not an RSA key (type 0x${type.toString(16)})`);
  const nameAlg = r.u16('nameAlg');
  if (nameAlg !== TPM_ALG.SHA256) throw new TpmStructureError(`${what} does not name itself with SHA-256`);
  const attributes = r.u32('objectAttributes');
  const storage = TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt;
  if ((attributes & storage) !== storage || attributes & TPMA_OBJECT.sign)
    throw new TpmStructureError(`${what} is not a restricted decryption key`);
  r.sized('authPolicy');
  const symmetric = r.u16('symmetric.algorithm');
  const symmetricKeyBits = symmetric === TPM_ALG.AES ? r.u16('symmetric.keyBits') : 0;
  const mode = symmetric === TPM_ALG.AES ? r.u16('symmetric.mode') : 0;
  if (symmetric !== TPM_ALG.AES || mode !== TPM_ALG.CFB || ![128, 256].includes(symmetricKeyBits))
    throw new TpmStructureError(`${what} does not protect its children with AES-128/256-CFB`);
  const scheme = r.u16('scheme');
  if (scheme !== TPM_ALG.NULL) throw new TpmStructureError(`${what} has an RSA scheme; a storage key has none`);
  const keyBits = r.u16('keyBits');
  const exponent = r.u32('exponent') || 65537;
  const modulus = r.sized('unique');
  if (modulus.length * 8 !== keyBits || keyBits < 2048)
    throw new TpmStructureError(`${what}: a ${modulus.length * 8}-bit modulus where ${keyBits} bits are declared`);
  const e = Buffer.alloc(4);
  e.writeUInt32BE(exponent);
  const publicKey = createPublicKey({
    key: {
      kty: 'RSA',
      n: modulus.toString('base64url'),
      e: e.subarray(e.findIndex((x) => x !== 0)).toString('base64url'),
    },
    format: 'jwk',
  });
  return { publicArea, name: objectName(publicArea), symmetricKeyBits, publicKey };
}

/** The policy digest of PolicyCommandCode(Duplicate) from a fresh SHA-256 session (Part 3, §23.11). */
export function duplicatePolicy(): Buffer {
  return sha256(Buffer.alloc(SHA256_SIZE), u32(TPM_CC.PolicyCommandCode), u32(TPM_CC.Duplicate));
}

/**
 * The TPMT_PUBLIC of an HMAC-SHA256 keyed-hash key that may be duplicated (neither fixedTPM nor fixedParent), used
 * with an empty password (userWithAuth), never locked out (noDA), its policy allowing only Duplicate; `unique` binds
 * it to its sensitive part: SHA-256(seedValue ‖ key) (Part 1, §27.2.3).
 */
export function hmacKeyPublic(unique: Buffer): Buffer {
  return Buffer.concat([
    u16(TPM_ALG.KEYEDHASH),
    u16(TPM_ALG.SHA256),
    u32(TPMA_OBJECT.sign | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.noDA),
    tpm2b(duplicatePolicy()),
    u16(TPM_ALG.HMAC),
    u16(TPM_ALG.SHA256),
    tpm2b(unique),
  ]);
}

/** TPMT_SENSITIVE of a keyed-hash key: its type, an empty authValue, the obfuscation seed and the key itself. */
export function hmacKeySensitive(seedValue: Buffer, key: Buffer): Buffer {
  return Buffer.concat([u16(TPM_ALG.KEYEDHASH), tpm2b(Buffer.alloc(0)), tpm2b(seedValue), tpm2b(key)]);
}
