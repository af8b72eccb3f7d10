/** Learned paces on Cosmos: one small document per service in the `checkpoints` container (id = the service's key). */
import { CONTAINERS } from '../../containers';
import { ConflictError } from '../../errors';
import type { DocumentContainer, DocumentStore, StoredDocument } from '../../ports';
import type { PaceRepository } from '../pacer';
import type { Pace } from '../rules/pace';

type PaceDocument = StoredDocument & { kind: 'pace'; pace: Pace };

export class CosmosPaceRepository implements PaceRepository {
  private readonly container: DocumentContainer<PaceDocument>;

  constructor(store: DocumentStore) {
    this.container = store.container<PaceDocument>(CONTAINERS.checkpoints.name);
  }

  async update(key: string, change: (current: Pace | undefined) => Pace): Promise<Pace> {
    for (;;) {
      const current = await this.container.read(key, key);
      const next: PaceDocument = { ...(current ?? { id: key, kind: 'pace' }), pace: change(current?.pace) };
      try {
        return (await (current ? this.container.replace(next) : this.container.create(next))).pace;
      } catch (err) {
        // Another instance wrote first (or our own write's answer was lost and the store tried again): read again.
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }
}
