/**
 * An EK certificate, when the maker sends one, must carry the very key of the row, and — when TPM vendor CAs are
 * configured — chain to one of their roots. Node's X509Certificate does this synchronously, so rows stay a pure,
 * synchronous check. Validity dates are not enforced: EK certificates are issued for the TPM's lifetime and many
 * vendors' expire long before the device does.
 */
import { X509Certificate } from 'node:crypto';

import type { RsaEndorsementKey } from './tpm-public';

const MAX_CHAIN = 6;

export function readCertificate(text: string): X509Certificate | undefined {
  const value = text.trim();
  try {
    return new X509Certificate(value.startsWith('-----BEGIN') ? value : Buffer.from(value, 'base64'));
  } catch {
    return undefined;
  }
}

/** TPM vendor roots and intermediates, from PEM. */
export function readTrust(pems: readonly string[]): X509Certificate[] {
  return pems.map((pem, i) => {
    const cert = readCertificate(pem);
    if (!cert) throw new Error(`TPM vendor certificate ${i + 1} is not a certificate`);
    return cert;
  });
}

const selfSigned = (c: X509Certificate) => c.checkIssued(c) && c.verify(c.publicKey);

/** Why the certificate cannot stand for this EK, or undefined when it can. */
export function ekCertificateProblem(
  text: string,
  key: RsaEndorsementKey,
  trust: readonly X509Certificate[] = [],
): string | undefined {
  const cert = readCertificate(text);
  if (!cert) return 'ekCertificate is not an X.509 certificate (PEM or base64 DER)';
  const jwk = cert.publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'RSA' || !jwk.n || !jwk.e)
    return `ekCertificate holds an ${jwk.kty} key, not the RSA endorsement key`;
  const e = Buffer.from(jwk.e, 'base64url');
  if (!Buffer.from(jwk.n, 'base64url').equals(key.modulus) || e.readUIntBE(0, e.length) !== key.exponent)
    return 'ekCertificate carries another public key than endorsementKey';
  if (trust.length === 0) return undefined;
  let current = cert;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const issuer = trust.find((t) => current.checkIssued(t) && current.verify(t.publicKey));
    if (!issuer)
      return `ekCertificate does not chain to a configured TPM vendor CA (no issuer for "${current.issuer.replace(/\n/g, ', ')}")`;
    if (selfSigned(issuer)) return undefined;
    current = issuer;
  }
  return 'ekCertificate chain is longer than 6 certificates';
}
