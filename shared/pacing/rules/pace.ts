/**
 * The pace of calls to a throttled service (DPS: "1,000 operations a minute", counted per enrollment in a bulk call
 * or per call — Microsoft does not say — and adjustable). Pure: time is passed in, in milliseconds.
 *
 * The rule. Calls get send times spaced at the pace (a shared schedule: `nextAt` moves on by the operations each
 * lease takes), never before a Retry-After has passed. The pace starts at the configured rate and, while nothing is
 * throttled, rises by additive steps counted in operations that waited for the pace, while the schedule stayed busy
 * (callers slower than the pace, or coming in bursts, never raise it). On a 429 it falls multiplicatively, once per
 * throttle however many calls were in flight (`epoch`), and every call holds until the Retry-After. Between two 429s
 * the service's bucket was empty at both ends, so what it accepted in between, over the time in between, is its
 * rate: that measure becomes the ceiling, and the pace settles just below it.
 *
 *   - probing (no ceiling known yet): +the configured rate every PROBE_EVERY operations — from 1,000 to a real
 *     10,000 a minute (a bulk call counted once) in about 225 operations;
 *   - catching up (below 85 % of a measured ceiling): +10 % of it every PROBE_EVERY operations;
 *   - steady (a ceiling known, the pace near it): +2 % of the ceiling every STEADY_EVERY operations, probing gently
 *     for more;
 *   - 25 % past the ceiling without a 429 it goes no further — the calls may just be slower than their slots —
 *     unless the service is seen accepting 10 % more than its ceiling: the limit was raised, and the pace re-probes,
 *     +25 % of the ceiling every PROBE_EVERY operations;
 *   - on a 429: the ceiling is the measure when it is trustworthy (≥ MIN_SAMPLE operations accepted, the callers
 *     busy ≥ 75 % of the time), and the pace min(0.9 × pace, 0.95 × ceiling); otherwise the ceiling is at most the
 *     pace throttled, the pace halves (the first time, after probing overshot) or loses 10 %, and falls at once to
 *     what a short measure allows: (accepted + the throttled call's operations) over the time.
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
  probeEvery: 25,
  steadyEvery: 500,
  steadyStep: 0.02,
  reprobeAbove: 1.25,
  reprobeStep: 0.25,
  /** Accepted this far above the ceiling since the last 429: the limit was raised. */
  raisedAbove: 1.1,
  catchUpBelow: 0.85,
  catchUpStep: 0.1,
  firstBackoff: 0.5,
  backoff: 0.9,
  belowCeiling: 0.95,
  minSample: 100,
  maxIdle: 0.25,
  /** Operations an instance leases at a time (at least one call): its next lease comes when their last slot does. */
  leaseAhead: 25,
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
  /** Operations that waited for the pace since the last step, and the time the schedule stood free meanwhile. */
  sinceStep: number;
  stepStartedAt: number;
  stepIdleMs: number;
  /** What the service was measured to allow, in operations a minute; absent until the first 429. */
  ceilingPerMinute?: number;
  /** Whether the ceiling was measured (between two 429s) or is only a bound (the pace a 429 met). */
  ceilingMeasured?: boolean;
  throttles: number;
  /** Since the last 429 (or the start): when, the operations the service accepted, the time nobody had a call. */
  epochStartedAt: number;
  accepted: number;
  idleMs: number;
}

/** A caller's slot: its call goes at `from`; `perMinute` and `epoch` are the pace's when it was leased. */
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
    stepStartedAt: now,
    stepIdleMs: 0,
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

/** What the service was seen to accept since the last 429, when the sample can be trusted (enough, and busy). */
function acceptedRate(pace: Pace, now: number, idleMs = pace.idleMs): number | undefined {
  const elapsed = now - pace.epochStartedAt;
  return elapsed > 0 && pace.accepted >= PACE_RULE.minSample && idleMs <= PACE_RULE.maxIdle * elapsed
    ? (pace.accepted * 60_000) / elapsed
    : undefined;
}

const NO_STEP = { every: Number.POSITIVE_INFINITY, step: 0 };

