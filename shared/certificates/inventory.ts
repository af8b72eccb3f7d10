/**
 * The certificate inventory in Cosmos: records written as certificates are seen (upserted with their usages merged),
 * and the reconciliation pass that re-reads DPS enrollments and groups page by page. Its continuation token is
 * checkpointed after every page, so a pass survives restarts and the function time limit and goes on where it was.
 */
import { forEachLimited } from '../concurrency';
import type { IndividualEnrollment } from '../dps-types';
import { type FindingBase, raiseOnce } from '../findings';
import type { EkClaimRepository } from '../imports';
import { type Clock, type DocumentStore, type EnrollmentsPort, type EventsPort, systemClock, timeOf } from '../ports';
import { retryIdempotent, type RetryOptions } from '../retry';
import { auditDeviceIds } from './audits/device-id';
import { auditEndorsementKeys } from './audits/ek';
import type { CertificateRepository, StoredCertificate } from './inventory-store';
import {
  type DeviceIdClaimRepository,
  RECONCILE_CHECKPOINT,
  type ReconcileCheckpoint,
  type ReconcileCheckpointRepository,
} from './reconcile-store';
import { auditRecord, type AuditRules } from './rules/audits';
import { type CertificateRecord, mergeRecord, recordFromPem, recordsOfEnrollment } from './rules/record';
import { dropUnseen, trackUsages } from './usage-drift';

export type { CertificateRepository, StoredCertificate } from './inventory-store';

export interface AuditFindingDocument extends FindingBase {
  kind: 'audit';
  code: string;
  reason: string;
  certificate: { thumbprint: string; subject: string; issuer: string; notAfter: string };
  usages: CertificateRecord['usages'];
  raisedAt: string;
  suppressed?: { by: string; reason: string; at: string };
}

/** Raises the audit findings of a written record, each once (its id is the code and the thumbprint). */
async function raiseAudits(
  store: DocumentStore,
  events: EventsPort | undefined,
  record: CertificateRecord,
  rules: AuditRules,
  now: Date,
): Promise<void> {
  for (const finding of auditRecord(record, { now, ...rules })) {
    const doc: AuditFindingDocument = {
      id: `audit.${finding.code}.${record.id}`,
      kind: 'audit',
      code: finding.code,
      reason: finding.reason,
      usages: record.usages,
      raisedAt: now.toISOString(),
      certificate: { thumbprint: record.id, subject: record.subject, issuer: record.issuer, notAfter: record.notAfter },
    };
    await raiseOnce(store, events, doc, {
      type: 'certificate.audit',
      subject: record.id,
      data: { code: doc.code, reason: doc.reason, ...doc.certificate, usages: doc.usages },
    });
  }
}

/**
 * Writes what was seen, merged with what the inventory knew; a record that did not change is not written again.
 * Audit findings are raised once each (a record re-seen is audited again: a certificate grows old unchanged).
 */
export async function recordCertificates(
  inventory: CertificateRepository,
  store: DocumentStore,
  seen: CertificateRecord[],
  options: { events?: EventsPort; concurrency?: number; audit?: AuditRules; now?: Date } = {},
): Promise<void> {
  const concurrency = options.concurrency ?? 16;
  const now = options.now ?? systemClock.now();
  // One certificate serving several enrollments of the page is written once, with all of them.
  const byId = new Map<string, CertificateRecord>();
  for (const record of seen) byId.set(record.id, mergeRecord(byId.get(record.id), record));
  const records = [...byId.values()];
  await forEachLimited(records, concurrency, async (record) => {
    const stored = await inventory.read(record.id, record.expiryMonth);
    const merged = mergeRecord(stored, record);
    if (!stored || !sameRecord(stored, merged)) await inventory.upsert(merged as StoredCertificate);
    await raiseAudits(store, options.events, merged, options.audit ?? {}, now);
  });
}

const sameRecord = (a: CertificateRecord, b: CertificateRecord) =>
  JSON.stringify([a.usages, a.notAfter, a.subject, a.keyType, a.pem]) ===
  JSON.stringify([b.usages, b.notAfter, b.subject, b.keyType, b.pem]);

export { RECONCILE_CHECKPOINT, type ReconcileCheckpoint } from './reconcile-store';

