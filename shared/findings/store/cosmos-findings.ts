/** Findings on Cosmos: the `findings` container, partitioned by kind. */
import { CONTAINERS } from '../../containers';
import type { DocumentContainer, DocumentStore } from '../../ports';
import type { FindingKind, FindingRepository, StoredFinding } from '../repository';

export class CosmosFindingRepository implements FindingRepository {
  private readonly container: DocumentContainer<StoredFinding>;

  constructor(store: DocumentStore) {
    this.container = store.container<StoredFinding>(CONTAINERS.findings.name);
  }

  ofKind(kind: FindingKind, pageSize: number, continuationToken?: string) {
    return this.container.query(
      'SELECT * FROM c WHERE c.kind = @kind',
      { '@kind': kind },
      { partitionKey: kind, maxItems: pageSize, continuationToken },
    );
  }

  get(kind: FindingKind, id: string) {
    return this.container.read(id, kind);
  }

  replace(finding: StoredFinding) {
    return this.container.replace(finding);
  }
}
