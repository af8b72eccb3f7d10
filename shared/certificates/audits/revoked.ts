/**
 * Audit: devices still registered on a hub under a certificate or an issuer an incident revoked — what containment
 * missed (a device registered outside DPS, through another group, or put back by hand). Reads the deny list's
 * certificate and issuer entries, the inventory's device certificates under them, and asks each hub. Its cost grows
 * with what was revoked, not with the fleet. Each device is raised once.
 */
import { type DenyEntry, denyKey } from '../../allocation';
import { CONTAINERS } from '../../containers';
import { raiseOnce } from '../../findings';
import type { DocumentStore, EventsPort, HubDirectory, StoredDocument } from '../../ports';
import { type RetryOptions, retryThrottled } from '../../retry';
import { type AuditFindingDocument, certificates, type StoredCertificate } from '../inventory';

export interface RevokedAuditDeps {
  store: () => Promise<DocumentStore>;
  hubs: () => Promise<HubDirectory>;
  events: () => Promise<EventsPort>;
  retry?: RetryOptions;
}

async function all<T extends StoredDocument>(
  query: (token?: string) => Promise<{ items: T[]; continuationToken?: string }>,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const page = await query(token);
    out.push(...page.items);
    token = page.continuationToken;
  } while (token);
  return out;
}

export async function auditRevokedStillRegistered(
  deps: RevokedAuditDeps,
): Promise<{ certificates: number; raised: string[] }> {
  const store = await deps.store();
  const deny = store.container<StoredDocument & DenyEntry>(CONTAINERS.denyList.name);
  const inventory = certificates(store);
  const revoked = new Map<string, { cert: StoredCertificate; entry: DenyEntry }>();
  for (const kind of ['thumbprint', 'issuer'] as const) {
    const entries = await all((t) =>
      deny.query(
        'SELECT * FROM c WHERE c.kind = @kind',
        { '@kind': kind },
        { partitionKey: kind, continuationToken: t },
      ),
    );
    for (const entry of entries) {
      const certs =
        kind === 'thumbprint'
          ? await all((t) =>
              inventory.query(
                'SELECT * FROM c WHERE c.id = @id',
                { '@id': denyKey('thumbprint', entry.value).slice('thumbprint:'.length) },
                { continuationToken: t },
              ),
            )
          : await all((t) =>
              inventory.query(
                'SELECT * FROM c WHERE c.issuerKey = @key',
                { '@key': denyKey('issuer', entry.value) },
                { continuationToken: t },
              ),
            );
      for (const cert of certs) revoked.set(cert.id, { cert, entry });
    }
  }
  const hubs = await deps.hubs();
  const raised: string[] = [];
  for (const { cert, entry } of revoked.values()) {
    for (const usage of cert.usages.filter((u) => u.kind === 'device' && u.hub)) {
      if (!hubs.hostNames().some((h) => h.toLowerCase() === usage.hub?.toLowerCase())) continue;
      const device = await retryThrottled(() => hubs.hub(usage.hub as string).getDevice(usage.id), deps.retry);
      if (!device) continue;
      const doc: AuditFindingDocument = {
        id: `audit.REVOKED_STILL_REGISTERED.${cert.id}.${usage.id.toLowerCase()}`,
        kind: 'audit',
        code: 'REVOKED_STILL_REGISTERED',
        reason: `device ${usage.id} is still registered (${device.status ?? 'enabled'}) on ${usage.hub} under a ${entry.kind === 'issuer' ? 'CA' : 'certificate'} revoked by incident ${entry.incidentId ?? '(none)'}: ${entry.reason}`,
        certificate: { thumbprint: cert.id, subject: cert.subject, issuer: cert.issuer, notAfter: cert.notAfter },
        usages: [usage],
        raisedAt: new Date().toISOString(),
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
