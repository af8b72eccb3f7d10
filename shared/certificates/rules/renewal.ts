/**
 * Certificates DPS issued through an ADR policy live 7–90 days and are renewed by the device itself, "when the
 * certificate reaches a set percentage of its validity period, such as 80 percent" (concept-certificate-renewal). So
 * they are judged by that renewal point, not by the 90/30/7-day horizons of the certificates makers bring: a device
 * past it that has not renewed is late, long before its certificate ends. Pure: time passed in.
 *
 * The backend learns them from the device twin: neither ADR nor IoT Hub nor DPS's service API exposes a device's
 * issued certificate, and the allocation webhook is not told of the CSR; the device reports what it holds as the
 * reported property `certificate` (`validFrom`, `validUntil`, optionally `thumbprint`, `serialNumber`, and `issuer`:
 * the subject of the CA that signed it, as the device reads it from its chain — how the console names its policy).
 */
export const DEFAULT_RENEWAL_PERCENT = 80;

export interface ReportedCertificate {
  validFrom: string;
  validUntil: string;
  /** SHA-256, hex upper case, when the device reports it. */
  thumbprint?: string;
  serialNumber?: string;
  /** The issuing CA's subject, as the device's chain names it. */
  issuer?: string;
}

const iso = (v: unknown) =>
  typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : undefined;

/** The twin's reported `certificate`, when it is one: two dates, the first before the second. */
export function readReportedCertificate(
  reported: Record<string, unknown> | undefined,
): ReportedCertificate | undefined {
  const c = reported?.certificate as Record<string, unknown> | undefined;
  if (!c || typeof c !== 'object') return undefined;
  const [validFrom, validUntil] = [iso(c.validFrom), iso(c.validUntil)];
  if (!validFrom || !validUntil || Date.parse(validUntil) <= Date.parse(validFrom)) return undefined;
  const thumbprint =
    typeof c.thumbprint === 'string' && /^[0-9A-Fa-f:]{40,}$/.test(c.thumbprint)
      ? c.thumbprint.replace(/:/g, '').toUpperCase()
      : undefined;
  return {
    validFrom,
    validUntil,
    ...(thumbprint ? { thumbprint } : {}),
    ...(typeof c.serialNumber === 'string' && c.serialNumber ? { serialNumber: c.serialNumber } : {}),
    ...(typeof c.issuer === 'string' && c.issuer && c.issuer.length <= 1024 ? { issuer: c.issuer } : {}),
  };
}

/** The renewal percentage setting: 1–99, else the default. */
export function parseRenewalPercent(raw: string | undefined): number {
  const n = Number(raw);
  return raw !== undefined && Number.isFinite(n) && n > 0 && n < 100 ? n : DEFAULT_RENEWAL_PERCENT;
}

/** When the device should have renewed: `percent` of the way from validFrom to validUntil. */
export function renewalPointOf(c: ReportedCertificate, percent: number): Date {
  const from = Date.parse(c.validFrom);
  return new Date(from + ((Date.parse(c.validUntil) - from) * percent) / 100);
}

export type RenewalState = 'current' | 'renewalDue' | 'expired';

export function renewalState(c: ReportedCertificate, now: Date, percent: number): RenewalState {
  if (now.getTime() >= Date.parse(c.validUntil)) return 'expired';
  return now >= renewalPointOf(c, percent) ? 'renewalDue' : 'current';
}

/** Two reports of one certificate, or a renewal (a new certificate) between them. */
export const sameCertificate = (a: ReportedCertificate, b: ReportedCertificate) =>
  a.validFrom === b.validFrom &&
  a.validUntil === b.validUntil &&
  (a.thumbprint ?? b.thumbprint) === (b.thumbprint ?? a.thumbprint);

/**
 * The finding's id says what it is about: that device's certificate (its thumbprint, or where the device reports
 * none, its end), so it is raised once per certificate and a second create fails.
 */
export function renewalFindingId(hub: string, deviceId: string, c: ReportedCertificate): string {
  const which = c.thumbprint ?? c.validUntil.replace(/[-:.]/g, '');
  // Encoded: a device ID may hold `?`, which a Cosmos id may not.
  return `renewal.${hub.split('.')[0]}.${encodeURIComponent(deviceId)}.${which}`;
}
