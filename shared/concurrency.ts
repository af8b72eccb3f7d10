/**
 * Runs `work` on every item with at most `limit` in flight (I/O-bound calls that should not all start at once). After
 * a failure no further item is started, and the items in flight are let finish before the first failure is thrown:
 * nothing runs on behind a caller that has already heard it failed (a share that ended, a lease let go).
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const failures = await forEachLimitedSettled(items, limit, work);
  if (failures.length) throw failures[0];
}

/**
 * As `forEachLimited`, answering every failure instead of throwing the first (the caller chooses which one counts).
 * Items after the first failure are not started; their work is left for the caller's next try.
 */
export async function forEachLimitedSettled<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<unknown[]> {
  let next = 0;
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(Math.max(1, limit), items.length) }, async () => {
      while (next < items.length && failures.length === 0) {
        try {
          await work(items[next++]);
        } catch (err) {
          failures.push(err);
        }
      }
    }),
  );
  return failures;
}
