/** The reconciliation checkpoint on Cosmos: one document of the `checkpoints` container, its own partition. */
import { CONTAINERS } from '../../containers';
import type { DocumentContainer, DocumentStore } from '../../ports';
import { RECONCILE_CHECKPOINT, type ReconcileCheckpoint, type ReconcileCheckpointRepository } from '../reconcile-store';

export class CosmosReconcileCheckpointRepository implements ReconcileCheckpointRepository {
  private readonly container: DocumentContainer<ReconcileCheckpoint>;

  constructor(store: DocumentStore) {
    this.container = store.container<ReconcileCheckpoint>(CONTAINERS.checkpoints.name);
  }

  read(): Promise<ReconcileCheckpoint | undefined> {
    return this.container.read(RECONCILE_CHECKPOINT, RECONCILE_CHECKPOINT);
  }

  save(checkpoint: ReconcileCheckpoint): Promise<ReconcileCheckpoint> {
    return this.container.upsert(checkpoint);
  }
}
