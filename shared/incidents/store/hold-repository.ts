/** HoldRepository on the document store: the incidents holding each disabled thing kept in its document. */
import { CONTAINERS } from '../../containers';
import type { DocumentContainer, DocumentStore, StoredDocument } from '../../ports';
import type { Hold, HoldRepository, Restore } from '../repositories';
import { add, changeHolders, remove, safeId } from './holders';

type HoldDoc = StoredDocument & Hold;

export class CosmosHoldRepository implements HoldRepository {
  private readonly container: DocumentContainer<HoldDoc>;

  constructor(store: DocumentStore) {
    this.container = store.container<HoldDoc>(CONTAINERS.holds.name);
  }

  async acquire(id: string, holder: string, restoreIfNew: Restore | undefined): Promise<Hold> {
    const key = safeId(id);
    const { doc } = await changeHolders(this.container, key, key, add(holder), () => ({
      id: key,
      holders: [holder],
      ...(restoreIfNew ? { restore: restoreIfNew } : {}),
    }));
    return doc as Hold;
  }

  async release(id: string, holder: string): Promise<Hold | undefined> {
    const key = safeId(id);
    const { doc, emptied } = await changeHolders(this.container, key, key, remove(holder));
    return emptied ? doc : undefined;
  }
}
