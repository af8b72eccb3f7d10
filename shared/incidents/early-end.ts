/**
 * How a share ends before its work is done without failing: a retry that would have waited past the share's deadline
 * (shared/retry.ts OutOfTimeError) or a hold another incident is putting back (HoldBusyError). The share keeps what
 * it checkpointed and asks to be followed when it is worth coming back; anything else still fails it.
 */
import { forEachLimitedSettled } from '../concurrency';
import type { Deadline } from '../ports';
import { OutOfTimeError } from '../retry';
import { type IncidentDeps, millis } from './deps';
import { HoldBusyError } from './repositories';

/**
 * Every step of a phase run to its end before the share goes on or fails — none left running behind a lease let go.
 * A failure is thrown after all have settled: a real one before running out of time, which only ends the share.
 */
export async function settled<T>(work: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(work);
  throwRealFirst(results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])));
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** The share's deadline, on the share's clock. */
export const untilDeadline = (deps: IncidentDeps, stopAt: number): Deadline => ({ stopAt, now: () => millis(deps) });

/**
 * A batch's items, at most `limit` at once, as `settled` does steps: after a failure none is started, those in flight
 * finish, then the real failure is thrown before running out of time — so a dependency found down by one item is
 * waited for (outage-wait.ts) even when another item ran out of time meanwhile. An item whose turn comes at or past
 * `until.stopAt` is not started (OutOfTimeError, to come back at once): a batch begun just before the deadline would
 * otherwise run all its items, `limit` at a time, long past it. The batch is not checkpointed and the next share does
 * it again from its start — every item's action is idempotent — so what overruns the deadline is only the items
 * already in flight.
 */
export async function settledEach<T>(
  items: readonly T[],
  limit: number,
  until: Deadline,
  work: (item: T) => Promise<void>,
) {
  throwRealFirst(
    await forEachLimitedSettled(items, limit, (item) => {
      const at = until.now();
      if (at >= until.stopAt) throw new OutOfTimeError(new Error('the share reached its deadline'), at);
      return work(item);
    }),
  );
}

function throwRealFirst(failures: unknown[]): void {
  const real = failures.find((e) => !(e instanceof OutOfTimeError || e instanceof HoldBusyError));
  if (failures.length) throw real ?? failures[0];
}

/** When a share that stopped early should be followed: when its try would have come, or the hold is free. */
export function stoppedEarly(err: unknown, nowMs: number): number | undefined {
  if (err instanceof OutOfTimeError) return Math.max(0, err.resumeAt - nowMs);
  if (err instanceof HoldBusyError) return err.retryAfterMs;
  return undefined;
}
