/**
 * The pace of calls to a throttled service (DPS: "1,000 operations a minute", counted per enrollment in a bulk call
 * or per call — Microsoft does not say — and adjustable). Pure: time is passed in, in milliseconds.
 *
 * The rule. Calls get send times spaced at the pace (a shared schedule: `nextAt` moves on by the operations each
 * lease takes), never before a Retry-After has passed. The pace starts at the configured rate and, while nothing is
 * throttled, rises by additive steps counted in operations sent (so an idle caller never raises it). On a 429 it
 * falls multiplicatively, once per throttle however many calls were in flight (`epoch`), and holds every call until
 * the Retry-After. Between two 429s the service's bucket was empty at both ends, so what it accepted in between,
 * over the time in between, is its rate: that measure becomes the ceiling, and the pace settles just below it.
 *
 *   - probing (no ceiling known yet): +the configured rate every PROBE_EVERY operations — from 1,000 to a real
 *     10,000 a minute (a bulk call counted once) in about 450 operations;
 *   - steady (a ceiling known): +2 % of the ceiling every STEADY_EVERY operations, probing gently for more;
 *   - re-probing (25 % past the ceiling without a 429: the limit was raised): +25 % of the ceiling every
 *     PROBE_EVERY operations;
 *   - on a 429: the ceiling is the measure when it is trustworthy (≥ MIN_SAMPLE operations accepted, the callers
 *     busy ≥ 75 % of the time), and the pace min(0.9 × pace, 0.95 × ceiling); otherwise the ceiling is at most the
 *     pace throttled, and the pace halves (the first time, after probing overshot) or loses 10 %.
 * The pace stays within [configured / 20, configured × 20].
 */

export interface PaceSettings {
  /** The rate the service is configured or documented to allow, in operations a minute: where the pace starts. */
  configuredPerMinute: number;
}

/** The rule's constants (see above). Steps count operations, so the rule is the same at any time scale. */
export const PACE_RULE = {
  floor: 1 / 20,
  cap: 20,
  probeEvery: 50,
  steadyEvery: 500,
  steadyStep: 0.02,
  reprobeAbove: 1.25,
  reprobeStep: 0.25,
  firstBackoff: 0.5,
  backoff: 0.9,
  belowCeiling: 0.95,
  minSample: 100,
  /** Two bulk calls: what the service may have refilled beyond what it accepted between two 429s. */
  sampleSlack: 20,
  maxIdle: 0.25,
  /** A 429 without Retry-After holds calls this long. */
  defaultHoldMs: 1000,
} as const;

/** The learned pace of one service, shared by every caller of it (stored as one document). */
export interface Pace {
  /** The configured rate this pace was learned from: a new configuration starts afresh. */
  configuredPerMinute: number;
  perMinute: number;
  /** The schedule: the next lease starts no earlier than this. */
  nextAt: number;
  /** No call before this: the last Retry-After. */
  holdUntil: number;
  /** Moves on at every decrease: a 429 met by a call leased before it is not counted again. */
  epoch: number;
  /** Operations leased since the last step. */
  sinceStep: number;
  /** What the service was measured to allow, in operations a minute; absent until the first 429. */
  ceilingPerMinute?: number;
  throttles: number;
  /** Since the last 429 (or the start): when, the operations the service accepted, the time nobody had a call. */
  epochStartedAt: number;
  accepted: number;
  idleMs: number;
}

/** What a caller's slots were cut from: its calls go at `from`, then one every `ops × 60,000 / perMinute` ms. */
export interface Grant {
  from: number;
  perMinute: number;
  epoch: number;
}

/** Operations a caller saw accepted (answered, not throttled) since it last said, under the epoch it knew. */
export interface Report {
  epoch: number;
  accepted: number;
}

export function freshPace(settings: PaceSettings, now: number): Pace {
  return {
    configuredPerMinute: settings.configuredPerMinute,
    perMinute: settings.configuredPerMinute,
    nextAt: now,
    holdUntil: 0,
    epoch: 0,
    sinceStep: 0,
    throttles: 0,
    epochStartedAt: now,
    accepted: 0,
    idleMs: 0,
  };
}

/** The stored pace, or a fresh one when there is none or the configured rate changed. */
export function adopt(stored: Pace | undefined, settings: PaceSettings, now: number): Pace {
  return stored && stored.configuredPerMinute === settings.configuredPerMinute ? stored : freshPace(settings, now);
}

const bounded = (pace: Pace, perMinute: number) =>
  Math.min(pace.configuredPerMinute * PACE_RULE.cap, Math.max(pace.configuredPerMinute * PACE_RULE.floor, perMinute));

