/**
 * An in-memory DocumentStore, for unit tests of use cases and repositories, and for the sweep benchmark at a
 * million certificates, which the embedded Cosmos server
 * cannot hold (its queries scan the whole container on every page: 20,000 documents take a minute to list). It
 * keeps each logical partition apart, as Cosmos does, and answers the one query shape the sweep and a naive scan
 * use — `SELECT * FROM c [WHERE c.f op value AND …] [ORDER BY c.f]` (ascending) — counting the documents it returned and the ones it examined.
 */
import { ConflictError } from '../../shared/errors';
import type { DocumentContainer, DocumentStore, Page, QueryOptions, StoredDocument } from '../../shared/ports';

type Op = '=' | '!=' | '<=' | '>=' | '<' | '>';
const compare: Record<Op, (a: unknown, b: unknown) => boolean> = {
  '=': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<=': (a, b) => (a as string) <= (b as string),
  '>=': (a, b) => (a as string) >= (b as string),
  '<': (a, b) => (a as string) < (b as string),
  '>': (a, b) => (a as string) > (b as string),
};

function predicate(sql: string, parameters: Record<string, unknown>): (doc: StoredDocument) => boolean {
  const where = /^SELECT \* FROM c(?: WHERE (.+?))?(?: ORDER BY c\.\w+)?$/i.exec(sql.trim());
  if (!where) throw new Error(`memory store: unsupported query ${sql}`);
  if (!where[1]) return () => true;
  const conditions = where[1].split(/\s+AND\s+/i).map((cond) => {
    const m = /^c\.(\w+)\s*(<=|>=|!=|=|<|>)\s*(@\w+|"[^"]*"|true|false|-?\d+(?:\.\d+)?)$/.exec(cond.trim());
    if (!m) throw new Error(`memory store: unsupported condition ${cond}`);
    const raw = m[3];
    const value = raw.startsWith('@')
      ? parameters[raw]
      : raw.startsWith('"')
        ? raw.slice(1, -1)
        : raw === 'true'
          ? true
          : raw === 'false'
            ? false
            : Number(raw);
    return { field: m[1], op: m[2] as Op, value };
  });
  return (doc) => conditions.every((c) => compare[c.op](doc[c.field], c.value));
}

export class MemoryContainer<T extends StoredDocument> implements DocumentContainer<T> {
  readonly partitions = new Map<string, Map<string, T>>();
  returned = 0;
  examined = 0;
  private etag = 0;
  /** Cross-partition listings in progress: the documents as they were at the first page, as a continuation sees them. */
  private readonly listings = new Map<string, T[]>();

  constructor(private readonly partitionKeyPath: string) {}

  private pk(doc: T): string {
    return String(doc[this.partitionKeyPath.slice(1)]);
  }

  private partition(key: string): Map<string, T> {
    let p = this.partitions.get(key);
    if (!p) this.partitions.set(key, (p = new Map()));
    return p;
  }

  async read(id: string, partitionKey: string): Promise<T | undefined> {
    const doc = this.partitions.get(partitionKey)?.get(id);
    return doc && { ...doc };
  }

  async create(doc: T): Promise<T> {
    const p = this.partition(this.pk(doc));
    if (p.has(doc.id)) throw new ConflictError(`${doc.id} exists`, 409);
    return this.upsert(doc);
  }

  async upsert(doc: T): Promise<T> {
    const stored = { ...doc, _etag: String(++this.etag) };
    this.partition(this.pk(doc)).set(doc.id, stored);
    return { ...stored };
  }

  async replace(doc: T): Promise<T> {
    const current = this.partitions.get(this.pk(doc))?.get(doc.id);
    if (!current || current._etag !== doc._etag) throw new ConflictError(`${doc.id} changed`, 412);
    return this.upsert(doc);
  }

  async delete(id: string, partitionKey: string, etag?: string): Promise<void> {
    const current = this.partitions.get(partitionKey)?.get(id);
    if (current && etag && current._etag !== etag) throw new ConflictError(`${id} changed`, 412);
    this.partitions.get(partitionKey)?.delete(id);
  }

  async query(sql: string, parameters: Record<string, unknown> = {}, options: QueryOptions = {}): Promise<Page<T>> {
    const match = predicate(sql, parameters);
    const [listing, offset] = (options.continuationToken ?? `${++this.etag}:0`).split(':');
    let source = this.listings.get(listing);
    if (!source) {
      source =
        options.partitionKey !== undefined
          ? [...(this.partitions.get(options.partitionKey)?.values() ?? [])]
          : [...this.partitions.values()].flatMap((p) => [...p.values()]);
      const order = /ORDER BY c\.(\w+)$/i.exec(sql.trim())?.[1];
      if (order) source.sort((a, b) => ((a[order] as number) < (b[order] as number) ? -1 : 1));
      this.listings.set(listing, source);
    }
    const start = Number(offset);
    const max = options.maxItems ?? 1000;
    const items: T[] = [];
    let i = start;
    for (; i < source.length && items.length < max; i++) {
      this.examined++;
      if (match(source[i])) items.push({ ...source[i] });
    }
    this.returned += items.length;
    if (i >= source.length) this.listings.delete(listing);
    return { items, continuationToken: i < source.length ? `${listing}:${i}` : undefined };
  }
}

export class MemoryStore implements DocumentStore {
  private readonly containers = new Map<string, MemoryContainer<StoredDocument>>();
  constructor(private readonly partitionKeys: Record<string, string>) {}

  container<T extends StoredDocument = StoredDocument>(name: string): MemoryContainer<T> {
    let c = this.containers.get(name);
    if (!c) this.containers.set(name, (c = new MemoryContainer(this.partitionKeys[name])));
    return c as unknown as MemoryContainer<T>;
  }
}
