/**
 * Certificate parsing as DPS does on write: the certificate goes in, its `info` comes back. The simulator reads
 * certificates its own way, never through the webhook's code: the info it sends the webhook is what the webhook is
 * tested against, so a shared builder could not catch a wrong shape.
 */
import { X509Certificate } from 'node:crypto';

import type { X509CertificateInfo, X509Certificates, X509CertificateWithInfo } from '../../shared/dps-types';
import { HttpError } from './wire';

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

/** A certificate as DPS takes it in an enrollment: PEM, or the base64 of its DER. */
export function parseCertificate(text: string): X509Certificate {
  try {
    if (text.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(text);
    if (BASE64.test(text)) return new X509Certificate(Buffer.from(text.replace(/\s+/g, ''), 'base64'));
  } catch {
    // not a certificate: refused below
  }
  throw new HttpError(400, 400004, 'The certificate is not a valid X.509 certificate (PEM or base64 DER).');
}

/** Hex as DPS prints a thumbprint: upper case, no separators. */
const hex = (colonSeparated: string) => colonSeparated.split(':').join('').toUpperCase();

/** A distinguished name on one line, its RDNs comma-separated in the certificate's order (Node gives one a line). */
const oneLine = (multiLine: string) =>
  multiLine
    .split('\n')
    .map((rdn) => rdn.trim())
    .filter((rdn) => rdn.length > 0)
    .join(', ');

/** DPS's info of a certificate (the registration state's `certificateInfo`, an enrollment's `info`). */
export function certificateInfo(cert: X509Certificate): X509CertificateInfo {
  return {
    subjectName: oneLine(cert.subject),
    sha1Thumbprint: hex(cert.fingerprint),
    sha256Thumbprint: hex(cert.fingerprint256),
    issuerName: oneLine(cert.issuer),
    notBeforeUtc: cert.validFromDate.toISOString(),
    notAfterUtc: cert.validToDate.toISOString(),
    serialNumber: cert.serialNumber,
    version: 3,
  };
}

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
