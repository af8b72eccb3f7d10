/** One EK, one registration ID: the claims the import makes and the reconciliation pass audits, by SHA-256 of the EK. */
import { CONTAINERS } from '../containers';
import type { DocumentStore, StoredDocument } from '../ports';

export interface EkClaim extends StoredDocument {
  registrationId: string;
  manufacturerId?: string;
  /** The import job that claimed it, or `reconciliation`. */
  jobId: string;
  line: number;
}

export const ekClaims = (store: DocumentStore) => store.container<EkClaim>(CONTAINERS.endorsementKeys.name);
