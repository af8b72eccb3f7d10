/** EK claims on Cosmos: the `endorsementKeys` container, one document (and partition) an EK, its SHA-256 the id. */
import { CONTAINERS } from '../../containers';
import { ConflictError } from '../../errors';
import type { DocumentContainer, DocumentStore } from '../../ports';
import type { EkClaim, EkClaimRepository } from '../ek-claims';

export class CosmosEkClaimRepository implements EkClaimRepository {
  private readonly container: DocumentContainer<EkClaim>;

  constructor(store: DocumentStore) {
    this.container = store.container<EkClaim>(CONTAINERS.endorsementKeys.name);
  }

  create(claim: EkClaim): Promise<EkClaim> {
    return this.container.create(claim);
  }

  read(ekHash: string): Promise<EkClaim | undefined> {
    return this.container.read(ekHash, ekHash);
  }

  async delete(ekHash: string, etag: string): Promise<void> {
    try {
      await this.container.delete(ekHash, ekHash, etag);
    } catch (err) {
      // Changed since it was read: deleted and claimed again by another row, maybe another maker's. Not ours to give.
      if (!(err instanceof ConflictError)) throw err;
    }
  }
}
