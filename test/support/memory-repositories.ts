/**
 * In-memory repositories, for unit tests of the use cases that read and write through them: plain maps, the same
 * contracts as the Cosmos implementations (a ConflictError on a create over an existing id or a stale etag).
 */
import type { DecisionCountRepository } from '../../shared/allocation/decision-counts';
import type { HourCounts } from '../../shared/allocation/rules/counters';
import type {
  CertificateRepository,
  StoredCertificate,
  UsageMap,
  UsageMapFields,
} from '../../shared/certificates/inventory-store';
import type { UsageKind } from '../../shared/certificates/rules/record';
import { ConflictError } from '../../shared/errors';
import type { FindingKind, FindingRepository, StoredFinding } from '../../shared/findings/repository';
import type { ChunkDocument, ImportJobRepository, JobDocument } from '../../shared/imports/job-store';
import type { Pace, PaceRepository } from '../../shared/pacing';
import type { Page, StoredDocument } from '../../shared/ports';

/** One page of `items` from the position a continuation token names. */
function pageOf<T>(items: T[], pageSize: number, continuationToken?: string): Page<T> {
  const from = Number(continuationToken ?? 0);
  const to = from + pageSize;
  return { items: items.slice(from, to), ...(to < items.length ? { continuationToken: String(to) } : {}) };
}

/** Documents by key, with etags: a replace under an old etag is a conflict, as in Cosmos. */
class Documents<T extends StoredDocument> {
  readonly docs = new Map<string, T>();
  private etag = 0;

  get(key: string): T | undefined {
    const doc = this.docs.get(key);
    return doc && structuredClone(doc);
  }

  create(key: string, doc: T): T {
    if (this.docs.has(key)) throw new ConflictError(`${key} exists`, 409);
    return this.put(key, doc);
  }

  replace(key: string, doc: T): T {
    const current = this.docs.get(key);
    if (!current) throw new ConflictError(`${key} is gone`, 412);
    if (doc._etag && doc._etag !== current._etag) throw new ConflictError(`${key} was written meanwhile`, 412);
    return this.put(key, doc);
  }

  put(key: string, doc: T): T {
    const stored = { ...structuredClone(doc), _etag: String(++this.etag) };
    this.docs.set(key, stored);
    return structuredClone(stored);
  }

  all(): T[] {
    return [...this.docs.values()].map((d) => structuredClone(d));
  }
}

const thumb = (t: string) => t.replace(/[^0-9a-fA-F]/g, '').toUpperCase();

export class MemoryCertificateRepository implements CertificateRepository {
  readonly records = new Documents<StoredCertificate>();
  readonly maps = new Documents<UsageMap>();

  async read(id: string, expiryMonth: string) {
    const doc = this.records.get(id);
    return doc?.expiryMonth === expiryMonth ? doc : undefined;
  }
  async upsert(record: StoredCertificate) {
    return this.records.put(record.id, record);
  }
  async replace(record: StoredCertificate) {
    return this.records.replace(record.id, record);
  }
  async *endingBy(months: readonly string[], until: Date, openOnly: boolean) {
    for (const month of months)
      yield this.records
        .all()
        .filter((c) => c.expiryMonth === month && (!openOnly || !c.settled) && c.notAfter <= until.toISOString());
  }
  async openCountEndingBetween(month: string, from: Date, to: Date) {
    return this.records
      .all()
      .filter(
        (c) =>
          c.expiryMonth === month && !c.settled && c.notAfter >= from.toISOString() && c.notAfter < to.toISOString(),
      ).length;
  }
  async byThumbprint(thumbprint: string) {
    const t = thumb(thumbprint);
    return this.records.all().find((c) => (t.length === 40 ? c.sha1Thumbprint === t : c.id === t));
  }
  async issuedBy(issuerKey: string, pageSize: number, continuationToken?: string) {
    return pageOf(
      this.records.all().filter((c) => c.issuerKey === issuerKey),
      pageSize,
      continuationToken,
    );
  }
  async allWithThumbprint(sha256: string) {
    return this.records.all().filter((c) => c.id === sha256);
  }
  async allIssuedBy(issuerKey: string) {
    return this.records.all().filter((c) => c.issuerKey === issuerKey);
  }
  async usageMap(kind: UsageKind, entryId: string) {
    return this.maps.get(`${kind}.${entryId.toLowerCase()}`);
  }
  async saveUsageMap(map: UsageMapFields) {
    const id = `${map.kind}.${map.entryId.toLowerCase()}`;
    this.maps.put(id, { ...map, id: `usage-map.${id}`, type: 'usage-map' });
  }
  async deleteUsageMap(map: UsageMap) {
    this.maps.docs.delete(`${map.kind}.${map.entryId.toLowerCase()}`);
  }
  async usageMapsBefore(pass: number, pageSize: number, continuationToken?: string) {
    return pageOf(
      this.maps.all().filter((m) => m.pass < pass),
      pageSize,
      continuationToken,
    );
  }
}

