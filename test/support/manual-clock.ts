/**
 * A clock a test moves by hand. It is the use cases' Clock (`now()`), and gives the simulator's quotas the same time
 * in milliseconds (`millis`): throttling is then exact, a bucket spent stays spent until the test advances time,
 * however fast or slow the machine runs the calls in between.
 */
import type { Clock } from '../../shared/ports';

export interface ManualClock extends Clock {
  millis: () => number;
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let t = start;
  return {
    now: () => new Date(t),
    millis: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}
