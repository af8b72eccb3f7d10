/**
 * Audits beyond expiry, from what one inventory record says (AWS IoT Device Defender runs such checks; nothing does
 * for Azure): a certificate serving several enrollments or devices (one identity cloned), weak keys, and
 * certificates older than the configured age. Each finding has a reason code and is raised once per certificate.
 */
import type { CertificateRecord } from './record';

export interface AuditFinding {
  code: 'CERT_SHARED' | 'CERT_WEAK_KEY' | 'CERT_TOO_OLD';
  reason: string;
}

export interface AuditRules {
  /** Certificates issued longer ago than this are raised (unset: no age check). */
  maxAgeDays?: number;
  now?: Date;
}

export function auditRecord(record: CertificateRecord, rules: AuditRules = {}): AuditFinding[] {
  const findings: AuditFinding[] = [];
  const enrollments = new Set(record.usages.filter((u) => u.kind === 'enrollment').map((u) => u.id.toLowerCase()));
  const devices = new Set(record.usages.filter((u) => u.kind === 'device').map((u) => u.id.toLowerCase()));
  if (enrollments.size > 1)
    findings.push({
      code: 'CERT_SHARED',
      reason: `one certificate attests ${enrollments.size} individual enrollments: ${[...enrollments].slice(0, 5).join(', ')}`,
    });
  else if (devices.size > 1)
    findings.push({
      code: 'CERT_SHARED',
      reason: `one device certificate was presented by ${devices.size} registrations: ${[...devices].slice(0, 5).join(', ')}`,
    });
  if (record.weaknesses.length) findings.push({ code: 'CERT_WEAK_KEY', reason: record.weaknesses.join('; ') });
  if (rules.maxAgeDays !== undefined) {
    const ageDays = Math.floor(((rules.now ?? new Date()).getTime() - Date.parse(record.notBefore)) / 86_400_000);
    if (ageDays > rules.maxAgeDays)
      findings.push({
        code: 'CERT_TOO_OLD',
        reason: `issued ${ageDays} days ago; the policy allows ${rules.maxAgeDays}`,
      });
  }
  return findings;
}
