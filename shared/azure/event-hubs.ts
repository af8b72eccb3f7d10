/** EventsPort on `@azure/event-hubs`: batched sends, the event's subject as partition key (per-device order). */
import { EventHubProducerClient } from '@azure/event-hubs';
import type { TokenCredential } from '@azure/identity';

import type { DomainEvent, EventsPort } from '../ports';

export type EventHubAuth =
  | { connectionString: string; eventHubName: string }
  | { namespace: string; eventHubName: string; credential: TokenCredential };

export class EventHubEvents implements EventsPort {
  private readonly producer: EventHubProducerClient;

  constructor(auth: EventHubAuth) {
    this.producer =
      'connectionString' in auth
        ? new EventHubProducerClient(auth.connectionString, auth.eventHubName)
        : new EventHubProducerClient(auth.namespace, auth.eventHubName, auth.credential);
  }

  async publish(events: DomainEvent[]): Promise<void> {
    const bySubject = new Map<string, DomainEvent[]>();
    for (const event of events) bySubject.set(event.subject, [...(bySubject.get(event.subject) ?? []), event]);
    for (const [subject, group] of bySubject) {
      let batch = await this.producer.createBatch({ partitionKey: subject });
      for (const event of group) {
        if (!batch.tryAdd({ body: event, contentType: 'application/json' })) {
          await this.producer.sendBatch(batch);
          batch = await this.producer.createBatch({ partitionKey: subject });
          if (!batch.tryAdd({ body: event, contentType: 'application/json' }))
            throw new Error(`event ${event.type} for ${subject} exceeds the Event Hubs batch size`);
        }
      }
      if (batch.count > 0) await this.producer.sendBatch(batch);
    }
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}
