/** Documents held by incidents: the holders kept in the document and changed under its etag, the last one deleting it. */
import { ConflictError } from '../../errors';
import type { DocumentContainer, StoredDocument } from '../../ports';

/** Cosmos ids may not hold / \ ? #. */
export const safeId = (id: string) => id.replace(/[/\\?#]/g, '_');

/** Adds or removes a holder of one document, under its etag; `create` makes it when absent. */
export async function changeHolders<T extends StoredDocument & { holders: string[] }>(
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

export const add = (holder: string) => (holders: string[]) =>
  holders.includes(holder) ? holders : [...holders, holder];
export const remove = (holder: string) => (holders: string[]) => holders.filter((h) => h !== holder);