/** The step the pace takes after enough operations without a 429, and how many operations that is. */
function nextStep(pace: Pace, now: number): { every: number; step: number } {
  const ceiling = pace.ceilingPerMinute;
  if (ceiling === undefined) return { every: PACE_RULE.probeEvery, step: pace.configuredPerMinute };
  if (pace.ceilingMeasured && pace.perMinute < PACE_RULE.catchUpBelow * ceiling)
    return { every: PACE_RULE.probeEvery, step: PACE_RULE.catchUpStep * ceiling };
  if (pace.perMinute < PACE_RULE.reprobeAbove * ceiling)
    return { every: PACE_RULE.steadyEvery, step: PACE_RULE.steadyStep * ceiling };
  // Past the ceiling without a 429 may only mean the calls go slower than their slots. Further only when the
  // service is seen taking more than its ceiling: then the limit was raised.
  const taken = acceptedRate(pace, now);
  return taken !== undefined && taken >= PACE_RULE.raisedAbove * ceiling
    ? { every: PACE_RULE.probeEvery, step: PACE_RULE.reprobeStep * ceiling }
    : NO_STEP;
}

/** `ops` operations taken from the schedule at `now`; the caller sends them from `grant.from` at `grant.perMinute`. */
export function lease(stored: Pace, ops: number, now: number, report?: Report): { pace: Pace; grant: Grant } {
  let pace = counted(stored, report);
  const free = Math.max(pace.nextAt, pace.holdUntil);
  const from = Math.max(now, free);
  const grant: Grant = { from, perMinute: pace.perMinute, epoch: pace.epoch };
  const idle = Math.max(0, now - free);
  pace = {
    ...pace,
    idleMs: pace.idleMs + idle,
    nextAt: from + (ops * 60_000) / pace.perMinute,
    // Only operations that waited for the pace count towards raising it: callers slower than the pace (a job's last
    // chunks, a sweep's occasional read) say nothing about whether DPS would take more.
    sinceStep: pace.sinceStep + (free > now ? ops : 0),
    stepIdleMs: pace.stepIdleMs + idle,
  };
  const { every, step } = nextStep(pace, now);
  if (pace.sinceStep < every) return { pace, grant };
  const window = now - pace.stepStartedAt;
  // A pace the callers mostly leave unused (its schedule stood free over a quarter of the time since the last step)
  // says nothing more: they came in bursts, and a higher pace would only be a higher burst. Count afresh.
  if (pace.stepIdleMs > PACE_RULE.maxIdle * window)
    return { pace: { ...pace, sinceStep: 0, stepStartedAt: now, stepIdleMs: 0 }, grant };
  // One step once those operations have had the time the pace gives them: calls leased together (a batch, a bulk
  // call) are not the pace sustained.
  if (window < (1 - PACE_RULE.maxIdle) * ((every * 60_000) / pace.perMinute)) return { pace, grant };
  pace = {
    ...pace,
    perMinute: bounded(pace, pace.perMinute + step),
    sinceStep: pace.sinceStep - every,
    stepStartedAt: now,
    stepIdleMs: 0,
  };
  return { pace, grant };
}

/** A call of `ops` operations leased under `epoch` met a 429 at `now`, with the service's Retry-After when it sent one. */
export function throttle(
  stored: Pace,
  at: { epoch: number; now: number; ops: number; retryAfterMs?: number; report?: Report },
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
  const measured = pace.throttles > 0 ? acceptedRate(pace, at.now, idleMs) : undefined;
  // Too few operations to trust as the ceiling, but still a bound: it refilled at most what it took, plus what the
  // call it refused needed (it could not pay that at the end, and had nothing to spare at the start). Thrown back
  // again right after the hold, the pace falls to it at once.
  const bound = between ? ((pace.accepted + at.ops) * 60_000) / elapsed : Number.POSITIVE_INFINITY;
  const ceilingPerMinute = measured ?? Math.min(pace.ceilingPerMinute ?? Number.POSITIVE_INFINITY, pace.perMinute);
  const perMinute =
    measured !== undefined
      ? Math.min(PACE_RULE.backoff * pace.perMinute, PACE_RULE.belowCeiling * measured)
      : Math.min((pace.throttles === 0 ? PACE_RULE.firstBackoff : PACE_RULE.backoff) * pace.perMinute, bound);
  return {
    ...pace,
    perMinute: bounded(pace, perMinute),
    ceilingPerMinute,
    ceilingMeasured:
      measured !== undefined || (pace.ceilingMeasured === true && ceilingPerMinute === pace.ceilingPerMinute),
    holdUntil,
    // Slots leased at the old pace are given up: their callers see the epoch moved and lease again.
    nextAt: holdUntil,
    epoch: pace.epoch + 1,
    sinceStep: 0,
    stepStartedAt: at.now,
    stepIdleMs: 0,
    throttles: pace.throttles + 1,
    epochStartedAt: at.now,
    accepted: 0,
    idleMs: 0,
  };
}
