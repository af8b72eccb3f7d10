/**
 * Repairs drift between DPS and the inventory: for each X.509 enrollment and group the pass reads, a small map of
 * the certificates it used last time (`checkpoints`, `usage-map.*`). A certificate no longer there loses that usage;
 * at the end of a pass, maps the pass did not touch belong to enrollments deleted (or no longer X.509) and their
 * usages go too. A certificate that serves nowhere is no longer swept or reported.
 */
import { forEachLimited } from '../concurrency';
import type { CertificateRepository } from './inventory-store';
import { changeRecord } from './record-change';
import type { CertificateRecord, UsageKind } from './rules/record';

interface CertRef {
  id: string;
  expiryMonth: string;
}

export interface SeenEntry {
  kind: 'enrollment' | 'enrollmentGroup';
  id: string;
  records: CertificateRecord[];
}

async function removeUsage(
  inventory: CertificateRepository,
  cert: CertRef,
  kind: UsageKind,
  id: string,
): Promise<void> {
  await changeRecord(inventory, await inventory.read(cert.id, cert.expiryMonth), (record) => {
    const usages = record.usages.filter((u) => !(u.kind === kind && u.id.toLowerCase() === id.toLowerCase()));
    return usages.length === record.usages.length ? undefined : { ...record, usages };
  });
}

/** Records what each entry uses now, dropping the usages it no longer has. Returns how many usages were dropped. */
export async function trackUsages(
  inventory: CertificateRepository,
  entries: SeenEntry[],
  pass: number,
  concurrency = 16,
): Promise<number> {
  const x509 = entries.filter((e) => e.records.length > 0); // not X.509: if it was, the end of the pass cleans its map
  let dropped = 0;
  await forEachLimited(x509, concurrency, async (entry) => {
    const stored = await inventory.usageMap(entry.kind, entry.id);
    const certs = entry.records.map((r) => ({ id: r.id, expiryMonth: r.expiryMonth }));
    const gone = (stored?.certs ?? []).filter((c) => !certs.some((n) => n.id === c.id));
    for (const cert of gone) await removeUsage(inventory, cert, entry.kind, entry.id);
    dropped += gone.length;
    if (!stored || gone.length || stored.certs.length !== certs.length || stored.pass !== pass) {
      await inventory.saveUsageMap({ kind: entry.kind, entryId: entry.id, certs, pass });
    }
  });
  return dropped;
}

/** At the end of pass `pass`: what the pass did not see is gone from DPS. Returns how many entries were gone. */
export async function dropUnseen(inventory: CertificateRepository, pass: number): Promise<number> {
  let gone = 0;
  let token: string | undefined;
  do {
    const page = await inventory.usageMapsBefore(pass, 100, token);
    token = page.continuationToken;
    for (const map of page.items) {
      for (const cert of map.certs) await removeUsage(inventory, cert, map.kind, map.entryId);
      await inventory.deleteUsageMap(map);
      gone++;
    }
  } while (token);
  return gone;
}
