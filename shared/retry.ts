/**
 * Two retry rules. `retryThrottled` waits out a service's throttling: a ThrottledError is tried again after the
 * service's Retry-After (or an exponential backoff with jitter when it sent none), up to `attempts` times; other
 * errors pass through at once. `retryIdempotent` also tries again after a TransientError (a lost connection, 408,
 * 449, 5xx) — only for a call that may safely run twice: a read, a put of the same thing, a create whose "already
 * exists" the caller reads as its own earlier work, a write under an etag whose 412 the caller resolves.
 * (Libraries such as p-retry do not read Retry-After; this is the one rule we need.)
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
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with "equal jitter" (half fixed, half random), as Azure's transient-fault guidance suggests. */
function backoff(base: number, max: number, attempt: number, random: () => number): number {
  return Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + random() / 2);
}

async function retry<T>(call: () => Promise<T>, options: RetryOptions, transient: boolean): Promise<T> {
  const { attempts = 8, transientAttempts = 6, baseDelayMs = 1000, maxDelayMs = 60_000, sleep = realSleep } = options;
  const random = options.random ?? Math.random;
  let throttled = 0;
  let failed = 0;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (err instanceof ThrottledError && ++throttled < attempts) {
        const wait = err.retryAfterMs ?? backoff(baseDelayMs, maxDelayMs, throttled, random);
        options.onThrottle?.(wait, throttled);
        await sleep(wait);
        continue;
      }
      if (transient && err instanceof TransientError && ++failed < transientAttempts) {
        const wait = backoff(options.transientBaseDelayMs ?? 200, 10_000, failed, random);
        options.onTransient?.(wait, failed, err);
        await sleep(wait);
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
