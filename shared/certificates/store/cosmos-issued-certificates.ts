/** Issued certificates as devices report them: one record a device in the `checkpoints` container (partitioned by id). */
import { CONTAINERS } from '../../containers';
import type { DocumentContainer, DocumentStore } from '../../ports';
import { type IssuedCertificateRecord, type IssuedCertificateRepository, issuedId } from '../issued-certificates';

export class CosmosIssuedCertificateRepository implements IssuedCertificateRepository {
  private readonly records: DocumentContainer<IssuedCertificateRecord>;

  constructor(store: DocumentStore) {
    this.records = store.container<IssuedCertificateRecord>(CONTAINERS.checkpoints.name);
  }

  get(hub: string, deviceId: string) {
    const id = issuedId(hub, deviceId);
    return this.records.read(id, id);
  }

  async put(record: IssuedCertificateRecord) {
    await this.records.upsert(record);
  }

  list(pageSize: number, continuationToken?: string) {
    // The checkpoints container holds other records too: these say what they are.
    return this.records.query('SELECT * FROM c WHERE c.kind = "issuedCertificate"', undefined, {
      maxItems: pageSize,
      continuationToken,
    });
  }
}
