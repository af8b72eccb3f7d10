/**
 * One certificate of the inventory: parsed once at ingest, with where it is used. DPS returns a certificate's
 * `info` (thumbprints, names, dates, serial) but never the certificate, so key type, size and signature algorithm
 * are known only for certificates we saw whole (CA certificates from configuration, staged certificates).
 * Partitioned by the month of notAfter: "everything expiring before D" reads only the months up to D.
 */
import { denyKey } from '../../allocation';
import type { X509CertificateInfo } from '../../dps-types';

export type UsageKind = 'enrollment' | 'enrollmentGroup' | 'dpsCa' | 'device';

export interface CertificateUsage {
  kind: UsageKind;
  /** Registration ID, enrollment group ID, CA name or device ID. */
  id: string;
  slot?: 'primary' | 'secondary';
  hub?: string;
}

export interface CertificateRecord {
  /** The SHA-256 thumbprint, upper-case hex: the certificate's identity. */
  id: string;
  expiryMonth: string;
  sha1Thumbprint?: string;
  subject: string;
  issuer: string;
  /** The issuer DN as the deny list compares it: revoked CAs find their certificates by it. */
  issuerKey: string;
  serialNumber?: string;
  notBefore: string;
  notAfter: string;
  keyType?: string;
  keySize?: number;
  signatureAlgorithm?: string;
  /** Why the certificate is weak (RSA < 2048, SHA-1 signature), when known. */
  weaknesses: string[];
  usages: CertificateUsage[];
  /** The certificate itself (PEM), when we saw it: what a roll needs to move it between slots. */
  pem?: string;
  /** Expiry horizons (days) already raised as findings, tightest last; `0` = expired. */
  raised: number[];
  /** false until the expiry has been raised (or while it serves nowhere): the sweep's query reads only open certificates. */
  settled: boolean;
}

export const monthOf = (iso: string) => iso.slice(0, 7);
/** One certificate serves an enrollment in one slot: a newer sighting of the same enrollment replaces the slot. */
export const usageKey = (u: CertificateUsage) => `${u.kind}:${u.id.toLowerCase()}:${u.hub ?? ''}`;
const normalizeThumbprint = (t: string) => t.replace(/[^0-9a-fA-F]/g, '').toUpperCase();

export function recordFromInfo(info: X509CertificateInfo, usage: CertificateUsage): CertificateRecord {
  const notAfter = new Date(info.notAfterUtc).toISOString();
  return {
    id: normalizeThumbprint(info.sha256Thumbprint),
    expiryMonth: monthOf(notAfter),
    sha1Thumbprint: normalizeThumbprint(info.sha1Thumbprint),
    subject: info.subjectName,
    issuer: info.issuerName,
    issuerKey: denyKey('issuer', info.issuerName),
    serialNumber: info.serialNumber,
    notBefore: new Date(info.notBeforeUtc).toISOString(),
    notAfter,
    weaknesses: [],
    usages: [usage],
    raised: [],
    settled: false,
  };
}

export async function recordFromPem(pem: string, usage: CertificateUsage): Promise<CertificateRecord> {
  // Loaded here, not with the module: the webhook records device certificates through this module and must not pay
  // @peculiar/x509's load time (~60 ms) at cold start for certificates it never parses.
  await import('reflect-metadata');
  const { X509Certificate } = await import('@peculiar/x509');
  const cert = new X509Certificate(pem);
  const [sha256, sha1] = await Promise.all([cert.getThumbprint('SHA-256'), cert.getThumbprint('SHA-1')]);
  const algorithm = cert.publicKey.algorithm as { name: string; modulusLength?: number; namedCurve?: string };
  const signature = cert.signatureAlgorithm as { name: string; hash?: { name: string } };
  const keySize =
    algorithm.modulusLength ?? (algorithm.namedCurve ? Number(/\d+/.exec(algorithm.namedCurve)?.[0]) : undefined);
  const weaknesses: string[] = [];
  if (algorithm.name.startsWith('RSA') && keySize !== undefined && keySize < 2048)
    weaknesses.push(`RSA-${keySize} key (below 2048 bits)`);
  if (signature.hash?.name === 'SHA-1') weaknesses.push('SHA-1 signature');
  const notAfter = cert.notAfter.toISOString();
  return {
    id: Buffer.from(sha256).toString('hex').toUpperCase(),
    expiryMonth: monthOf(notAfter),
    sha1Thumbprint: Buffer.from(sha1).toString('hex').toUpperCase(),
    subject: cert.subject,
    issuer: cert.issuer,
    issuerKey: denyKey('issuer', cert.issuer),
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter,
    keyType: algorithm.name.startsWith('RSA') ? 'RSA' : algorithm.name,
    keySize,
    signatureAlgorithm: `${signature.name}${signature.hash ? ` ${signature.hash.name}` : ''}`,
    weaknesses,
    usages: [usage],
    pem,
    raised: [],
    settled: false,
  };
}

/** The stored record updated by a new sighting: usages merged, what was learnt kept, raised horizons kept. */
export function mergeRecord(stored: CertificateRecord | undefined, seen: CertificateRecord): CertificateRecord {
  if (!stored) return seen;
  const usages = new Map(stored.usages.map((u) => [usageKey(u), u]));
  for (const u of seen.usages) usages.set(usageKey(u), u);
  return {
    ...stored,
    ...seen,
    keyType: seen.keyType ?? stored.keyType,
    keySize: seen.keySize ?? stored.keySize,
    signatureAlgorithm: seen.signatureAlgorithm ?? stored.signatureAlgorithm,
    weaknesses: seen.keyType ? seen.weaknesses : stored.weaknesses,
    pem: seen.pem ?? stored.pem,
    // Settled when its expiry was raised; a certificate put aside for serving nowhere is swept again once it serves.
    usages: [...usages.values()],
    raised: stored.raised,
    settled: stored.raised.includes(0),
  };
}

/** What the inventory learns from an individual enrollment or a group as DPS returns it (X.509 only). */
export function recordsOfEnrollment(e: {
  registrationId?: string;
  enrollmentGroupId?: string;
  attestation?: {
    type: string;
    x509?: {
      clientCertificates?: { primary?: { info?: X509CertificateInfo }; secondary?: { info?: X509CertificateInfo } };
      signingCertificates?: { primary?: { info?: X509CertificateInfo }; secondary?: { info?: X509CertificateInfo } };
    };
  };
}): CertificateRecord[] {
  if (e.attestation?.type !== 'x509') return [];
  const group = e.enrollmentGroupId !== undefined;
  const slots = group ? e.attestation.x509?.signingCertificates : e.attestation.x509?.clientCertificates;
  const out: CertificateRecord[] = [];
  for (const slot of ['primary', 'secondary'] as const) {
    const info = slots?.[slot]?.info;
    if (info)
      out.push(
        recordFromInfo(info, {
          kind: group ? 'enrollmentGroup' : 'enrollment',
          id: (group ? e.enrollmentGroupId : e.registrationId) as string,
          slot,
        }),
      );
  }
  return out;
}
