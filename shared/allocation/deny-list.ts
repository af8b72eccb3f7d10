/**
 * The deny list as the webhook holds it: an in-memory map from a normalised identity to the entry that revoked
 * it. Breach containment writes entries (Cosmos) and pushes them to the running webhook; the webhook refreshes
 * the whole map in the background. Nothing is read from a database while DPS waits.
 */
import type { AllocationRequest } from './contract';

export type DenyKind = 'registrationId' | 'endorsementKey' | 'thumbprint' | 'issuer' | 'enrollmentGroupId';

export interface DenyEntry {
  kind: DenyKind;
  value: string;
  reason: string;
  incidentId?: string;
  createdAt?: string;
}

export interface DenySnapshot {
  /** When the snapshot was last known to be complete (epoch ms). */
  refreshedAt: number;
  entries: ReadonlyMap<string, DenyEntry>;
  /** Entries by thumbprint or issuer: while there are any, a certificate that cannot be read is refused. */
  certificateEntries: number;
}

/** Registration IDs and group IDs are case-insensitive; thumbprints are hex (any case, any separators); DNs are compared without spacing or case. */
export function denyKey(kind: DenyKind, value: string): string {
  switch (kind) {
    case 'thumbprint':
      return `${kind}:${value.replace(/[^0-9a-f]/gi, '').toUpperCase()}`;
    case 'issuer':
      // Split and trim rather than one regular expression around the separators, which backtracks quadratically
      // on long runs of spaces: this is linear in the length of the name.
      return `${kind}:${value
        .toLowerCase()
        .split(/([,=])/)
        .map((part) => part.trim())
        .join('')}`;
    case 'endorsementKey':
      return `${kind}:${value.trim()}`;
    default:
      return `${kind}:${value.toLowerCase()}`;
  }
}

export function snapshotOf(entries: Iterable<DenyEntry>, refreshedAt: number): DenySnapshot {
  const map = new Map<string, DenyEntry>();
  for (const e of entries) map.set(denyKey(e.kind, e.value), e);
  const certificateEntries = [...map.values()].filter((e) => e.kind === 'thumbprint' || e.kind === 'issuer').length;
  return { refreshedAt, entries: map, certificateEntries };
}

/** The first entry that refuses this request, if any. */
export function deniedBy(snapshot: DenySnapshot, request: AllocationRequest): DenyEntry | undefined {
  const { deviceRuntimeContext: ctx, individualEnrollment, enrollmentGroup } = request;
  const x509 = ctx.x509;
  if (ctx.x509Unreadable && snapshot.certificateEntries > 0)
    // Certificates are revoked here, and this one cannot be read: refuse rather than let a revoked one through.
    return {
      kind: 'thumbprint',
      value: 'unreadable',
      reason: `certificate revocation cannot be checked: ${ctx.x509Unreadable}`,
    };
  const candidates: Array<[DenyKind, string | undefined]> = [
    ['registrationId', ctx.registrationId],
    ['endorsementKey', ctx.tpm?.endorsementKey ?? individualEnrollment?.attestation?.tpm?.endorsementKey],
    ['thumbprint', x509?.sha1Thumbprint],
    ['thumbprint', x509?.sha256Thumbprint],
    ['issuer', x509?.issuerName],
    ['enrollmentGroupId', enrollmentGroup?.enrollmentGroupId],
  ];
  for (const [kind, value] of candidates) {
    if (!value) continue;
    const hit = snapshot.entries.get(denyKey(kind, value));
    if (hit) return hit;
  }
  return undefined;
}
