/**
 * A clock a test moves by hand. Given to the simulator's quotas, it makes throttling exact: a bucket spent stays
 * spent until the test advances time, however fast or slow the machine runs the calls in between.
 */
export interface ManualClock {
  now: () => number;
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}
