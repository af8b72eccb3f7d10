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

/**
 * A write with no etag — a create: what it names was not there when read. Azure DPS answers a put without If-Match
 * that names an existing enrollment or group 409 instead of writing over it (SDK threads: azure-iot-sdk-node#165,
 * azure-iot-sdk-csharp#3076, azure-sdk-for-python#35187; the local DPS writes over it instead), so the retry after a
 * lost answer meets our own first try. A 409 is judged by reading what DPS holds: ours (`isOurs`) is the write done;
 * anything else was written by another since the read, and is answered `taken` for the caller to treat as found.
 */
export async function createOrJudge<T>(
  retried: <U>(call: () => Promise<U>) => Promise<U>,
  create: () => Promise<T>,
  read: () => Promise<T | undefined>,
  isOurs: (held: T) => boolean,
): Promise<{ written: T } | { taken: T }> {
  for (let round = 1; ; round++) {
    try {
      return { written: await retried(create) };
    } catch (err) {
      if (!(err instanceof ConflictError) || err.status !== 409 || round >= ROUNDS) throw err;
    }
    const held = await retried(read);
    if (held) return isOurs(held) ? { written: held } : { taken: held };
    // Gone again between the 409 and the read: created anew.
  }
}
