/** The inventory's container, typed. */
import type { CertificateRecord } from '../certificates/record';
import { CONTAINERS } from '../containers';
import type { DocumentStore, StoredDocument } from '../ports';

export type StoredCertificate = CertificateRecord & StoredDocument;

export function certificates(store: DocumentStore) {
  return store.container<StoredCertificate>(CONTAINERS.certificates.name);
}
