/**
 * The device's certificate as DPS hands it to the webhook (`deviceRuntimeContext.x509`), read in every shape it may
 * take, into the one form the rules, the deny list and the inventory use: DPS's certificate info (`subjectName`,
 * `issuerName`, both thumbprints, `notAfterUtc`, …). Microsoft documents the field only as "certificate details", so:
 * - the registration-state shape, `{ certificateInfo: {…}, enrollmentGroupId?, signingCertificateInfo? }`, whose
 *   signer (the group's CA that verified the chain) is read too: a revoked CA is refused there as well;
 * - the same details flat, `{ subjectName, sha1Thumbprint, … }`;
 * - a raw client certificate, `{ clientCertificate: <base64 DER or PEM> }`, parsed here once.
 * A certificate that cannot be parsed, or an object in none of these shapes, is `unreadable`: never "no certificate".
 */
import { X509Certificate } from 'node:crypto';

import type { X509CertificateInfo } from '../../dps-types';

export type X509Shape = 'certificateInfo' | 'details' | 'clientCertificate';

export type X509Context =
  | { kind: 'absent' }
  | { kind: 'read'; shape: X509Shape; info: Partial<X509CertificateInfo>; signer?: Partial<X509CertificateInfo> }
  | { kind: 'unreadable'; reason: string };

/** Node prints a DN one RDN a line; DPS's info gives one line, comma-separated. */
export const distinguishedName = (nodeDn: string) => nodeDn.split('\n').filter(Boolean).join(', ');

/** DPS's info of a certificate, from the certificate itself. */
export function infoOf(cert: X509Certificate): X509CertificateInfo {
  return {
    subjectName: distinguishedName(cert.subject),
    sha1Thumbprint: cert.fingerprint.replace(/:/g, ''),
    sha256Thumbprint: cert.fingerprint256.replace(/:/g, ''),
    issuerName: distinguishedName(cert.issuer),
    notBeforeUtc: new Date(cert.validFrom).toISOString(),
    notAfterUtc: new Date(cert.validTo).toISOString(),
    serialNumber: cert.serialNumber,
    version: 3,
  };
}

const DETAIL_FIELDS = ['subjectName', 'issuerName', 'sha1Thumbprint', 'sha256Thumbprint', 'notAfterUtc'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function details(value: Record<string, unknown>): Partial<X509CertificateInfo> | undefined {
  const info: Partial<X509CertificateInfo> = {};
  for (const field of [...DETAIL_FIELDS, 'notBeforeUtc', 'serialNumber'] as const) {
    const v = value[field];
    if (typeof v === 'string' && v !== '') info[field] = v;
  }
  return DETAIL_FIELDS.some((f) => info[f] !== undefined) ? info : undefined;
}

/** A certificate from PEM or base64 DER; undefined when it is not one. */
export function parseCertificateText(text: string): X509Certificate | undefined {
  try {
    const pem = text.includes('-----BEGIN')
      ? text
      : `-----BEGIN CERTIFICATE-----\n${text.replace(/\s+/g, '')}\n-----END CERTIFICATE-----`;
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

export function readX509Context(x509: unknown): X509Context {
  if (x509 === undefined || x509 === null) return { kind: 'absent' };
  if (!isObject(x509)) return { kind: 'unreadable', reason: 'deviceRuntimeContext.x509 is not an object' };
  if (typeof x509.clientCertificate === 'string') {
    const cert = parseCertificateText(x509.clientCertificate);
    return cert
      ? { kind: 'read', shape: 'clientCertificate', info: infoOf(cert) }
      : { kind: 'unreadable', reason: 'deviceRuntimeContext.x509.clientCertificate is not an X.509 certificate' };
  }
  if (isObject(x509.certificateInfo)) {
    const info = details(x509.certificateInfo);
    const signer = isObject(x509.signingCertificateInfo) ? details(x509.signingCertificateInfo) : undefined;
    if (info) return { kind: 'read', shape: 'certificateInfo', info, ...(signer ? { signer } : {}) };
  }
  const flat = details(x509);
  if (flat) return { kind: 'read', shape: 'details', info: flat };
  return {
    kind: 'unreadable',
    reason: `deviceRuntimeContext.x509 has none of the certificate shapes this webhook reads (fields: ${Object.keys(x509).slice(0, 10).join(', ') || 'none'})`,
  };
}
