/**
 * The append-only audit trail of every change to enrollments and hubs: one document per change, created (never
 * replaced or deleted by the code), partitioned by day, with what the thing was before and after, and when (`at`).
 *
 * A record written once under a stable id (a change a retry or a replayed share may record again) is filed under the
 * day of the work it belongs to — an incident's receipt, an import job's creation, a group's claim — not the day of
 * the write: Cosmos DB refuses a second create of an id only within one partition, so a replay after midnight UTC
 * filed under its own day would be written twice. `at` stays the real time; `day` says where a record is filed.
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
  /** The partition: the UTC day of the write, or for a record written once, the day of the work it belongs to. */
  day: string;
  at: string;
}

/** A record written once: its stable id, and the day (YYYY-MM-DD, UTC) of the work it belongs to, its filing day. */
export interface Once {
  id: string;
  day: string;
}

/** The UTC day (YYYY-MM-DD) of an ISO time, the filing day of the work that began then. */
export function auditDay(time: string | Date): string {
  const ms = typeof time === 'string' ? Date.parse(time) : time.getTime();
  if (Number.isNaN(ms)) throw new Error(`not a time to file audit records under: ${String(time)}`);
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Appends a record. With `once`, the same change recorded again (a step replayed after a crash, on any later day) is
 * recorded once: the same id in the same partition, the work's day.
 */
export async function audit(
  store: DocumentStore,
  record: AuditRecord,
  now = new Date(),
  /** A promise where the filing day takes a read (an incident's: shared/incidents/deps.ts `onceFor`). */
  pending?: Once | PromiseLike<Once>,
): Promise<void> {
  const at = now.toISOString();
  const once = await pending;
  if (once && !/^\d{4}-\d{2}-\d{2}$/.test(once.day)) throw new Error(`audit ${once.id}: bad filing day ${once.day}`);
  try {
    await store
      .container<AuditDocument>(CONTAINERS.audit.name)
      .create({ id: once?.id ?? randomUUID(), day: once?.day ?? at.slice(0, 10), at, ...record });
  } catch (err) {
    // A conflict is this very record: written before under the caller's id, or under a fresh id by our own earlier
    // try whose answer was lost (the store retries a create after a dropped connection).
    if (!(err instanceof ConflictError)) throw err;
  }
}
