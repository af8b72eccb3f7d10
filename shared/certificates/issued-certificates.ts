/**
 * Certificates DPS issued (ADR policies), as the devices report them in their twins (rules/renewal.ts says why
 * there): each hub's twins are read page by page, what a device holds is kept in the inventory (one record a device,
 * `issued.<hub>.<device>` in `checkpoints`), and a device past its renewal point that has not renewed is raised once
 * (a `renewal.…` finding whose id names the device and the certificate). A renewal — a new certificate reported —
 * resolves the finding of the one it replaced. Its cost grows with the hubs' devices: one twin query page at a time.
 */
import { ConflictError } from '../errors';
import { type FindingBase, type FindingRepository, raiseOnce, type StoredFinding } from '../findings';
import type { DocumentStore, EventsPort, HubDirectory, Page, StoredDocument } from '../ports';
import { retryIdempotent, type RetryOptions } from '../retry';
import {
  readReportedCertificate,
  renewalFindingId,
  renewalPointOf,
  renewalState,
  type ReportedCertificate,
  sameCertificate,
} from './rules/renewal';

export interface IssuedCertificateRecord extends StoredDocument {
  /** What the record is, among the other documents of the `checkpoints` container (the console lists by it). */
  kind?: 'issuedCertificate';
  hub: string;
  deviceId: string;
  certificate: ReportedCertificate;
  firstSeen: string;
  /** The renewal finding raised for this certificate, while it is open. */
  openFinding?: string;
  /** Renewals the sweep has seen (a new certificate reported), and when the last was seen. */
  renewals?: number;
  renewedAt?: string;
}

export interface IssuedCertificateRepository {
  get(hub: string, deviceId: string): Promise<IssuedCertificateRecord | undefined>;
  put(record: IssuedCertificateRecord): Promise<void>;
  /** Every device's record, a page at a time (the console's view). */
  list(pageSize: number, continuationToken?: string): Promise<Page<IssuedCertificateRecord>>;
}

export interface IssuedSweepDeps {
  hubs: () => Promise<HubDirectory>;
  issued: () => Promise<IssuedCertificateRepository>;
  /** Findings raised (raiseOnce writes through the store) and resolved (through their repository). */
  store: () => Promise<DocumentStore>;
  findings: () => Promise<FindingRepository>;
  events: () => Promise<EventsPort>;
  retry?: RetryOptions;
}

export interface IssuedSweepOptions {
  now: Date;
  /** The renewal point, in percent of validity (80 by default: CERT_RENEWAL_PERCENT). */
  renewalPercent: number;
  pageSize?: number;
}

export interface RenewalFinding extends FindingBase {
  kind: 'expiry';
  code: 'CERT_RENEWAL_OVERDUE';
  device: { hub: string; deviceId: string };
  certificate: ReportedCertificate & { renewalPoint: string };
  resolved?: { at: string; reason: string };
}

export interface IssuedSweepReport {
  devices: number;
  learned: number;
  renewed: number;
  raised: string[];
  resolved: string[];
}

/** Devices that report a certificate: only these twins matter, and the query says so where the hub can filter. */
const QUERY = 'SELECT * FROM devices';

export async function sweepIssuedCertificates(
  deps: IssuedSweepDeps,
  options: IssuedSweepOptions,
): Promise<IssuedSweepReport> {
  const report: IssuedSweepReport = { devices: 0, learned: 0, renewed: 0, raised: [], resolved: [] };
  const [hubs, issued, store, events, findings] = await Promise.all([
    deps.hubs(),
    deps.issued(),
    deps.store(),
    deps.events(),
    deps.findings(),
  ]);
  for (const hostName of hubs.hostNames()) {
    const hub = hubs.hub(hostName);
    let token: string | undefined;
    do {
      const page = await retryIdempotent(() => hub.queryTwins(QUERY, options.pageSize ?? 500, token), deps.retry);
      for (const twin of page.items) {
        const reported = readReportedCertificate(twin.properties?.reported);
        if (!reported) continue;
        report.devices++;
        await judge({ issued, store, events, findings }, hostName, twin.deviceId, reported, options, report);
      }
      token = page.continuationToken;
    } while (token);
  }
  return report;
}

async function judge(
  ports: { issued: IssuedCertificateRepository; store: DocumentStore; events: EventsPort; findings: FindingRepository },
  hub: string,
  deviceId: string,
  reported: ReportedCertificate,
  options: IssuedSweepOptions,
  report: IssuedSweepReport,
): Promise<void> {
  const now = options.now.toISOString();
  const known = await ports.issued.get(hub, deviceId);
  let record: IssuedCertificateRecord;
  // The same certificate: the record stands, updated only where it lacks its kind (written before records said what
  // they are) or what the device reports of it changed (its issuer, reported later).
  if (known && sameCertificate(known.certificate, reported))
    record =
      known.kind && JSON.stringify(known.certificate) === JSON.stringify(reported)
        ? known
        : { ...known, kind: 'issuedCertificate', certificate: reported };
  else {
    if (known) {
      report.renewed++;
      if (known.openFinding && (await resolve(ports.findings, known.openFinding, now, reported)))
        report.resolved.push(known.openFinding);
      await ports.events.publish([
        {
          type: 'certificate.renewed',
          subject: `devices/${deviceId}`,
          time: now,
          data: { hub, deviceId, previous: known.certificate, current: reported },
        },
      ]);
    } else report.learned++;
    record = {
      id: issuedId(hub, deviceId),
      kind: 'issuedCertificate',
      hub,
      deviceId,
      certificate: reported,
      firstSeen: now,
      ...(known ? { renewals: (known.renewals ?? 0) + 1, renewedAt: now } : {}),
    };
  }
  if (renewalState(reported, options.now, options.renewalPercent) !== 'current' && !record.openFinding) {
    const id = renewalFindingId(hub, deviceId, reported);
    const finding: RenewalFinding = {
      id,
      kind: 'expiry',
      code: 'CERT_RENEWAL_OVERDUE',
      raisedAt: now,
      device: { hub, deviceId },
      certificate: { ...reported, renewalPoint: renewalPointOf(reported, options.renewalPercent).toISOString() },
    };
    const raised = await raiseOnce(ports.store, ports.events, finding, {
      type: 'certificate.renewalOverdue',
      subject: `devices/${deviceId}`,
      data: { hub, deviceId, ...finding.certificate },
    });
    if (raised) report.raised.push(id);
    record = { ...record, openFinding: id };
  }
  if (record !== known) await ports.issued.put(record);
}

/**
 * The finding of the certificate a renewal replaced: marked resolved (kept, for the record), once. A 412 is read
 * again: written meanwhile (a suppression), or resolved by this very write whose answer was lost.
 */
async function resolve(findings: FindingRepository, id: string, at: string, by: ReportedCertificate): Promise<boolean> {
  const resolved = { at, reason: `renewed: a certificate valid until ${by.validUntil}` };
  for (let attempt = 0; attempt < 5; attempt++) {
    const finding = (await findings.get('expiry', id)) as (StoredFinding & Partial<RenewalFinding>) | undefined;
    if (!finding) return false;
    if (finding.resolved) return finding.resolved.at === at && finding.resolved.reason === resolved.reason;
    try {
      await findings.replace({ ...finding, resolved });
      return true;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  return false;
}

export const issuedId = (hub: string, deviceId: string) =>
  `issued.${hub.split('.')[0]}.${encodeURIComponent(deviceId)}`;
