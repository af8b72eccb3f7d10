/**
 * Counting a containment from the outside, for tests and benches: the audit records an incident wrote, per action
 * and per target (read page by page from the audit container), and how many targets have exactly one, none or more.
 * The simulator's own side — devices removed once / left / twice — is dev/sim/removals.ts.
 */
import type { AuditDocument } from '../../shared/audit';
import { CONTAINERS } from '../../shared/containers';
import type { DocumentStore } from '../../shared/ports';

/** Every audit record of one actor (`incident:<id>`), across days. */
export async function auditRecords(store: DocumentStore, actor: string): Promise<AuditDocument[]> {
  const container = store.container<AuditDocument>(CONTAINERS.audit.name);
  const records: AuditDocument[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await container.query(
      'SELECT * FROM c WHERE c.actor = @actor',
      { '@actor': actor },
      { maxItems: 1000, continuationToken },
    );
    records.push(...page.items);
    continuationToken = page.continuationToken;
  } while (continuationToken);
  return records;
}

/** Records of one action per target (lower-cased; a bulk record counts for each ID it names). */
export function perTarget(records: AuditDocument[], action: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records.filter((a) => a.action === action))
    for (const id of r.target.ids ?? [r.target.id])
      counts.set(id.toLowerCase(), (counts.get(id.toLowerCase()) ?? 0) + 1);
  return counts;
}

export interface AuditTally {
  once: number;
  missing: string[];
  twice: string[];
  /** Recorded, but not one of the targets. */
  others: string[];
}

/** How the targets fared in one action's records: exactly once is right, missing or twice is not. */
export function tallyAudit(counts: Map<string, number>, targets: string[]): AuditTally {
  const wanted = new Set(targets.map((t) => t.toLowerCase()));
  const tally: AuditTally = { once: 0, missing: [], twice: [], others: [] };
  for (const t of wanted) {
    const n = counts.get(t) ?? 0;
    if (n === 1) tally.once++;
    else if (n === 0) tally.missing.push(t);
    else tally.twice.push(t);
  }
  tally.others = [...counts.keys()].filter((k) => !wanted.has(k));
  return tally;
}
