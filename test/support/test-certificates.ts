/** Certificates and enrollments the certificate tests build alike. */
import { webcrypto } from 'node:crypto';

import * as x509 from '@peculiar/x509';

import type { Issued } from '../../dev/pki';
import type { IndividualEnrollment } from '../../shared/dps-types';

/** An X.509 individual enrollment with its primary (and secondary) certificate. */
export const x509Enrollment = (id: string, primary: Issued, secondary?: Issued): IndividualEnrollment => ({
  registrationId: id,
  attestation: {
    type: 'x509',
    x509: {
      clientCertificates: {
        primary: { certificate: primary.certPem },
        ...(secondary ? { secondary: { certificate: secondary.certPem } } : {}),
      },
    },
  },
});

/**
 * A self-signed certificate on an RSA-1024 key, which no tool here issues any more: what the audits must call weak.
 * `ca`: a CA certificate (basic constraints), as a legacy root would be.
 */
export async function rsa1024SelfSigned(options: { subject: string; serial: string; notAfter: Date; ca?: boolean }) {
  x509.cryptoProvider.set(webcrypto as never);
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 1024,
  };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: options.serial,
    name: options.subject,
    notBefore: new Date(),
    notAfter: options.notAfter,
    keys,
    signingAlgorithm: alg,
    ...(options.ca ? { extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] } : {}),
  });
}
