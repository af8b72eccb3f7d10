/**
 * Waits out a service's throttling: a call that fails with ThrottledError is tried again after the service's
 * Retry-After (or an exponential backoff with jitter when it sent none), up to `attempts` times. Other errors pass
 * through at once. (Libraries such as p-retry do not read Retry-After; this is the one rule we need.)
 */
import { ThrottledError } from './errors';

export interface RetryOptions {
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  onThrottle?: (waitMs: number, attempt: number) => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function retryThrottled<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 8, baseDelayMs = 1000, maxDelayMs = 60_000, sleep = realSleep } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ThrottledError) || attempt >= attempts) throw err;
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      const wait = err.retryAfterMs ?? backoff;
      options.onThrottle?.(wait, attempt);
      await sleep(wait);
    }
  }
}
