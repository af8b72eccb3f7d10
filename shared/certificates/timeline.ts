/**
 * The console's expiry timeline: open certificates ending in each of the next weeks. One COUNT a week and month
 * partition, served by the index on notAfter: what is read is a number a week, never the fleet.
 */
import type { DocumentStore } from '../ports';
import { certificates, monthsBetween } from './inventory-store';

const WEEK_MS = 7 * 86_400_000;

export interface TimelineWeek {
  /** The week's first instant (inclusive); the week ends 7 days later. */
  start: string;
  count: number;
}

export async function certificateTimeline(store: DocumentStore, now: Date, weeks: number): Promise<TimelineWeek[]> {
  const sql =
    'SELECT VALUE COUNT(1) FROM c WHERE c.expiryMonth = @month AND c.settled = false AND c.notAfter >= @from AND c.notAfter < @to';
  return Promise.all(
    Array.from({ length: weeks }, async (_, i) => {
      const from = new Date(now.getTime() + i * WEEK_MS);
      const to = new Date(from.getTime() + WEEK_MS);
      const counts = await Promise.all(
        monthsBetween(from, new Date(to.getTime() - 1)).map(async (month) => {
          const page = await certificates(store).query(
            sql,
            { '@month': month, '@from': from.toISOString(), '@to': to.toISOString() },
            { partitionKey: month },
          );
          return Number(page.items[0] ?? 0);
        }),
      );
      return { start: from.toISOString(), count: counts.reduce((a, b) => a + b, 0) };
    }),
  );
}
