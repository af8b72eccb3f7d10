/**
 * Time that moves only when every waiter sleeps: `sleep(ms)` parks the caller at now + ms, and `run` advances the
 * clock to the earliest parked caller once everything else has settled. Concurrent callers of a pacer then wake in
 * a fixed order at exact times, however fast the machine is. For pure code and in-memory ports only: real I/O is not
 * something it can wait for.
 */
export interface VirtualTime {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Runs `work` to its end, moving time forward whenever nothing but sleepers is left. */
  run<T>(work: Promise<T>): Promise<T>;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export function virtualTime(start = 0): VirtualTime {
  let t = start;
  let seq = 0;
  const parked: Array<{ at: number; seq: number; wake: () => void }> = [];
  return {
    now: () => t,
    sleep: (ms) =>
      new Promise<void>((wake) => {
        parked.push({ at: t + Math.max(0, ms), seq: seq++, wake });
      }),
    async run<T>(work: Promise<T>): Promise<T> {
      let done = false;
      const result = work.finally(() => {
        done = true;
      });
      result.catch(() => undefined); // a failure is the caller's to see, once `run` answers it, not an unhandled one
      for (;;) {
        await settle();
        if (done) return result;
        if (parked.length === 0) {
          await settle();
          if (done) return result;
          if (parked.length === 0) throw new Error('nothing sleeps and nothing finishes: the work is stuck');
          continue;
        }
        parked.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = parked.shift() as (typeof parked)[number];
        t = Math.max(t, next.at);
        next.wake();
      }
    },
  };
}
