/**
 * A detached signature over a maker's file: SHA-256 with the key of an X.509 certificate the manufacturer registered
 * (RSA PKCS#1 v1.5 or ECDSA). Checked as the file streams by, so nothing is held; a tampered or wrongly signed file
 * is refused before any row is enrolled. Several certificates may be configured (a key being rotated): one must verify.
 */
import { createVerify, type Verify, X509Certificate } from 'node:crypto';

export interface FileVerifier {
  update(chunk: Uint8Array): void;
  /** Whether the signature holds over everything given to `update`. Call once, at the end. */
  verify(): boolean;
}

export function fileVerifier(certificatePems: readonly string[], signatureBase64: string): FileVerifier {
  const signature = Buffer.from(signatureBase64.trim(), 'base64');
  const verifiers: Array<{ verify: Verify; cert: X509Certificate }> = certificatePems.map((pem) => ({
    verify: createVerify('sha256'),
    cert: new X509Certificate(pem),
  }));
  return {
    update: (chunk) => verifiers.forEach((v) => v.verify.update(chunk)),
    verify: () =>
      signature.length > 0 &&
      verifiers.some((v) => {
        try {
          return v.verify.verify(v.cert.publicKey, signature);
        } catch {
          return false;
        }
      }),
  };
}
