/**
 * The append-only audit trail of every change to enrollments and hubs: one document per change, created (never
 * replaced or deleted by the code), partitioned by day, with what the thing was before and after.
 */
import { randomUUID } from 'node:crypto';

import { CONTAINERS } from './containers';
import { ConflictError } from './errors';
import type { DocumentStore, StoredDocument } from './ports';

export interface AuditRecord {
  /** Who or what made the change: an incident, an import job, a sweep. */
  actor: string;
  action: string;
  target: {
    kind:
      | 'enrollment'
      | 'enrollmentGroup'
      | 'device'
      | 'registration'
      | 'denyList'
      | 'finding'
      | 'registryDevice'
      | 'certificateAuthority'
      | 'incident';
    id: string;
    hub?: string;
    /** A bulk change: every ID it touched. */ ids?: string[];
  };
  before?: unknown;
  after?: unknown;
}

export interface AuditDocument extends StoredDocument, AuditRecord {
  day: string;
  at: string;
}

/**
 * Appends a record, once. With `id`, the same change recorded again (a step replayed after a crash) is recorded once.
 */
export async function audit(store: DocumentStore, record: AuditRecord, now = new Date(), id?: string): Promise<void> {
  const at = now.toISOString();
  try {
    await store
      .container<AuditDocument>(CONTAINERS.audit.name)
      .create({ id: id ?? randomUUID(), day: at.slice(0, 10), at, ...record });
  } catch (err) {
    // A conflict is this very record: written before under the caller's id, or under a fresh id by our own earlier
    // try whose answer was lost (the store retries a create after a dropped connection).
    if (!(err instanceof ConflictError)) throw err;
  }
}
