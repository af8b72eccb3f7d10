/**
 * The deny list as the webhook holds it: an in-memory map from a normalised identity to the entry that revoked
 * it. Breach containment writes entries (Cosmos) and pushes them to the running webhook; every other instance
 * loads the whole list once and then, every second, only what changed (a change log beside the list). Nothing is
 * read from a database while DPS waits.
 */
import type { AllocationRequest } from './contract';

/**
 * `thumbprint` is a device's own certificate; `caThumbprint` a CA's, compared with the group signer DPS reports. Kept
 * apart so that naming a certificate (which an alert may do at once) can never refuse a whole group's signer.
 */
export type DenyKind =
  'registrationId' | 'endorsementKey' | 'thumbprint' | 'caThumbprint' | 'issuer' | 'enrollmentGroupId';

export interface DenyEntry {
  kind: DenyKind;
  value: string;
  reason: string;
  incidentId?: string;
  createdAt?: string;
}

/** What identifies an entry: the same identity is one entry whoever revoked it. */
export type DenyIdentity = Pick<DenyEntry, 'kind' | 'value'>;

/** Where the webhook's snapshot comes from: the whole list once, then what changed after a position of its log. */
export interface DenyListFeed {
  /** Every entry, and the log position the list is complete up to (read before the entries). */
  loadAll(): Promise<{ entries: DenyEntry[]; position: number }>;
  /**
   * The entries changed after `position` as they are now (present or absent), `alsoRead` read again with them;
   * `gap` when the log no longer reaches back to `position` (its records expire) and only a full load will do.
   */
  changesSince(position: number, alsoRead: DenyIdentity[]): Promise<DenyChanges | 'gap'>;
}

export interface DenyChanges {
  present: DenyEntry[];
  absent: DenyIdentity[];
  /** The identities the log named, to read once more next time (the log and the entries are different partitions). */
  changed: DenyIdentity[];
  position: number;
}

export interface DenySnapshot {
  /** When the snapshot was last known to be complete (epoch ms). */
  refreshedAt: number;
  entries: ReadonlyMap<string, DenyEntry>;
  /** Entries by thumbprint or issuer: while there are any, a certificate that cannot be read is refused. */
  certificateEntries: number;
}

/**
 * A distinguished name as the deny list compares it: its attributes without spacing or case, in a fixed order. Node
 * prints a name in its DER order (`C=US, O=Contoso, CN=…`), .NET — and so, most likely, DPS — the other way round
 * (`CN=…, O=Contoso, C=US`): sorted, both are one name. Commas escaped inside a value (`O=Contoso\, Inc.`) stay in it.
 */
export function nameKey(dn: string): string {
  // Split and trim rather than one regular expression around the separators, which backtracks quadratically on long
  // runs of spaces: this is linear in the length of the name (plus the sort of its few attributes).
  return dn
    .toLowerCase()
    .split(/(?<!\\),/)
    .map((rdn) =>
      rdn
        .split('=')
        .map((part) => part.trim())
        .join('='),
    )
    .filter(Boolean)
    .sort()
    .join(',');
}

/** Registration IDs and group IDs are case-insensitive; thumbprints are hex (any case, any separators); DNs as nameKey. */
export function denyKey(kind: DenyKind, value: string): string {
  switch (kind) {
    case 'thumbprint':
    case 'caThumbprint':
      return `${kind}:${value.replace(/[^0-9a-f]/gi, '').toUpperCase()}`;
    case 'issuer':
      return `${kind}:${nameKey(value)}`;
    case 'endorsementKey':
      return `${kind}:${value.trim()}`;
    default:
      return `${kind}:${value.toLowerCase()}`;
  }
}

const isCertificateEntry = (e: DenyIdentity) =>
  e.kind === 'thumbprint' || e.kind === 'caThumbprint' || e.kind === 'issuer';

export function snapshotOf(entries: Iterable<DenyEntry>, refreshedAt: number): DenySnapshot {
  return withChanges({ refreshedAt, entries: new Map(), certificateEntries: 0 }, [...entries], [], refreshedAt);
}

/**
 * The snapshot with `present` added and `absent` removed, at a cost that grows with the change, not with the list:
 * the map is changed in place (a request only reads it between two awaits) and the certificate count kept as it goes.
 */
export function withChanges(
  snapshot: DenySnapshot,
  present: readonly DenyEntry[],
  absent: readonly DenyIdentity[],
  refreshedAt: number,
): DenySnapshot {
  const entries = snapshot.entries as Map<string, DenyEntry>;
  let certificateEntries = snapshot.certificateEntries;
  for (const e of absent) {
    const key = denyKey(e.kind, e.value);
    if (entries.delete(key) && isCertificateEntry(e)) certificateEntries--;
  }
  for (const e of present) {
    const key = denyKey(e.kind, e.value);
    if (!entries.has(key) && isCertificateEntry(e)) certificateEntries++;
    entries.set(key, e);
  }
  return { refreshedAt, entries, certificateEntries };
}

/** The first entry that refuses this request, if any. */
export function deniedBy(snapshot: DenySnapshot, request: AllocationRequest): DenyEntry | undefined {
  const { deviceRuntimeContext: ctx, individualEnrollment, enrollmentGroup } = request;
  const { x509, x509Signer: signer } = ctx;
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
    // The chain above the device, as far as DPS shows it: the group's signer is the revoked CA (by thumbprint, or by
    // subject), or the revoked CA issued it. A CA deeper in the chain is DPS's to refuse (a disabled group holds it).
    ['caThumbprint', signer?.sha1Thumbprint],
    ['caThumbprint', signer?.sha256Thumbprint],
    ['issuer', signer?.subjectName],
    ['issuer', signer?.issuerName],
    ['enrollmentGroupId', enrollmentGroup?.enrollmentGroupId],
  ];
  for (const [kind, value] of candidates) {
    if (!value) continue;
    const hit = snapshot.entries.get(denyKey(kind, value));
    if (hit) return hit;
  }
  return undefined;
}
