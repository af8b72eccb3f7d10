/**
 * Rolling an expiring certificate the way Microsoft documents for DPS enrollments: the new certificate is staged in the secondary
 * slot; when the primary has expired or is inside the last horizon, the secondary is promoted and the old primary
 * removed — provisioning never stops. Never removes the only valid certificate.
 */
import type { X509Certificates, X509CertificateWithInfo } from '../../dps-types';

export type RollDecision = { roll: true; slots: X509Certificates; reason: string } | { roll: false; reason: string };

const DAY = 86_400_000;
const valid = (slot: X509CertificateWithInfo | undefined, now: Date) =>
  !!slot?.info &&
  Date.parse(slot.info.notBeforeUtc) <= now.getTime() &&
  Date.parse(slot.info.notAfterUtc) > now.getTime();

/**
 * `secondaryPem` is the staged certificate when the inventory holds it; without it the slot is sent back as DPS gave
 * it (its `info`), which asks DPS to keep the certificate it already holds.
 */
export function planRoll(
  slots: X509Certificates | undefined,
  now: Date,
  lastHorizonDays: number,
  secondaryPem?: string,
): RollDecision {
  const primary = slots?.primary?.info;
  if (!primary) return { roll: false, reason: 'no primary certificate' };
  const primaryLeft = Date.parse(primary.notAfterUtc) - now.getTime();
  if (primaryLeft > lastHorizonDays * DAY) return { roll: false, reason: 'the primary is not inside the last horizon' };
  if (!valid(slots?.secondary, now))
    return { roll: false, reason: 'no valid secondary is staged: the primary is the only certificate and stays' };
  const secondary = slots?.secondary as X509CertificateWithInfo;
  if (Date.parse(secondary.info?.notAfterUtc as string) <= Date.parse(primary.notAfterUtc))
    return { roll: false, reason: 'the staged secondary expires no later than the primary' };
  const promoted: X509CertificateWithInfo = secondaryPem ? { certificate: secondaryPem } : { info: secondary.info };
  return {
    roll: true,
    slots: { primary: promoted },
    reason: primaryLeft <= 0 ? 'the primary expired' : `the primary expires within ${lastHorizonDays} days`,
  };
}