export class MemoryFindingRepository implements FindingRepository {
  readonly findings = new Documents<StoredFinding>();

  async ofKind(kind: FindingKind, pageSize: number, continuationToken?: string) {
    return pageOf(
      this.findings.all().filter((f) => f.kind === kind),
      pageSize,
      continuationToken,
    );
  }
  async get(kind: FindingKind, id: string) {
    const f = this.findings.get(id);
    return f?.kind === kind ? f : undefined;
  }
  async replace(finding: StoredFinding) {
    return this.findings.replace(finding.id, finding);
  }
}

export class MemoryImportJobRepository implements ImportJobRepository {
  readonly jobs = new Documents<JobDocument>();
  readonly chunks = new Documents<ChunkDocument>();

  async get(jobId: string) {
    return this.jobs.get(jobId);
  }
  async create(job: JobDocument) {
    return this.jobs.create(job.jobId, job);
  }
  async replace(job: JobDocument) {
    return this.jobs.replace(job.jobId, job);
  }
  async update(jobId: string, change: (current: JobDocument) => JobDocument | undefined) {
    for (;;) {
      const current = this.jobs.get(jobId);
      if (!current) return undefined;
      const next = change(current);
      if (!next) return current;
      try {
        return this.jobs.replace(jobId, next);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }
  async list(pageSize: number, continuationToken?: string) {
    const newestFirst = this.jobs.all().sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return pageOf(newestFirst, pageSize, continuationToken);
  }
  async chunk(jobId: string, index: number) {
    return this.chunks.get(`${jobId}.${index}`);
  }
  async createChunk(chunk: ChunkDocument) {
    this.chunks.create(chunk.id, chunk);
  }
  async replaceChunk(chunk: ChunkDocument) {
    return this.chunks.replace(chunk.id, chunk);
  }
  async chunksOf(jobId: string, pageSize: number, continuationToken?: string) {
    const inOrder = this.chunks
      .all()
      .filter((c) => c.jobId === jobId)
      .sort((a, b) => a.index - b.index);
    return pageOf(inOrder, pageSize, continuationToken);
  }
}

export class MemoryDecisionCountRepository implements DecisionCountRepository {
  readonly counts = new Map<string, HourCounts>();

  async save(instance: string, hours: readonly HourCounts[], _now: Date) {
    for (const h of hours) this.counts.set(`${h.hour}|${instance}`, structuredClone(h));
  }
  async ofHour(hour: string) {
    return [...this.counts.values()].filter((h) => h.hour === hour);
  }
}

export class MemoryPaceRepository implements PaceRepository {
  readonly paces = new Map<string, Pace>();
  /** Writes made: what a lease or a 429 costs in Cosmos. */
  writes = 0;

  async update(key: string, change: (current: Pace | undefined) => Pace) {
    const current = this.paces.get(key);
    const next = change(current && structuredClone(current));
    this.paces.set(key, structuredClone(next));
    this.writes++;
    return structuredClone(next);
  }
}
