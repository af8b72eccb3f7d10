/**
 * A change written under the etag it was read with, made safe to send again. After a lost answer the retry meets
 * 412 — our own first try moved the etag — so the thing is read again: already as wanted, that is the write done
 * (ours, or another's to the same end); changed otherwise by another writer, the change is made again on what was
 * read. Gone meanwhile: nothing to change (undefined).
 */
import { ConflictError } from '../errors';

const ROUNDS = 3;

export async function writeUnderEtag<T>(
  retried: <U>(call: () => Promise<U>) => Promise<U>,
  first: T,
  write: (current: T) => Promise<T>,
  read: () => Promise<T | undefined>,
  isDone: (current: T) => boolean,
): Promise<T | undefined> {
  let current = first;
  for (let round = 1; ; round++) {
    try {
      return await retried(() => write(current));
    } catch (err) {
      if (!(err instanceof ConflictError) || round >= ROUNDS) throw err;
    }
    const fresh = await retried(read);
    if (!fresh || isDone(fresh)) return fresh;
    current = fresh;
  }
}
