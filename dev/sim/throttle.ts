/**
 * How DPS counts a bulk call against its operations quota. Microsoft does not say: `perEnrollment` (each of its up to
 * 10 enrollments is an operation, the cautious reading and the default) or `perCall` (the call is one operation).
 */
export type BulkCounting = 'perEnrollment' | 'perCall';

/** The operations a bulk call of `enrollments` costs under `counting`. */
export function bulkOperations(counting: BulkCounting, enrollments: number): number {
  return counting === 'perCall' ? 1 : enrollments;
}

/**
 * A token bucket per quota: `perMinute` tokens refill evenly; a burst of `burstSeconds` worth may be spent at once.
 * When the bucket cannot pay, the caller answers 429 with the returned Retry-After (whole seconds, as the services send).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly capacity: number;

  constructor(
    readonly perMinute: number,
    burstSeconds = 10,
    private readonly now: () => number = Date.now,
  ) {
    this.capacity = Math.max(1, (perMinute / 60) * burstSeconds);
    this.tokens = this.capacity;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 60_000) * this.perMinute);
    this.last = t;
  }

  /**
   * Takes `n` tokens, or answers how many seconds until it could. A request larger than the burst is let through
   * once the bucket is full and leaves it in debt, so the long-run rate stays exactly `perMinute`.
   */
  take(n = 1): { ok: true } | { ok: false; retryAfterSeconds: number } {
    this.refill();
    const needed = Math.min(n, this.capacity);
    if (this.tokens >= needed) {
      this.tokens -= n;
      return { ok: true };
    }
    const waitMs = ((needed - this.tokens) / this.perMinute) * 60_000;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }
}

/**
 * At most `limit` calls per key in any `windowMs` (a sliding window): DPS's "device polling operation, 5 per 10 s per
 * device". Keys whose calls have all left the window are forgotten, so memory follows the devices polling now.
 */
export class SlidingWindowLimit {
  private readonly calls = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const t = this.now();
    const recent = (this.calls.get(key) ?? []).filter((at) => at > t - this.windowMs);
    if (recent.length >= this.limit) {
      this.calls.set(key, recent);
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((recent[0] + this.windowMs - t) / 1000)) };
    }
    recent.push(t);
    this.calls.set(key, recent);
    if (this.calls.size > 10_000) this.forgetIdle(t);
    return { ok: true };
  }

  private forgetIdle(t: number): void {
    for (const [key, at] of this.calls) if (at[at.length - 1] <= t - this.windowMs) this.calls.delete(key);
  }
}
