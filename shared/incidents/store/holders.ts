/** Documents held by incidents: the holders kept in the document and changed under its etag, the last one deleting it. */
import { ConflictError } from '../../errors';
import type { DocumentContainer, StoredDocument } from '../../ports';

/** JSON with keys in order and undefined fields dropped: two documents compared by what a store keeps of them. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, canonical(v)]),
    );
  return value;
}

/**
 * Whether the stored document is what we wrote — field for field, the store's own `_` fields (etag included) left
 * out: how a write whose answer was lost is known as ours when its retry meets 409 or 412.
 */
export function holdsWhatWeWrote(stored: object, written: object): boolean {
  const ours = (doc: object) => canonical(Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_'))));
  return JSON.stringify(ours(stored)) === JSON.stringify(ours(written));
}

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
      const made = create();
      try {
        return { doc: await container.create(made), created: true, emptied: false };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        // 409: another writer's create, or ours whose answer was lost (the store sent it again): the stored
        // document tells, and ours counts as created by us, once.
        const stored = await container.read(id, partitionKey);
        if (stored && holdsWhatWeWrote(stored, made)) return { doc: stored, created: true, emptied: false };
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
