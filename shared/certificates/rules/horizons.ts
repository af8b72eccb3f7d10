/**
 * Expiry horizons: a certificate that reaches a horizon (90, 30, 7 days before notAfter; 0 = expired) is raised
 * once for the tightest horizon it has reached and not again for that horizon or a looser one — a certificate first
 * seen 5 days before its end gets one "7 days" finding, not three.
 */
export const DEFAULT_HORIZONS = [90, 30, 7] as const;
const DAY = 86_400_000;

export function parseHorizons(text: string | undefined): number[] {
  const days = (text ?? '')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  return [...new Set(days.length ? days : [...DEFAULT_HORIZONS])].sort((a, b) => b - a);
}

/** The tightest horizon (days; 0 = expired) `notAfter` has reached at `now`, or undefined when none. */
export function reachedHorizon(notAfter: string, now: Date, horizons: readonly number[]): number | undefined {
  const left = Date.parse(notAfter) - now.getTime();
  if (left <= 0) return 0;
  const reached = horizons.filter((h) => left <= h * DAY);
  return reached.length ? Math.min(...reached) : undefined;
}

/** A horizon to raise now: reached, and tighter than everything raised before. */
export function horizonToRaise(
  notAfter: string,
  raised: readonly number[],
  now: Date,
  horizons: readonly number[],
): number | undefined {
  const reached = reachedHorizon(notAfter, now, horizons);
  if (reached === undefined) return undefined;
  return raised.some((r) => r <= reached) ? undefined : reached;
}

export const findingCode = (horizon: number) => (horizon === 0 ? 'CERT_EXPIRED' : `CERT_EXPIRES_WITHIN_${horizon}D`);

/** The last day the sweep looks ahead to: the loosest horizon. */
export const lookahead = (now: Date, horizons: readonly number[]) =>
  new Date(now.getTime() + Math.max(...horizons) * DAY);
