/** The webhook's decision counts on Cosmos: the `decisions` container, partitioned by hour, two days of TTL. */
import { CONTAINERS } from '../../containers';
import type { DocumentContainer, DocumentStore, StoredDocument } from '../../ports';
import type { DecisionCountRepository } from '../decision-counts';
import type { HourCounts } from '../rules/counters';

type DecisionDocument = StoredDocument & HourCounts & { instance: string; updatedAt: string; ttl: number };

const TWO_DAYS_S = 2 * 86_400;

export class CosmosDecisionCountRepository implements DecisionCountRepository {
  private readonly decisions: DocumentContainer<DecisionDocument>;

  constructor(store: DocumentStore) {
    this.decisions = store.container<DecisionDocument>(CONTAINERS.decisions.name);
  }

  async save(instance: string, hours: readonly HourCounts[], now: Date): Promise<void> {
    await Promise.all(
      hours.map((h) =>
        this.decisions.upsert({ ...h, id: instance, instance, updatedAt: now.toISOString(), ttl: TWO_DAYS_S }),
      ),
    );
  }

  async ofHour(hour: string): Promise<HourCounts[]> {
    const docs: DecisionDocument[] = [];
    let continuationToken: string | undefined;
    do {
      // The filter repeats the partition key: a store that answers a partition-scoped query from the whole
      // container (the embedded emulator does) still sums each hour once.
      const page = await this.decisions.query(
        'SELECT * FROM c WHERE c.hour = @hour',
        { '@hour': hour },
        { partitionKey: hour, continuationToken },
      );
      docs.push(...page.items);
      continuationToken = page.continuationToken;
    } while (continuationToken);
    return docs;
  }
}
