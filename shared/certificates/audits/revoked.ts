/**
 * Audit: devices still registered on a hub under a certificate or an issuer an incident revoked — what containment
 * missed (a device registered outside DPS, through another group, or put back by hand). Reads the deny list's
 * certificate and issuer entries, the inventory's device certificates under them, and asks each hub. Its cost grows
 * with what was revoked, not with the fleet. Each device is raised once.
 */
import { type DenyEntry, denyKey, type DenyKind } from '../../allocation';
import { raiseOnce } from '../../findings';
import { type Clock, type DocumentStore, type EventsPort, type HubDirectory, timeOf } from '../../ports';
import { retryIdempotent, type RetryOptions } from '../../retry';
import type { AuditFindingDocument } from '../inventory';
import type { CertificateRepository, StoredCertificate } from '../inventory-store';

/** What the audit reads of the deny list (containment's deny-list repository answers it). */
export interface RevokedEntries {
  entriesOfKind(kind: DenyKind): Promise<DenyEntry[]>;
}

export interface RevokedAuditDeps {
  /** Findings. */
  store: () => Promise<DocumentStore>;
  certificates: () => Promise<CertificateRepository>;
  denyList: () => Promise<RevokedEntries>;
  hubs: () => Promise<HubDirectory>;
  events: () => Promise<EventsPort>;
  retry?: RetryOptions;
  clock?: Clock;
}

export async function auditRevokedStillRegistered(
  deps: RevokedAuditDeps,
): Promise<{ certificates: number; raised: string[] }> {
  const store = await deps.store();
  const deny = await deps.denyList();
  const inventory = await deps.certificates();
  const revoked = new Map<string, { cert: StoredCertificate; entry: DenyEntry }>();
  for (const kind of ['thumbprint', 'caThumbprint', 'issuer'] as const) {
    for (const entry of await deny.entriesOfKind(kind)) {
      const certs =
        kind !== 'issuer'
          ? // a CA's thumbprint finds its own record, which serves no device: only device certificates are raised
            await inventory.allWithThumbprint(denyKey('thumbprint', entry.value).slice('thumbprint:'.length))
          : await inventory.allIssuedBy(denyKey('issuer', entry.value));
      for (const cert of certs) revoked.set(cert.id, { cert, entry });
    }
  }
  const hubs = await deps.hubs();
  const raised: string[] = [];
  for (const { cert, entry } of revoked.values()) {
    for (const usage of cert.usages.filter((u) => u.kind === 'device' && u.hub)) {
      if (!hubs.hostNames().some((h) => h.toLowerCase() === usage.hub?.toLowerCase())) continue;
      const device = await retryIdempotent(() => hubs.hub(usage.hub as string).getDevice(usage.id), deps.retry);
      if (!device) continue;
      const doc: AuditFindingDocument = {
        id: `audit.REVOKED_STILL_REGISTERED.${cert.id}.${usage.id.toLowerCase()}`,
        kind: 'audit',
        code: 'REVOKED_STILL_REGISTERED',
        reason: `device ${usage.id} is still registered (${device.status ?? 'enabled'}) on ${usage.hub} under a ${entry.kind === 'issuer' ? 'CA' : 'certificate'} revoked by incident ${entry.incidentId ?? '(none)'}: ${entry.reason}`,
        certificate: { thumbprint: cert.id, subject: cert.subject, issuer: cert.issuer, notAfter: cert.notAfter },
        usages: [usage],
        raisedAt: timeOf(deps)().toISOString(),
      };
      if (
        await raiseOnce(store, await deps.events(), doc, {
          type: 'certificate.audit',
          subject: cert.id,
          data: { code: doc.code, reason: doc.reason, deviceId: usage.id, hub: usage.hub },
        })
      )
        raised.push(usage.id);
    }
  }
  return { certificates: revoked.size, raised };
}
