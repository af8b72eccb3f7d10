/** HoldRepository and DenyListRepository on the document store: holders kept in the document, changed under its etag. */
import { type DenyEntry, denyKey } from '../allocation/deny-list';
import type { DenyListRepository, Hold, HoldRepository, Restore } from '../breach/repositories';
import { CONTAINERS } from '../containers';
import { ConflictError } from '../errors';
import type { DocumentContainer, DocumentStore, StoredDocument } from '../ports';

/** Cosmos ids may not hold / \ ? #. */
const safeId = (id: string) => id.replace(/[/\\?#]/g, '_');

/** Adds or removes a holder of one document, under its etag; `create` makes it when absent. */
async function changeHolders<T extends StoredDocument & { holders: string[] }>(
  container: DocumentContainer<T>,
  id: string,
  partitionKey: string,
  change: (holders: string[]) => string[],
  create?: () => T,
): Promise<{ doc?: T; created: boolean; emptied: boolean }> {
  for (;;) {
    const doc = await container.read(id, partitionKey);
    if (!doc) {
      if (!create) return { created: false, emptied: false };
      try {
        return { doc: await container.create(create()), created: true, emptied: false };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        continue;
      }
    }
    const holders = change(doc.holders ?? []);
    if (holders.length === (doc.holders ?? []).length && holders.every((h, i) => h === doc.holders[i]))
      return { doc, created: false, emptied: false };
    try {
      if (holders.length === 0) {
        // Only this exact version goes: a holder added meanwhile changed the etag, and the delete fails.
        await container.delete(id, partitionKey, doc._etag);
        return { doc, created: false, emptied: true };
      }
      return { doc: await container.replace({ ...doc, holders }), created: false, emptied: false };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
}

const add = (holder: string) => (holders: string[]) => (holders.includes(holder) ? holders : [...holders, holder]);
const remove = (holder: string) => (holders: string[]) => holders.filter((h) => h !== holder);

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

type DenyDoc = StoredDocument & DenyEntry & { holders: string[] };

export class CosmosDenyListRepository implements DenyListRepository {
  private readonly container: DocumentContainer<DenyDoc>;

  constructor(store: DocumentStore) {
    this.container = store.container<DenyDoc>(CONTAINERS.denyList.name);
  }

  private static id(e: DenyEntry): string {
    return safeId(denyKey(e.kind, e.value));
  }

  async hold(entries: DenyEntry[], incidentId: string): Promise<DenyEntry[]> {
    const createdAt = new Date().toISOString();
    const results = await Promise.all(
      entries.map((e) =>
        changeHolders(this.container, CosmosDenyListRepository.id(e), e.kind, add(incidentId), () => ({
          ...e,
          id: CosmosDenyListRepository.id(e),
          createdAt,
          holders: [incidentId],
        })),
      ),
    );
    return entries.filter((_, i) => results[i].created);
  }

  async release(entries: DenyEntry[], incidentId: string): Promise<DenyEntry[]> {
    const results = await Promise.all(
      entries.map((e) => changeHolders(this.container, CosmosDenyListRepository.id(e), e.kind, remove(incidentId))),
    );
    return entries.filter((_, i) => results[i].emptied);
  }
}
