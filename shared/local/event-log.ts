/**
 * EventsPort for the local stack: an append-only NDJSON file (one event a line) that anyone can read or follow
 * (`tail -f`). Appends are serialised so concurrent publishers never interleave lines.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

import type { DomainEvent, EventsPort } from '../ports';

export class NdjsonEventLog implements EventsPort {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  publish(events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return this.tail;
    const text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
    this.tail = this.tail.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await appendFile(this.path, text, 'utf8');
    });
    return this.tail;
  }

  close(): Promise<void> {
    return this.tail;
  }
}
