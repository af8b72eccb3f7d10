/**
 * The webhook's decisions across every instance, for the console: each instance writes its own counts of each hour
 * it decided in (one small document per instance and hour, at most once a minute), and the console sums the
 * documents of the last 24 hours — 24 single-partition reads, whatever the fleet's size or traffic. Their Cosmos
 * implementation is `store/cosmos-decision-counts.ts`.
 */
import { type HourCounts, lastDayHours, sumHours } from './rules/counters';

export interface DecisionCountRepository {
  /** Writes an instance's counts of the given hours (whole hours: the latest write of an hour is its truth). */
  save(instance: string, hours: readonly HourCounts[], now: Date): Promise<void>;
  /** Every instance's counts of one hour. */
  ofHour(hour: string): Promise<HourCounts[]>;
}

/** Every instance's counts, summed hour by hour over the last 24 hours (oldest first). */
export async function fleetDecisions(counts: DecisionCountRepository, now: Date): Promise<HourCounts[]> {
  const perHour = await Promise.all(lastDayHours(now.getTime()).map((hour) => counts.ofHour(hour)));
  return sumHours(perHour.flat(), now.getTime());
}