export interface ReconcileDeps {
  /** Findings. */
  store: () => Promise<DocumentStore>;
  certificates: () => Promise<CertificateRepository>;
  reconcileCheckpoints: () => Promise<ReconcileCheckpointRepository>;
  deviceIdClaims: () => Promise<DeviceIdClaimRepository>;
  /** The import's EK claims, which the EK audit claims through too. */
  ekClaims: () => Promise<EkClaimRepository>;
  enrollments: () => Promise<EnrollmentsPort>;
  events?: () => Promise<EventsPort>;
  /** The DPS instance's verified CA certificates (PEM), from configuration: read whole, so key and algorithm are known. */
  caCertificates?: () => Promise<Array<{ name: string; pem: string }>>;
  audit?: AuditRules;
  retry?: RetryOptions;
  clock?: Clock;
}

/** Runs the pass for at most `budgetMs` (or to its end); returns the checkpoint as it stands. */
export async function reconcileInventory(
  deps: ReconcileDeps,
  options: { pageSize?: number; budgetMs?: number } = {},
): Promise<ReconcileCheckpoint & { pagesThisRun: number }> {
  const { pageSize = 100, budgetMs = 8 * 60_000 } = options;
  const clock = timeOf(deps);
  const store = await deps.store();
  const inventory = await deps.certificates();
  const dps = await deps.enrollments();
  const checkpoints = await deps.reconcileCheckpoints();
  const started = clock().getTime();
  let checkpoint = (await checkpoints.read()) ?? {
    id: RECONCILE_CHECKPOINT,
    phase: 'enrollments',
    passStartedAt: clock().toISOString(),
    passes: 0,
    seenThisPass: 0,
  };
  let pagesThisRun = 0;
  // At least one page a run, however short the budget: a pass always moves on.
  for (;;) {
    const token = checkpoint.continuationToken;
    if (checkpoint.phase === 'enrollments' && !token && deps.caCertificates) {
      const cas = await deps.caCertificates();
      const records = await Promise.all(cas.map((ca) => recordFromPem(ca.pem, { kind: 'dpsCa', id: ca.name })));
      await recordCertificates(inventory, store, records, {
        events: await deps.events?.(),
        audit: deps.audit,
        now: clock(),
      });
    }
    const page =
      checkpoint.phase === 'enrollments'
        ? await retryIdempotent(() => dps.queryEnrollments(pageSize, token), deps.retry)
        : await retryIdempotent(() => dps.queryGroups(pageSize, token), deps.retry);
    await recordCertificates(
      inventory,
      store,
      page.items.flatMap((e) => recordsOfEnrollment(e)),
      { events: await deps.events?.(), audit: deps.audit, now: clock() },
    );
    const kind = checkpoint.phase === 'enrollments' ? ('enrollment' as const) : ('enrollmentGroup' as const);
    await trackUsages(
      inventory,
      page.items.map((e) => ({
        kind,
        id:
          (e as { registrationId?: string; enrollmentGroupId?: string }).registrationId ??
          (e as { enrollmentGroupId: string }).enrollmentGroupId,
        records: recordsOfEnrollment(e),
      })),
      checkpoint.passes + 1,
    );
    if (checkpoint.phase === 'enrollments') {
      await auditDeviceIds(
        store,
        await deps.deviceIdClaims(),
        dps,
        await deps.events?.(),
        page.items as IndividualEnrollment[],
        clock(),
        deps.retry,
      );
      await auditEndorsementKeys(
        store,
        await deps.ekClaims(),
        await deps.events?.(),
        page.items as IndividualEnrollment[],
        clock(),
      );
    }
    pagesThisRun++;
    checkpoint = {
      ...checkpoint,
      continuationToken: page.continuationToken,
      seenThisPass: checkpoint.seenThisPass + page.items.length,
    };
    if (!page.continuationToken) {
      if (checkpoint.phase === 'enrollments') checkpoint = { ...checkpoint, phase: 'groups' };
      else {
        await dropUnseen(inventory, checkpoint.passes + 1);
        const now = clock().toISOString();
        checkpoint = {
          ...checkpoint,
          phase: 'enrollments',
          passes: checkpoint.passes + 1,
          lastPassCompletedAt: now,
          lastPassSeen: checkpoint.seenThisPass,
          seenThisPass: 0,
          passStartedAt: now,
        };
        checkpoint = await checkpoints.save(checkpoint);
        break;
      }
    }
    checkpoint = await checkpoints.save(checkpoint);
    if (clock().getTime() - started >= budgetMs) break;
  }
  return { ...checkpoint, pagesThisRun };
}
