/**
 * The TPM 2.0 endorsement key as DPS takes it: a marshalled TPM2B_PUBLIC (TPM 2.0 Part 2, §12.2.5), big-endian.
 * DPS accepts only RSA-2048 EKs made from the TCG EK template (TCG EK Credential Profile 2.0, §2.2.1.4): SHA-256 name
 * algorithm, a restricted decryption key, the EK authorization policy, AES-128-CFB symmetric parent parameters.
 * `parseEndorsementKey` checks exactly that and says why not otherwise; `endorsementKeyFromRsa` builds the TPM2B_PUBLIC
 * a TPM would report for an RSA-2048 public key (what makers who export SPKI PEM shipped), template L-1.
 */

const TPM_ALG_RSA = 0x0001;
const TPM_ALG_SHA256 = 0x000b;
const TPM_ALG_AES = 0x0006;
const TPM_ALG_CFB = 0x0043;
const TPM_ALG_NULL = 0x0010;

/** objectAttributes bits (Part 2, §8.3.2). */
const ATTR = {
  fixedTPM: 1 << 1,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
} as const;
const EK_REQUIRED = ATTR.fixedTPM | ATTR.fixedParent | ATTR.sensitiveDataOrigin | ATTR.restricted | ATTR.decrypt;
/** Template L-1 (low range, 0x01C00002): adminWithPolicy, no userWithAuth. */
const L1_ATTRIBUTES = 0x000300b2;

/**
 * The EK authorization policies of the TCG profile: PolicySecret(TPM_RH_ENDORSEMENT) of template L-1, and the
 * PolicyOR digest of the high-range SHA-256 templates (H-1…). Anything else is not an EK DPS can challenge.
 */
const EK_POLICIES = new Set([
  '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa',
  'ca3d0a99a2b93906f7a3342414efcfb3a385d44cd1fd459089d19b5071c0b7a0',
]);
const L1_POLICY = '837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa';

export const RSA_EK_BITS = 2048;
/** A TPM2B_PUBLIC of template L-1 with an RSA-2048 modulus: 2 + 314 bytes. */
export const L1_EK_LENGTH = 316;

export interface RsaEndorsementKey {
  /** The modulus, 256 bytes big-endian. */
  modulus: Buffer;
  /** The public exponent (TPM's 0 means the default 65537). */
  exponent: number;
}

export type EkParse = { ok: true; key: RsaEndorsementKey } | { ok: false; reason: string };

class Reader {
  offset = 0;
  constructor(private readonly bytes: Buffer) {}
  need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length)
      throw new EkError(
        `truncated: ${what} needs ${n} bytes at offset ${this.offset}, ${this.bytes.length - this.offset} left`,
      );
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  take(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
}

class EkError extends Error {}

const hex = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/** Checks a marshalled TPM2B_PUBLIC against the TCG RSA-2048 EK profile. */
export function parseEndorsementKey(bytes: Buffer): EkParse {
  try {
    const r = new Reader(bytes);
    const size = r.u16('TPM2B_PUBLIC.size');
    if (size + 2 > bytes.length)
      throw new EkError(`truncated: TPM2B_PUBLIC says ${size} bytes, ${bytes.length - 2} given`);
    if (size + 2 < bytes.length)
      throw new EkError(`trailing bytes: TPM2B_PUBLIC says ${size} bytes, ${bytes.length - 2} given`);
    const type = r.u16('type');
    if (type !== TPM_ALG_RSA) throw new EkError(`key type ${hex(type)} is not RSA (DPS takes RSA-2048 EKs only)`);
    const nameAlg = r.u16('nameAlg');
    if (nameAlg !== TPM_ALG_SHA256) throw new EkError(`name algorithm ${hex(nameAlg)} is not SHA-256`);
    const attributes = r.u32('objectAttributes');
    if ((attributes & EK_REQUIRED) !== EK_REQUIRED || (attributes & ATTR.sign) !== 0) {
      throw new EkError(
        `object attributes 0x${attributes.toString(16)} are not those of an EK (fixedTPM, fixedParent, sensitiveDataOrigin, restricted, decrypt; not sign)`,
      );
    }
    const policy = r.take(r.u16('authPolicy.size'), 'authPolicy').toString('hex');
    if (!EK_POLICIES.has(policy)) throw new EkError(`authPolicy ${policy || '(empty)'} is not the TCG EK policy`);
    const symmetric = r.u16('symmetric.algorithm');
    if (symmetric !== TPM_ALG_AES)
      throw new EkError(`symmetric algorithm ${hex(symmetric)} is not AES (not a storage key of the EK profile)`);
    const keyBits = r.u16('symmetric.keyBits');
    const mode = r.u16('symmetric.mode');
    if (keyBits !== 128 || mode !== TPM_ALG_CFB)
      throw new EkError(`symmetric AES-${keyBits} mode ${hex(mode)} is not AES-128-CFB`);
    const scheme = r.u16('scheme');
    if (scheme !== TPM_ALG_NULL) throw new EkError(`RSA scheme ${hex(scheme)} is not TPM_ALG_NULL`);
    const bits = r.u16('keyBits');
    if (bits !== RSA_EK_BITS) throw new EkError(`RSA-${bits}: DPS takes RSA-2048 EKs only`);
    const exponent = r.u32('exponent');
    const modulus = r.take(r.u16('unique.size'), 'unique');
    if (modulus.length !== RSA_EK_BITS / 8) throw new EkError(`modulus of ${modulus.length} bytes; RSA-2048 needs 256`);
    if ((modulus[0] & 0x80) === 0) throw new EkError('modulus is not 2048 bits (high bit clear)');
    if (r.offset !== bytes.length)
      throw new EkError(`trailing bytes: ${bytes.length - r.offset} after the public area`);
    return { ok: true, key: { modulus: Buffer.from(modulus), exponent: exponent === 0 ? 65537 : exponent } };
  } catch (err) {
    if (err instanceof EkError) return { ok: false, reason: err.message };
    throw err;
  }
}

/** The TPM2B_PUBLIC of template L-1 for an RSA-2048 public key: the bytes a TPM reports for that EK. */
export function endorsementKeyFromRsa(key: RsaEndorsementKey): Buffer {
  if (key.modulus.length !== RSA_EK_BITS / 8)
    throw new RangeError(`an RSA-2048 modulus has 256 bytes, not ${key.modulus.length}`);
  const out = Buffer.alloc(L1_EK_LENGTH);
  let o = 0;
  o = out.writeUInt16BE(L1_EK_LENGTH - 2, o);
  o = out.writeUInt16BE(TPM_ALG_RSA, o);
  o = out.writeUInt16BE(TPM_ALG_SHA256, o);
  o = out.writeUInt32BE(L1_ATTRIBUTES, o);
  o = out.writeUInt16BE(32, o);
  o += Buffer.from(L1_POLICY, 'hex').copy(out, o);
  o = out.writeUInt16BE(TPM_ALG_AES, o);
  o = out.writeUInt16BE(128, o);
  o = out.writeUInt16BE(TPM_ALG_CFB, o);
  o = out.writeUInt16BE(TPM_ALG_NULL, o);
  o = out.writeUInt16BE(RSA_EK_BITS, o);
  o = out.writeUInt32BE(key.exponent === 65537 ? 0 : key.exponent, o);
  o = out.writeUInt16BE(256, o);
  key.modulus.copy(out, o);
  return out;
}
