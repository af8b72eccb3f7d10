/**
 * The console's expiry timeline: open certificates ending in each of the next weeks. One COUNT a week and month
 * partition, served by the index on notAfter: what is read is a number a week, never the fleet.
 */
import { type CertificateRepository, monthsBetween } from './inventory-store';

const WEEK_MS = 7 * 86_400_000;

export interface TimelineWeek {
  /** The week's first instant (inclusive); the week ends 7 days later. */
  start: string;
  count: number;
}

export async function certificateTimeline(
  inventory: CertificateRepository,
  now: Date,
  weeks: number,
): Promise<TimelineWeek[]> {
  return Promise.all(
    Array.from({ length: weeks }, async (_, i) => {
      const from = new Date(now.getTime() + i * WEEK_MS);
      const to = new Date(from.getTime() + WEEK_MS);
      const counts = await Promise.all(
        monthsBetween(from, new Date(to.getTime() - 1)).map((month) =>
          inventory.openCountEndingBetween(month, from, to),
        ),
      );
      return { start: from.toISOString(), count: counts.reduce((a, b) => a + b, 0) };
    }),
  );
}
