/** The certificate inventory on Cosmos (the `certificates` container, partitioned by end month; usage maps in `checkpoints`). */
import { CONTAINERS } from '../../containers';
import type { DocumentContainer, DocumentStore, Page } from '../../ports';
import type { CertificateRepository, StoredCertificate, UsageMap, UsageMapFields } from '../inventory-store';
import type { UsageKind } from '../rules/record';

const mapId = (kind: string, id: string) => `usage-map.${kind}.${id.toLowerCase()}`;

async function all<T>(query: (token?: string) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const page = await query(token);
    out.push(...page.items);
    token = page.continuationToken;
  } while (token);
  return out;
}

export class CosmosCertificateRepository implements CertificateRepository {
  private readonly records: DocumentContainer<StoredCertificate>;
  private readonly maps: DocumentContainer<UsageMap>;

  constructor(store: DocumentStore) {
    this.records = store.container<StoredCertificate>(CONTAINERS.certificates.name);
    this.maps = store.container<UsageMap>(CONTAINERS.checkpoints.name);
  }

  read(id: string, expiryMonth: string) {
    return this.records.read(id, expiryMonth);
  }

  upsert(record: StoredCertificate) {
    return this.records.upsert(record);
  }

  replace(record: StoredCertificate) {
    return this.records.replace(record);
  }

  async *endingBy(months: readonly string[], until: Date, openOnly: boolean): AsyncGenerator<StoredCertificate[]> {
    const sql = `SELECT * FROM c WHERE c.expiryMonth = @month${openOnly ? ' AND c.settled = false' : ''} AND c.notAfter <= @until`;
    for (const month of months) {
      let continuationToken: string | undefined;
      do {
        const page = await this.records.query(
          sql,
          { '@month': month, '@until': until.toISOString() },
          { partitionKey: month, maxItems: 1000, continuationToken },
        );
        continuationToken = page.continuationToken;
        yield page.items;
      } while (continuationToken);
    }
  }

  async openCountEndingBetween(month: string, from: Date, to: Date): Promise<number> {
    const page = await (this.records as unknown as DocumentContainer<never>).query(
      'SELECT VALUE COUNT(1) FROM c WHERE c.expiryMonth = @month AND c.settled = false AND c.notAfter >= @from AND c.notAfter < @to',
      { '@month': month, '@from': from.toISOString(), '@to': to.toISOString() },
      { partitionKey: month },
    );
    return Number(page.items[0] ?? 0);
  }

  async byThumbprint(thumbprint: string): Promise<StoredCertificate | undefined> {
    const t = thumbprint.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
    const page = await this.records.query(
      t.length === 40 ? 'SELECT * FROM c WHERE c.sha1Thumbprint = @t' : 'SELECT * FROM c WHERE c.id = @t',
      { '@t': t },
      { maxItems: 1 },
    );
    return page.items[0];
  }

  issuedBy(issuerKey: string, pageSize: number, continuationToken?: string) {
    return this.records.query(
      'SELECT * FROM c WHERE c.issuerKey = @key',
      { '@key': issuerKey },
      { maxItems: pageSize, continuationToken },
    );
  }

  allWithThumbprint(sha256: string) {
    return all((t) =>
      this.records.query('SELECT * FROM c WHERE c.id = @id', { '@id': sha256 }, { continuationToken: t }),
    );
  }

  allIssuedBy(issuerKey: string) {
    return all((t) =>
      this.records.query('SELECT * FROM c WHERE c.issuerKey = @key', { '@key': issuerKey }, { continuationToken: t }),
    );
  }

  usageMap(kind: UsageKind, entryId: string) {
    const id = mapId(kind, entryId);
    return this.maps.read(id, id);
  }

  async saveUsageMap(map: UsageMapFields) {
    const { kind, entryId, certs, pass } = map;
    await this.maps.upsert({ id: mapId(kind, entryId), type: 'usage-map', kind, entryId, certs, pass });
  }

  async deleteUsageMap(map: UsageMap) {
    await this.maps.delete(map.id, map.id);
  }

  usageMapsBefore(pass: number, pageSize: number, continuationToken?: string) {
    return this.maps.query(
      'SELECT * FROM c WHERE c.type = "usage-map" AND c.pass < @pass',
      { '@pass': pass },
      { maxItems: pageSize, continuationToken },
    );
  }
}
