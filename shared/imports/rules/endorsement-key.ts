/**
 * Reads the `endorsementKey` a maker supplied: base64 of a TPM2B_PUBLIC (what DPS takes), or an RSA-2048
 * SubjectPublicKeyInfo (PEM, or base64 DER), which is converted to the TPM2B_PUBLIC of template L-1: DPS and the
 * registration ID both work on those bytes (docs/architecture.md, Import).
 */
import { createPublicKey } from 'node:crypto';

import { endorsementKeyFromRsa, parseEndorsementKey, RSA_EK_BITS, type RsaEndorsementKey } from './tpm-public';

export interface EndorsementKey {
  /** The marshalled TPM2B_PUBLIC. */
  bytes: Buffer;
  key: RsaEndorsementKey;
  /** Set when the maker gave an SPKI that was converted. */
  convertedFrom?: 'spki';
}

export type EndorsementKeyRead = { ok: true; ek: EndorsementKey } | { ok: false; reason: string };

const PEM = /^-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----\s*$/;

/** An RSA public key from DER SPKI, or why not. */
export function rsaFromSpki(der: Buffer): { ok: true; key: RsaEndorsementKey } | { ok: false; reason: string } {
  let jwk: { kty?: string; n?: string; e?: string };
  try {
    jwk = createPublicKey({ key: der, format: 'der', type: 'spki' }).export({ format: 'jwk' }) as typeof jwk;
  } catch {
    return { ok: false, reason: 'not a TPM2B_PUBLIC and not a SubjectPublicKeyInfo' };
  }
  if (jwk.kty !== 'RSA' || !jwk.n || !jwk.e)
    return {
      ok: false,
      reason: `SubjectPublicKeyInfo holds an ${jwk.kty ?? 'unknown'} key; DPS takes RSA-2048 EKs only`,
    };
  const modulus = Buffer.from(jwk.n, 'base64url');
  if (modulus.length * 8 !== RSA_EK_BITS)
    return { ok: false, reason: `SubjectPublicKeyInfo holds RSA-${modulus.length * 8}; DPS takes RSA-2048 EKs only` };
  const exponent = Buffer.from(jwk.e, 'base64url');
  return { ok: true, key: { modulus, exponent: exponent.readUIntBE(0, exponent.length) } };
}

export function readEndorsementKey(text: string): EndorsementKeyRead {
  const value = text.trim();
  if (value === '') return { ok: false, reason: 'endorsementKey is empty' };
  const pem = PEM.exec(value);
  const b64 = pem ? pem[1].replace(/\s+/g, '') : value;
  // Node's decoder skips what is not base64; strict means the bytes encode back to exactly the text.
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length === 0 || bytes.toString('base64') !== b64)
    return { ok: false, reason: 'endorsementKey is not base64' };
  // A DER SEQUENCE (0x30) cannot start an EK's TPM2B_PUBLIC, whose size field is 0x01xx.
  if (pem || bytes[0] === 0x30) {
    const spki = rsaFromSpki(bytes);
    if (!spki.ok) return spki;
    if (spki.key.exponent !== 65537)
      return { ok: false, reason: `RSA exponent ${spki.key.exponent}: the EK template uses 65537` };
    return { ok: true, ek: { bytes: endorsementKeyFromRsa(spki.key), key: spki.key, convertedFrom: 'spki' } };
  }
  const parsed = parseEndorsementKey(bytes);
  return parsed.ok ? { ok: true, ek: { bytes, key: parsed.key } } : parsed;
}