function counted(pace: Pace, report: Report | undefined): Pace {
  return report && report.epoch === pace.epoch && report.accepted > 0
    ? { ...pace, accepted: pace.accepted + report.accepted }
    : pace;
}

/** The step the pace takes after enough operations without a 429, and how many operations that is. */
function nextStep(pace: Pace): { every: number; step: number } {
  const ceiling = pace.ceilingPerMinute;
  if (ceiling === undefined) return { every: PACE_RULE.probeEvery, step: pace.configuredPerMinute };
  if (pace.perMinute > PACE_RULE.reprobeAbove * ceiling)
    return { every: PACE_RULE.probeEvery, step: PACE_RULE.reprobeStep * ceiling };
  return { every: PACE_RULE.steadyEvery, step: PACE_RULE.steadyStep * ceiling };
}

/** `ops` operations taken from the schedule at `now`; the caller sends them from `grant.from` at `grant.perMinute`. */
export function lease(stored: Pace, ops: number, now: number, report?: Report): { pace: Pace; grant: Grant } {
  let pace = counted(stored, report);
  const free = Math.max(pace.nextAt, pace.holdUntil);
  const from = Math.max(now, free);
  const grant: Grant = { from, perMinute: pace.perMinute, epoch: pace.epoch };
  pace = {
    ...pace,
    idleMs: pace.idleMs + Math.max(0, now - free),
    nextAt: from + (ops * 60_000) / pace.perMinute,
    sinceStep: pace.sinceStep + ops,
  };
  // One step for every `every` operations: a lease for many waiting calls takes the steps they would have.
  for (let { every, step } = nextStep(pace); pace.sinceStep >= every; { every, step } = nextStep(pace))
    pace = { ...pace, perMinute: bounded(pace, pace.perMinute + step), sinceStep: pace.sinceStep - every };
  return { pace, grant };
}

/** When each of a grant's calls may go: the one after `opsBefore` operations of the same grant. */
export function slotOf(grant: Grant, opsBefore: number): number {
  return grant.from + (opsBefore * 60_000) / grant.perMinute;
}

/** A call leased under `epoch` met a 429 at `now` with the service's Retry-After (when it sent one). */
export function throttle(
  stored: Pace,
  at: { epoch: number; now: number; retryAfterMs?: number; report?: Report },
): Pace {
  const pace = counted(stored, at.report);
  const holdUntil = Math.max(pace.holdUntil, at.now + (at.retryAfterMs ?? PACE_RULE.defaultHoldMs));
  // A call leased before the last decrease: the decrease already answered the throttle it belongs to.
  if (at.epoch !== pace.epoch) return { ...pace, holdUntil, nextAt: Math.max(pace.nextAt, holdUntil) };
  const elapsed = at.now - pace.epochStartedAt;
  // Nobody's slot reached this far: time the service refilled for no one.
  const idleMs = pace.idleMs + Math.max(0, at.now - Math.max(pace.nextAt, pace.holdUntil));
  // The bucket was empty at the last 429 and is again: what it accepted in between is what it refilled.
  const between = pace.throttles > 0 && elapsed > 0 && idleMs <= PACE_RULE.maxIdle * elapsed;
  const measured = between && pace.accepted >= PACE_RULE.minSample ? (pace.accepted * 60_000) / elapsed : undefined;
  // Too few operations to trust as the ceiling, but still a bound: it refilled at most what it took, plus the calls
  // it could not pay for at either end. Thrown back again right after the hold, the pace falls to it at once.
  const bound = between ? ((pace.accepted + PACE_RULE.sampleSlack) * 60_000) / elapsed : Number.POSITIVE_INFINITY;
  const ceilingPerMinute = measured ?? Math.min(pace.ceilingPerMinute ?? Number.POSITIVE_INFINITY, pace.perMinute);
  const perMinute =
    measured !== undefined
      ? Math.min(PACE_RULE.backoff * pace.perMinute, PACE_RULE.belowCeiling * measured)
      : Math.min((pace.throttles === 0 ? PACE_RULE.firstBackoff : PACE_RULE.backoff) * pace.perMinute, bound);
  return {
    ...pace,
    perMinute: bounded(pace, perMinute),
    ceilingPerMinute,
    holdUntil,
    // Slots leased at the old pace are given up: their callers see the epoch moved and lease again.
    nextAt: holdUntil,
    epoch: pace.epoch + 1,
    sinceStep: 0,
    throttles: pace.throttles + 1,
    epochStartedAt: at.now,
    accepted: 0,
    idleMs: 0,
  };
}
