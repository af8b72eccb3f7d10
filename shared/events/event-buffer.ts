/**
 * Events sent without slowing the caller: `add` only appends to a bounded in-memory buffer; a background flush
 * sends batches. When the sink is slower than the producers, the oldest events are dropped and counted rather
 * than letting memory grow or the webhook wait.
 */
import type { DomainEvent, EventsPort } from '../ports';

export interface EventBufferOptions {
  capacity: number;
  batchSize: number;
  flushIntervalMs: number;
  log?: (line: string) => void;
}

export class EventBuffer {
  private queue: DomainEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  dropped = 0;

  constructor(
    private readonly sink: () => Promise<EventsPort>,
    private readonly options: EventBufferOptions,
  ) {}

  add(event: DomainEvent): void {
    this.queue.push(event);
    if (this.queue.length > this.options.capacity) {
      this.queue.splice(0, this.queue.length - this.options.capacity);
      this.dropped++;
    }
    if (this.queue.length >= this.options.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushIntervalMs).unref();
  }

  /** Sends everything buffered; concurrent calls share one flush. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing ??= (async () => {
      try {
        while (this.queue.length > 0) {
          const batch = this.queue.splice(0, this.options.batchSize);
          try {
            await (await this.sink()).publish(batch);
          } catch (err) {
            this.dropped += batch.length;
            this.options.log?.(`events: a batch of ${batch.length} was lost: ${String(err)}`);
          }
        }
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  get pending(): number {
    return this.queue.length;
  }
}
