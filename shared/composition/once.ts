/** Built once, on first use: the composition root's way to make each adapter and repository once per process. */

export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make().catch((err: unknown) => {
      made = undefined; // a failed build is tried again next time
      throw err;
    });
    return made;
  };
}

export function onceSync<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}
