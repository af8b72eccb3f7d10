/**
 * The audit trail's second copy, which the app cannot rewrite: every record created in the `audit` container is
 * first appended, as one NDJSON line, to an append blob of the `audit-trail` container — a container under a
 * time-based immutability policy with protected append writes in Azure (infra/modules/storage.bicep), so blocks can
 * be added and nothing changed or deleted. Appended before the document is created: a crash in between leaves the
 * line without the document (the line carries the record's id), never the document without the line.
 */
import { randomUUID } from 'node:crypto';

import { CONTAINERS } from './containers';
import type { BlobsPort, DocumentContainer, DocumentStore, StoredDocument } from './ports';

export const AUDIT_TRAIL_CONTAINER = 'audit-trail';
/** An append blob takes at most 50,000 blocks: a writer moves to its next blob before that. */
const BLOCKS_PER_BLOB = 45_000;

/** One writer's blobs: `<day>/<hour>-<writer>-<n>.ndjson`, a new one each hour and every BLOCKS_PER_BLOB lines. */
function blobNames(writer = randomUUID().slice(0, 8)) {
  let key = '';
  let n = 0;
  let lines = 0;
  return (at: string) => {
    const hour = `${at.slice(0, 10)}/${at.slice(11, 13)}`;
    if (hour !== key || lines >= BLOCKS_PER_BLOB) {
      n = hour === key ? n + 1 : 0;
      key = hour;
      lines = 0;
    }
    lines++;
    return `${hour}-${writer}-${n}.ndjson`;
  };
}

export function withAuditTrail(store: DocumentStore, blobs: () => Promise<BlobsPort>): DocumentStore {
  const nameFor = blobNames();
  return {
    container<T extends StoredDocument = StoredDocument>(name: string): DocumentContainer<T> {
      const inner = store.container<T>(name);
      if (name !== CONTAINERS.audit.name) return inner;
      const appendOnly = (what: string) => () =>
        Promise.reject(new Error(`the audit trail is append-only: ${what} is not allowed on ${name}`));
      return {
        read: (id, partitionKey) => inner.read(id, partitionKey),
        query: (sql, parameters, options) => inner.query(sql, parameters, options),
        async create(doc: T): Promise<T> {
          const at = typeof doc.at === 'string' ? doc.at : new Date().toISOString();
          await (await blobs()).append(AUDIT_TRAIL_CONTAINER, nameFor(at), `${JSON.stringify(doc)}\n`);
          return inner.create(doc);
        },
        upsert: appendOnly('upsert'),
        replace: appendOnly('replace'),
        delete: appendOnly('delete'),
      };
    },
  };
}
