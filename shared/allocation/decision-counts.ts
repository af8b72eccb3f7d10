/**
 * The webhook's decisions across every instance, for the console: each instance writes its own counts of each hour
 * it decided in (one small document per instance and hour, at most once a minute), and the console sums the
 * documents of the last 24 hours — 24 single-partition reads, whatever the fleet's size or traffic.
 */
import { CONTAINERS } from '../containers';
import type { DocumentStore, StoredDocument } from '../ports';
import { type HourCounts, lastDayHours, sumHours } from './rules/counters';

type DecisionDocument = StoredDocument & HourCounts & { instance: string; updatedAt: string; ttl: number };

const TWO_DAYS_S = 2 * 86_400;

const decisions = (store: DocumentStore) => store.container<DecisionDocument>(CONTAINERS.decisions.name);

/** Writes an instance's counts of the given hours (whole hours: the latest write of an hour is its truth). */
export async function saveDecisionCounts(
  store: DocumentStore,
  instance: string,
  hours: readonly HourCounts[],
  now: Date,
): Promise<void> {
  await Promise.all(
    hours.map((h) =>
      decisions(store).upsert({ ...h, id: instance, instance, updatedAt: now.toISOString(), ttl: TWO_DAYS_S }),
    ),
  );
}

/** Every instance's counts, summed hour by hour over the last 24 hours (oldest first). */
export async function fleetDecisions(store: DocumentStore, now: Date): Promise<HourCounts[]> {
  const hours = lastDayHours(now.getTime());
  const perHour = await Promise.all(
    hours.map(async (hour) => {
      const docs: DecisionDocument[] = [];
      let continuationToken: string | undefined;
      do {
        // The filter repeats the partition key: a store that answers a partition-scoped query from the whole
        // container (the embedded emulator does) still sums each hour once.
        const page = await decisions(store).query(
          'SELECT * FROM c WHERE c.hour = @hour',
          { '@hour': hour },
          { partitionKey: hour, continuationToken },
        );
        docs.push(...page.items);
        continuationToken = page.continuationToken;
      } while (continuationToken);
      return docs;
    }),
  );
  return sumHours(perHour.flat(), now.getTime());
}
