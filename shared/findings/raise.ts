/**
 * Raising a finding once: its id says what it is about (`audit.<code>.<subject>`, `expiry.<thumbprint>.<days>`), so
 * creating it a second time fails and nothing more happens; the first time, its event goes out.
 *
 * The finding is written before its event, and marked `published` after it. A create that meets 409 reads the
 * finding: published, it was raised before; not yet, its raise never got as far as the event — this very create,
 * whose answer was lost and which the store sent again, or an earlier raise that failed or died in between — and
 * this raise tells it. So a finding is never left untold; the price is that a raise dying between the event and
 * the mark, or two raising one finding at the same moment, tell it twice (the event carries `findingId` to drop
 * the second by).
 */
import { CONTAINERS } from '../containers';
import { ConflictError } from '../errors';
import type { DocumentContainer, DocumentStore, EventsPort, StoredDocument } from '../ports';

export interface FindingBase extends StoredDocument {
  kind: 'audit' | 'expiry' | 'alert';
  code: string;
  raisedAt: string;
  /** false from the create until its event went out; absent on findings older than the mark (told when raised). */
  published?: boolean;
}

/** True when this raise told the finding (its event published); false when it was raised and told before. */
export async function raiseOnce(
  store: DocumentStore,
  events: EventsPort | undefined,
  finding: FindingBase,
  event: { type: string; subject: string; data: Record<string, unknown> },
): Promise<boolean> {
  const findings = store.container<FindingBase>(CONTAINERS.findings.name);
  let written: FindingBase | undefined;
  try {
    written = await findings.create({ ...finding, published: false });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    written = await findings.read(finding.id, finding.kind);
    if (written?.published !== false) return false;
  }
  // findingId last: the event's data (a finding's own fields, an alert's) can never stand in for the id to drop by.
  await events?.publish([{ ...event, data: { ...event.data, findingId: finding.id }, time: finding.raisedAt }]);
  await markPublished(findings, written);
  return true;
}

/** Under the etag; read again after a 412 (a suppression meanwhile, or this very mark whose answer was lost). */
async function markPublished(
  findings: DocumentContainer<FindingBase>,
  written: FindingBase | undefined,
): Promise<void> {
  let current = written;
  for (let attempt = 1; current && current.published === false; attempt++) {
    try {
      await findings.replace({ ...current, published: true });
      return;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= 5) throw err;
      current = await findings.read(current.id, current.kind);
    }
  }
}
