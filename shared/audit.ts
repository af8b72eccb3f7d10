/**
 * The append-only audit trail of every change to enrollments and hubs: one document per change, created (never
 * replaced or deleted by the code), partitioned by day, with what the thing was before and after.
 */
import { randomUUID } from 'node:crypto';
import { CONTAINERS } from './containers';
import type { DocumentStore, StoredDocument } from './ports';

export interface AuditRecord {
  /** Who or what made the change: an incident, an import job, a sweep. */
  actor: string;
  action: string;
  target: { kind: 'enrollment' | 'enrollmentGroup' | 'device' | 'registration' | 'denyList' | 'finding'; id: string; hub?: string; /** A bulk change: every ID it touched. */ ids?: string[] };
  before?: unknown;
  after?: unknown;
}

export interface AuditDocument extends StoredDocument, AuditRecord {
  day: string;
  at: string;
}

export async function audit(store: DocumentStore, record: AuditRecord, now = new Date()): Promise<void> {
  const at = now.toISOString();
  await store.container<AuditDocument>(CONTAINERS.audit.name).create({ id: randomUUID(), day: at.slice(0, 10), at, ...record });
}
