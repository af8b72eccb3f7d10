/**
 * The expiry sweep: reads the inventory's open certificates in the months from the look-back to the loosest horizon
 * (one single-partition query a month, filtered on the index), raises each certificate once per horizon it newly
 * reached (a finding document and an event), and rolls enrollments whose primary is inside the last horizon when a
 * valid secondary is staged. Its cost grows with the certificates near their end, not with the fleet.
 */
import { ConflictError } from '../errors';
import { type FindingBase, raiseOnce } from '../findings';
import type { DocumentStore, EnrollmentsPort, EventsPort } from '../ports';
import type { RetryOptions } from '../retry';
import { type CertificateRepository, LOOKBACK_DAYS, monthsBetween, type StoredCertificate } from './inventory-store';
import { changeRecord } from './record-change';
import { rollEnrollment, type RollOutcome } from './roll';
import { findingCode, horizonToRaise, lookahead, reachedHorizon } from './rules/horizons';
import type { CertificateUsage } from './rules/record';

export interface SweepDeps {
  /** Findings and the audit. */
  store: () => Promise<DocumentStore>;
  certificates: () => Promise<CertificateRepository>;
  enrollments: () => Promise<EnrollmentsPort>;
  events: () => Promise<EventsPort>;
  retry?: RetryOptions;
}

export interface SweepOptions {
  now: Date;
  horizons: readonly number[];
  /** How far back to look for certificates that expired unseen (the first sweep, a long outage). */
  lookbackDays?: number;
}

export interface FindingDocument extends FindingBase {
  kind: 'expiry';
  code: string;
  horizon: number;
  certificate: { thumbprint: string; subject: string; issuer: string; notAfter: string; expiryMonth: string };
  usages: CertificateUsage[];
  raisedAt: string;
  suppressed?: { by: string; reason: string; at: string };
}

const DAY = 86_400_000;

export interface SweepReport {
  months: number;
  documentsRead: number;
  raised: Array<{ thumbprint: string; code: string }>;
  rolled: Array<{ kind: string; id: string; reason: string }>;
  notRolled: Array<{ kind: string; id: string; reason: string }>;
}

export async function sweepExpiries(deps: SweepDeps, options: SweepOptions): Promise<SweepReport> {
  const { now, horizons, lookbackDays = LOOKBACK_DAYS } = options;
  const store = await deps.store();
  const inventory = await deps.certificates();
  const until = lookahead(now, horizons);
  const lastHorizon = Math.min(...horizons);
  const months = monthsBetween(new Date(now.getTime() - lookbackDays * DAY), until);
  const report: SweepReport = { months: months.length, documentsRead: 0, raised: [], rolled: [], notRolled: [] };
  for await (const page of inventory.endingBy(months, until, true)) {
    report.documentsRead += page.length;
    for (const cert of page) await sweepOne(deps, store, inventory, cert, options, lastHorizon, report);
  }
  return report;
}

/** What `GET /api/certificates/expiring` shows: certificates in use that end within `withinDays`, soonest first. */
export async function listExpiring(
  inventory: CertificateRepository,
  now: Date,
  withinDays: number,
  horizons: readonly number[],
) {
  const until = new Date(now.getTime() + withinDays * DAY);
  const items = [];
  for await (const page of inventory.endingBy(
    monthsBetween(new Date(now.getTime() - LOOKBACK_DAYS * DAY), until),
    until,
    false,
  )) {
    for (const c of page) {
      if (c.usages.length === 0) continue;
      items.push({
        thumbprint: c.id,
        subject: c.subject,
        issuer: c.issuer,
        notAfter: c.notAfter,
        expired: Date.parse(c.notAfter) <= now.getTime(),
        horizon: reachedHorizon(c.notAfter, now, horizons),
        raised: c.raised,
        usages: c.usages,
        weaknesses: c.weaknesses,
      });
    }
  }
  items.sort((a, b) => a.notAfter.localeCompare(b.notAfter));
  return { until: until.toISOString(), count: items.length, certificates: items };
}

async function sweepOne(
  deps: SweepDeps,
  store: DocumentStore,
  inventory: CertificateRepository,
  cert: StoredCertificate,
  options: SweepOptions,
  lastHorizon: number,
  report: SweepReport,
): Promise<void> {
  const { now, horizons } = options;
  const reached = reachedHorizon(cert.notAfter, now, horizons);
  const rolledOut: CertificateUsage[] = [];
  if (reached !== undefined && reached <= lastHorizon) {
    for (const usage of cert.usages.filter(
      (u) => u.slot === 'primary' && (u.kind === 'enrollment' || u.kind === 'enrollmentGroup'),
    )) {
      const outcome = await rollEnrollment(deps, inventory, store, cert.id, usage, now, lastHorizon).catch(
        (err: unknown): RollOutcome => {
          if (err instanceof ConflictError)
            return { rolled: false, reason: 'changed meanwhile (etag); the next sweep looks again' };
          throw err;
        },
      );
      (outcome.rolled ? report.rolled : report.notRolled).push({
        kind: usage.kind,
        id: usage.id,
        reason: outcome.reason,
      });
      // Either way this certificate no longer serves there: it is not raised for an enrollment that does not use it.
      if (outcome.rolled || outcome.serving === false) rolledOut.push(usage);
    }
  }
  const serving = (usages: CertificateUsage[]) =>
    usages.filter((u) => !rolledOut.some((r) => r.kind === u.kind && r.id === u.id && r.slot === u.slot));
  const usages = serving(cert.usages);
  // A certificate that serves nowhere any more (rolled out, or gone from DPS) is not worth a finding.
  const horizon = usages.length ? horizonToRaise(cert.notAfter, cert.raised, now, horizons) : undefined;
  if (horizon === undefined) {
    // Serving nowhere: put aside until a sighting gives it a usage again, so the sweep stops reading it.
    if (rolledOut.length || usages.length === 0)
      await changeRecord(inventory, cert, (r) => {
        const left = serving(r.usages);
        const settled = left.length === 0 || r.settled;
        return left.length === r.usages.length && settled === r.settled ? undefined : { ...r, usages: left, settled };
      });
    return;
  }
  const code = findingCode(horizon);
  const finding: FindingDocument = {
    id: `expiry.${cert.id}.${horizon}`,
    kind: 'expiry',
    code,
    horizon,
    raisedAt: now.toISOString(),
    usages: cert.usages,
    certificate: {
      thumbprint: cert.id,
      subject: cert.subject,
      issuer: cert.issuer,
      notAfter: cert.notAfter,
      expiryMonth: cert.expiryMonth,
    },
  };
  // Not fresh: raised by a sweep that died before it could mark the certificate.
  const fresh = await raiseOnce(store, await deps.events(), finding, {
    type: horizon === 0 ? 'certificate.expired' : 'certificate.expiring',
    subject: cert.id,
    data: { code, horizon, ...finding.certificate, usages: cert.usages },
  });
  if (fresh) report.raised.push({ thumbprint: cert.id, code });
  // Marked under the etag: a 412 is read again (our own write whose answer was lost, or a sighting's) and the
  // horizon added to what is there, unless it is there already.
  await changeRecord(inventory, cert, (r) =>
    r.raised.includes(horizon)
      ? undefined
      : { ...r, usages: serving(r.usages), raised: [...r.raised, horizon], settled: horizon === 0 || r.settled },
  );
}
