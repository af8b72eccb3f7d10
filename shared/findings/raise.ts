/**
 * Raising a finding once: its id says what it is about (`audit.<code>.<subject>`, `expiry.<thumbprint>.<days>`), so
 * creating it a second time fails and nothing more happens; the first time, its event goes out.
 */
import { CONTAINERS } from '../containers';
import { ConflictError } from '../errors';
import type { DocumentStore, EventsPort, StoredDocument } from '../ports';

export interface FindingBase extends StoredDocument {
  kind: 'audit' | 'expiry' | 'alert';
  code: string;
  raisedAt: string;
}

/** True when the finding is new (created now, event published); false when it was raised before. */
export async function raiseOnce(
  store: DocumentStore,
  events: EventsPort | undefined,
  finding: FindingBase,
  event: { type: string; subject: string; data: Record<string, unknown> },
): Promise<boolean> {
  try {
    await store.container<FindingBase>(CONTAINERS.findings.name).create(finding);
  } catch (err) {
    if (err instanceof ConflictError) return false;
    throw err;
  }
  await events?.publish([{ ...event, time: finding.raisedAt }]);
  return true;
}
