/** The inventory's container, typed, and the one way it is read by expiry: month partition by month. */
import { CONTAINERS } from '../containers';
import type { DocumentStore, StoredDocument } from '../ports';
import { type CertificateRecord, monthOf } from './rules/record';

export type StoredCertificate = CertificateRecord & StoredDocument;

/** How far back expiry reads look for certificates that ended unseen (a first sweep, a long outage). */
export const LOOKBACK_DAYS = 730;

export function certificates(store: DocumentStore) {
  return store.container<StoredCertificate>(CONTAINERS.certificates.name);
}

/** Months (YYYY-MM) from `from` to `to`, both included. */
export function monthsBetween(from: Date, to: Date): string[] {
  const months: string[] = [];
  const d = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1));
  while (d <= to) {
    months.push(monthOf(d.toISOString()));
    d.setUTCMonth(d.getUTCMonth() + 1);
  }
  return months;
}

/**
 * Pages of the records of `months` that end by `until` (only the open ones with `openOnly`): one single-partition
 * query a month, served by the index on notAfter, so what is read is what ends, not the fleet.
 */
export async function* recordsEndingBy(
  store: DocumentStore,
  months: readonly string[],
  until: Date,
  openOnly: boolean,
): AsyncGenerator<StoredCertificate[]> {
  const sql = `SELECT * FROM c WHERE c.expiryMonth = @month${openOnly ? ' AND c.settled = false' : ''} AND c.notAfter <= @until`;
  for (const month of months) {
    let continuationToken: string | undefined;
    do {
      const page = await certificates(store).query(
        sql,
        { '@month': month, '@until': until.toISOString() },
        { partitionKey: month, maxItems: 1000, continuationToken },
      );
      continuationToken = page.continuationToken;
      yield page.items;
    } while (continuationToken);
  }
}

/** The inventory's record of a certificate by its SHA-256 (its id) or SHA-1 thumbprint, if any. */
export async function certificateByThumbprint(
  store: DocumentStore,
  thumbprint: string,
): Promise<StoredCertificate | undefined> {
  const t = thumbprint.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  const page = await certificates(store).query(
    t.length === 40 ? 'SELECT * FROM c WHERE c.sha1Thumbprint = @t' : 'SELECT * FROM c WHERE c.id = @t',
    { '@t': t },
    { maxItems: 1 },
  );
  return page.items[0];
}

/**
 * One page of the certificates a CA issued, by its subject as the deny list compares names (`issuerKey`): how a
 * compromised CA finds the devices that presented a certificate it signed, whichever group admitted them.
 */
export function certificatesIssuedBy(
  store: DocumentStore,
  issuerKey: string,
  pageSize: number,
  continuationToken?: string,
) {
  return certificates(store).query(
    'SELECT * FROM c WHERE c.issuerKey = @key',
    { '@key': issuerKey },
    { maxItems: pageSize, continuationToken },
  );
}
