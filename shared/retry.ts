/**
 * Two retry rules. `retryThrottled` waits out a service's throttling: a ThrottledError is tried again after the
 * service's Retry-After (or an exponential backoff with jitter when it sent none), up to `attempts` times; other
 * errors pass through at once. `retryIdempotent` also tries again after a TransientError (a lost connection, 408,
 * 449, 5xx) — only for a call that may safely run twice: a read, a put of the same thing, a create whose "already
 * exists" the caller reads as its own earlier work, a write under an etag whose 412 the caller resolves.
 * (Libraries such as p-retry do not read Retry-After; this is the one rule we need.) Given `stopAt`, no wait that
 * would end past it is started: the caller's time is up, and it hears so (OutOfTimeError) instead of being held.
 */
import { ThrottledError, TransientError } from './errors';

export interface RetryOptions {
  /** Tries in all while throttled. */
  attempts?: number;
  /** Tries in all after transient faults (retryIdempotent), counted apart from throttling. */
  transientAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Backoff for transient faults: short, since a lost answer is usually one dropped connection. */
  transientBaseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** The jitter's source, in [0, 1): a seeded generator in tests. */
  random?: () => number;
  onThrottle?: (waitMs: number, attempt: number) => void;
  onTransient?: (waitMs: number, attempt: number, err: TransientError) => void;
  /** A deadline (ms, read on `now`): a wait that would end past it is not started (OutOfTimeError). */
  stopAt?: number;
  /** The clock `stopAt` is read on: Date.now unless a test gives its own. */
  now?: () => number;
}

/**
 * A try not made: the wait before it would have passed the caller's deadline. `fault` is the last error; `resumeAt`
 * (on the options' clock) is when the try would have been made — when coming back is worth it.
 */
export class OutOfTimeError extends Error {
  constructor(
    readonly fault: Error,
    readonly resumeAt: number,
  ) {
    super(`out of time before the next try (the last fault: ${fault.message})`);
    this.name = 'OutOfTimeError';
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with "equal jitter" (half fixed, half random), as Azure's transient-fault guidance suggests. */
function backoff(base: number, max: number, attempt: number, random: () => number): number {
  return Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + random() / 2);
}

/** The wait before try `failed + 1` after `failed` transient faults: what `retryIdempotent` waits, for a caller that
 * cannot hand it a promise (a stream tried again from where it stopped). */
export function transientWaitMs(failed: number, options: RetryOptions = {}): number {
  return backoff(options.transientBaseDelayMs ?? 200, 10_000, failed, options.random ?? Math.random);
}

async function retry<T>(call: () => Promise<T>, options: RetryOptions, transient: boolean): Promise<T> {
  const { attempts = 8, transientAttempts = 6, baseDelayMs = 1000, maxDelayMs = 60_000, sleep = realSleep } = options;
  const random = options.random ?? Math.random;
  let throttled = 0;
  let failed = 0;
  const pause = async (wait: number, err: Error, told: () => void) => {
    const at = (options.now ?? Date.now)();
    if (options.stopAt !== undefined && at + wait > options.stopAt) throw new OutOfTimeError(err, at + wait);
    told();
    await sleep(wait);
  };
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ThrottledError && ++throttled < attempts) {
        const wait = err.retryAfterMs ?? backoff(baseDelayMs, maxDelayMs, throttled, random);
        await pause(wait, err, () => options.onThrottle?.(wait, throttled));
        continue;
      }
      if (transient && err instanceof TransientError && ++failed < transientAttempts) {
        const wait = transientWaitMs(failed, { ...options, random });
        await pause(wait, err, () => options.onTransient?.(wait, failed, err));
        continue;
      }
      throw err;
    }
  }
}

export function retryThrottled<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  return retry(call, options, false);
}

/** As `retryThrottled`, and transient faults too: for idempotent calls only (see above). */
export function retryIdempotent<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  return retry(call, options, true);
}
