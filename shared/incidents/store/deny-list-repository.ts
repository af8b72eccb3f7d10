/**
 * The deny list on the document store: one document per identity (partitioned by kind) with the incidents holding
 * it, and beside it, in a container of its own (one logical partition), a change log the webhook instances follow.
 *
 * Why a log of our own rather than the Cosmos change feed: the feed's default mode does not report deletes, and a
 * released entry must leave every instance. The log's records name identities only; a reader reads each named
 * entry as it is now, so two writers whose records land out of order still leave every reader with the truth.
 * A record is written after the change it names, for every entry a call touched (changed or not), so a writer that
 * dies between the two leaves the record to its retry. Sequence numbers come from creating `change-<seq>`: a
 * conflict means another writer took that number, and the next one is tried. Records expire after a week (the
 * container's TTL); a reader further behind than that loads the whole list again.
 */
import type { DenyChanges, DenyEntry, DenyIdentity, DenyKind, DenyListFeed } from '../../allocation';
import { denyKey } from '../../allocation';
import { forEachLimited } from '../../concurrency';
import { CONTAINERS } from '../../containers';
import { ConflictError } from '../../errors';
import type { DocumentContainer, DocumentStore, StoredDocument } from '../../ports';
import type { DenyListRepository } from '../repositories';
import { add, changeHolders, remove, safeId } from './holders';

/** The log's one logical partition: records are read in the order they were numbered. */
const LOG = 'deny';
const HEAD = 'head';
export const DENY_LOG_RETENTION_SECONDS = 7 * 24 * 3600;
const IDENTITIES_PER_RECORD = 1000;
const READ_CONCURRENCY = 32;
/** An incident may name 20,000 identities: written 32 at a time, not all at once. */
const WRITE_CONCURRENCY = 32;

type DenyDoc = StoredDocument & DenyEntry & { holders: string[] };
type ChangeRecord = StoredDocument & { log: typeof LOG; seq: number; identities: DenyIdentity[]; ttl: number };
/** The highest sequence number known to be taken; `head`, not `seq`, so that the log's query never returns it. */
type HeadDoc = StoredDocument & { log: typeof LOG; head: number };

const entryId = (e: DenyIdentity) => safeId(denyKey(e.kind, e.value));
const recordId = (seq: number) => `change-${String(seq).padStart(12, '0')}`;
const asEntry = ({ kind, value, reason, incidentId, createdAt }: DenyDoc): DenyEntry => ({
  kind,
  value,
  reason,
  ...(incidentId ? { incidentId } : {}),
  ...(createdAt ? { createdAt } : {}),
});

export class CosmosDenyListRepository implements DenyListRepository, DenyListFeed {
  private readonly entries: DocumentContainer<DenyDoc>;
  private readonly log: DocumentContainer<ChangeRecord & HeadDoc>;

  constructor(store: DocumentStore) {
    this.entries = store.container<DenyDoc>(CONTAINERS.denyList.name);
    this.log = store.container<ChangeRecord & HeadDoc>(CONTAINERS.denyLog.name);
  }

  async hold(entries: DenyEntry[], incidentId: string): Promise<DenyEntry[]> {
    const createdAt = new Date().toISOString();
    const created = new Set<DenyEntry>();
    await forEachLimited(entries, WRITE_CONCURRENCY, async (e) => {
      const result = await changeHolders(this.entries, entryId(e), e.kind, add(incidentId), () => ({
        ...e,
        id: entryId(e),
        createdAt,
        holders: [incidentId],
      }));
      if (result.created) created.add(e);
    });
    await this.logChanges(entries);
    return entries.filter((e) => created.has(e));
  }

  async release(entries: DenyEntry[], incidentId: string): Promise<DenyEntry[]> {
    const emptied = new Set<DenyEntry>();
    await forEachLimited(entries, WRITE_CONCURRENCY, async (e) => {
      if ((await changeHolders(this.entries, entryId(e), e.kind, remove(incidentId))).emptied) emptied.add(e);
    });
    await this.logChanges(entries);
    return entries.filter((e) => emptied.has(e));
  }

  async loadAll(): Promise<{ entries: DenyEntry[]; position: number }> {
    // The position first: whatever changes after it is in the log, whatever changed before it is in the entries.
    const position = (await this.log.read(HEAD, LOG))?.head ?? 0;
    const entries: DenyEntry[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.entries.query(
        'SELECT * FROM c',
        {},
        {
          maxItems: 1000,
          continuationToken,
        },
      );
      entries.push(...page.items.map(asEntry));
      continuationToken = page.continuationToken;
    } while (continuationToken);
    return { entries, position };
  }

  /** Every entry of one kind (its partition): what the revocation audit reads. */
  async entriesOfKind(kind: DenyKind): Promise<DenyEntry[]> {
    const entries: DenyEntry[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.entries.query(
        'SELECT * FROM c WHERE c.kind = @kind',
        { '@kind': kind },
        { partitionKey: kind, continuationToken },
      );
      entries.push(...page.items.map(asEntry));
      continuationToken = page.continuationToken;
    } while (continuationToken);
    return entries;
  }

  async changesSince(position: number, alsoRead: DenyIdentity[]): Promise<DenyChanges | 'gap'> {
    const changed = new Map<string, DenyIdentity>();
    let last = position;
    let continuationToken: string | undefined;
    do {
      const page = await this.log.query(
        'SELECT * FROM c WHERE c.seq > @after ORDER BY c.seq',
        { '@after': position },
        { partitionKey: LOG, maxItems: 100, continuationToken },
      );
      for (const record of page.items) {
        if (record.seq !== last + 1) return 'gap'; // numbers are taken in order; a hole is an expired record
        last = record.seq;
        for (const identity of record.identities) changed.set(denyKey(identity.kind, identity.value), identity);
      }
      continuationToken = page.continuationToken;
    } while (continuationToken);
    const toRead = new Map(changed);
    for (const identity of alsoRead) toRead.set(denyKey(identity.kind, identity.value), identity);
    const present: DenyEntry[] = [];
    const absent: DenyIdentity[] = [];
    await forEachLimited([...toRead.values()], READ_CONCURRENCY, async (identity) => {
      const doc = await this.entries.read(entryId(identity), identity.kind);
      if (doc) present.push(asEntry(doc));
      else absent.push(identity);
    });
    return { present, absent, changed: [...changed.values()], position: last };
  }

  private async logChanges(entries: DenyEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += IDENTITIES_PER_RECORD)
      await this.append(entries.slice(i, i + IDENTITIES_PER_RECORD).map(({ kind, value }) => ({ kind, value })));
  }

  private async append(identities: DenyIdentity[]): Promise<void> {
    let seq = ((await this.log.read(HEAD, LOG))?.head ?? 0) + 1;
    for (;;) {
      try {
        await this.log.create({
          id: recordId(seq),
          log: LOG,
          seq,
          identities,
          ttl: DENY_LOG_RETENTION_SECONDS,
        } as ChangeRecord & HeadDoc);
        break;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        seq++;
      }
    }
    await this.advanceHead(seq);
  }

  /** Moves the head up to `seq` unless another writer moved it further. */
  private async advanceHead(seq: number): Promise<void> {
    for (;;) {
      const head = await this.log.read(HEAD, LOG);
      if (head && head.head >= seq) return;
      try {
        if (head) await this.log.replace({ ...head, head: seq });
        else await this.log.create({ id: HEAD, log: LOG, head: seq } as ChangeRecord & HeadDoc);
        return;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }
}
