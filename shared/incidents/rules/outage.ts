/**
 * How long a step waits for a dependency (a hub, DPS) that stays unreachable past the in-invocation retries (pure). A
 * hub or DPS down for a while (a regional incident) is waited for: the step records the outage and the worker's next
 * share comes after a growing delay (5 s, 10 s, … up to a minute), while the other hubs go on (the phases after a
 * DPS step wait for it: refusing at DPS comes before deleting from the hubs). Past `maxOutageMs` of unbroken outage the step gives up, saying what is unreachable and what is left, and the incident
 * ends `failed` rather than waiting for ever (an admin may re-drive it: redrive.ts).
 */
import type { Waiting } from './step-state';

export const OUTAGE_FIRST_WAIT_MS = 5_000;
export const OUTAGE_LONGEST_WAIT_MS = 60_000;
/** An outage longer than this is no longer waited for: the step fails and says what is left. */
export const DEFAULT_MAX_OUTAGE_MS = 30 * 60_000;

export type OutageVerdict = { wait: Waiting } | { giveUp: string };

/**
 * After a share found the dependency unreachable: how long to wait (`previous` is the outage already recorded, if any), or
 * that the step gives up. `left` says what is left of the step, for the operator.
 */
export function afterOutage(
  previous: Waiting | undefined,
  nowMs: number,
  reason: string,
  left: string,
  maxOutageMs = DEFAULT_MAX_OUTAGE_MS,
): OutageVerdict {
  const since = previous?.since ?? new Date(nowMs).toISOString();
  const tries = (previous?.tries ?? 0) + 1;
  const down = nowMs - Date.parse(since);
  if (down >= maxOutageMs)
    return {
      giveUp: `unreachable since ${since} (${Math.round(down / 1000)} s, ${tries} tries; the last: ${reason}); ${left}`,
    };
  const delay = Math.min(OUTAGE_LONGEST_WAIT_MS, OUTAGE_FIRST_WAIT_MS * 2 ** (tries - 1));
  return { wait: { since, until: new Date(nowMs + delay).toISOString(), tries, reason } };
}

/** How long until the earliest of these waits ends, or undefined when some step is not waiting (go on at once). */
export function soonestEnd(waits: Array<Waiting | undefined>, nowMs: number): number | undefined {
  if (waits.length === 0 || waits.some((w) => !w)) return undefined;
  return Math.max(0, Math.min(...waits.map((w) => Date.parse((w as Waiting).until) - nowMs)));
}
