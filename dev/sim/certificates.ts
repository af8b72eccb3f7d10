/** Certificate parsing as DPS does on write: the certificate goes in, its `info` comes back. */
import { X509Certificate } from 'node:crypto';

import { infoOf, parseCertificateText } from '../../shared/allocation/rules/x509-context';
import type { X509CertificateInfo, X509Certificates, X509CertificateWithInfo } from '../../shared/dps-types';
import { HttpError } from './wire';

export function parseCertificate(text: string): X509Certificate {
  const cert = parseCertificateText(text);
  if (!cert) throw new HttpError(400, 400004, 'The certificate is not a valid X.509 certificate (PEM or base64 DER).');
  return cert;
}

/** DPS's info of a certificate: the same reading the webhook makes of a raw client certificate. */
export const certificateInfo = (cert: X509Certificate): X509CertificateInfo => infoOf(cert);

/**
 * Replaces each certificate by its info; keeps the parsed certificates aside for attestation. A slot sent back with
 * only the `info` DPS returned (as a read-modify-write does) keeps the certificate already held with that thumbprint,
 * in whichever slot it now sits; an `info` of a certificate DPS never held is refused.
 */
export function withInfo(
  slots: X509Certificates | undefined,
  keep: Map<string, X509Certificate>,
  held: ReadonlyMap<string, X509Certificate> = new Map(),
): X509Certificates | undefined {
  if (!slots) return undefined;
  const out: X509Certificates = {};
  for (const slot of ['primary', 'secondary'] as const) {
    const given: X509CertificateWithInfo | undefined = slots[slot];
    if (!given) continue;
    if (given.certificate) {
      const cert = parseCertificate(given.certificate);
      keep.set(slot, cert);
      out[slot] = { info: certificateInfo(cert) };
    } else if (given.info) {
      const thumbprint = given.info.sha256Thumbprint?.replace(/:/g, '').toUpperCase();
      const cert = [...held.values()].find((c) => c.fingerprint256.replace(/:/g, '') === thumbprint);
      if (!cert)
        throw new HttpError(
          400,
          400004,
          `The ${slot} certificate is given by its info only, and this enrollment holds no certificate with that thumbprint.`,
        );
      keep.set(slot, cert);
      out[slot] = { info: certificateInfo(cert) };
    }
  }
  return out;
}
