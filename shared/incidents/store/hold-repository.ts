/**
 * HoldRepository on the document store: the incidents holding each disabled thing kept in its document, changed under
 * its etag. The last holder to let go of a thing to put back leaves a pending restore in the document until the
 * thing is back (repositories.ts `Hold.restoring`), so the restore survives a release that stops half-way.
 */
import { CONTAINERS } from '../../containers';
import { ConflictError } from '../../errors';
import type { DocumentContainer, DocumentStore, StoredDocument } from '../../ports';
import { type Hold, HoldBusyError, type HoldRepository, type Restore } from '../repositories';
import { holdsWhatWeWrote, safeId } from './holders';

type HoldDoc = StoredDocument & Hold;

/** The hold as the domain knows it: none of the store's own fields. */
const plain = ({ id, holders, restore, restoring }: HoldDoc): Hold => ({
  id,
  holders,
  ...(restore ? { restore } : {}),
  ...(restoring ? { restoring } : {}),
});

/** Writes under the etag read; a write another writer got to first (412) answers undefined: read again. */
async function underEtag<T>(write: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    return undefined;
  }
}

export class CosmosHoldRepository implements HoldRepository {
  private readonly container: DocumentContainer<HoldDoc>;

  constructor(store: DocumentStore) {
    this.container = store.container<HoldDoc>(CONTAINERS.holds.name);
  }

  async acquire(id: string, holder: string, restoreIfNew: Restore | undefined, nowMs: number): Promise<Hold> {
    const key = safeId(id);
    for (;;) {
      const doc = await this.container.read(key, key);
      if (!doc) {
        const made: HoldDoc = { id: key, holders: [holder], ...(restoreIfNew ? { restore: restoreIfNew } : {}) };
        const created = await underEtag(() => this.container.create(made));
        if (created) return plain(created);
        // 409: another writer's create, or ours whose answer was lost (the store sent it again): the stored
        // document tells, and ours counts as created by us, once.
        const stored = await this.container.read(key, key);
        if (stored && holdsWhatWeWrote(stored, made)) return plain(stored);
        continue;
      }
      if (doc.restoring && doc.restoring.until > nowMs)
        throw new HoldBusyError(id, doc.restoring.by, doc.restoring.until - nowMs);
      if (!doc.restoring && doc.holders.includes(holder)) return plain(doc);
      // A new holder, or a pending restore whose claim lapsed, taken over: the thing is as the new holder reads it.
      const next: HoldDoc = { ...plain(doc), holders: [...doc.holders, holder], _etag: doc._etag };
      delete next.restoring;
      const written = await underEtag(() => this.container.replace(next));
      if (written) return plain(written);
    }
  }

  async release(id: string, holder: string, claimUntil: number): Promise<Hold | undefined> {
    const key = safeId(id);
    for (;;) {
      const doc = await this.container.read(key, key);
      if (!doc) return undefined;
      const claim = { restoring: { by: holder, until: claimUntil } };
      if (doc.restoring) {
        // A release run again: its pending restore answered again, to be finished.
        if (doc.restoring.by !== holder) return undefined;
        const renewed = await underEtag(() => this.container.replace({ ...doc, ...claim }));
        if (renewed) return plain(renewed);
        continue;
      }
      if (!doc.holders.includes(holder)) return undefined;
      const holders = doc.holders.filter((h) => h !== holder);
      if (holders.length) {
        if (await underEtag(() => this.container.replace({ ...doc, holders }))) return undefined;
        continue;
      }
      if (!doc.restore) {
        // Nothing to put back: gone at once. Only this exact version goes: a holder added meanwhile moved the etag.
        if (await underEtag(async () => (await this.container.delete(key, key, doc._etag), true))) return plain(doc);
        continue;
      }
      const pending = await underEtag(() => this.container.replace({ ...doc, holders, ...claim }));
      if (pending) return plain(pending);
    }
  }

  async restored(id: string, holder: string): Promise<void> {
    const key = safeId(id);
    for (;;) {
      const doc = await this.container.read(key, key);
      if (!doc?.restoring || doc.restoring.by !== holder) return;
      if (await underEtag(async () => (await this.container.delete(key, key, doc._etag), true))) return;
    }
  }
}
