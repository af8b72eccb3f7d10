/**
 * The certificate inventory as the use cases see it: a repository with the reads they need, each by its intention
 * (its Cosmos implementation is `store/cosmos-certificates.ts`; an in-memory one is in test/support/).
 */
import type { Page, StoredDocument } from '../ports';
import { type CertificateRecord, monthOf, type UsageKind } from './rules/record';

export type StoredCertificate = CertificateRecord & StoredDocument;

/** How far back expiry reads look for certificates that ended unseen (a first sweep, a long outage). */
export const LOOKBACK_DAYS = 730;

/** What a certificate's record says of one enrollment or group, kept to find the usages it lost (usage drift). */
export interface UsageMap extends StoredDocument {
  type: 'usage-map';
  kind: UsageKind;
  entryId: string;
  certs: Array<{ id: string; expiryMonth: string }>;
  pass: number;
}

/** What a usage map says (its id and type follow from them). */
export type UsageMapFields = Pick<UsageMap, 'kind' | 'entryId' | 'certs' | 'pass'>;

export interface CertificateRepository {
  /** The record of a certificate by its id (SHA-256 thumbprint) and the month it ends (its partition). */
  read(id: string, expiryMonth: string): Promise<StoredCertificate | undefined>;
  upsert(record: StoredCertificate): Promise<StoredCertificate>;
  /** Writes the record over the one read, under its etag (a ConflictError when written meanwhile). */
  replace(record: StoredCertificate): Promise<StoredCertificate>;
  /**
   * Pages of the records of `months` that end by `until` (only the open ones with `openOnly`): one single-partition
   * read a month, served by the index on notAfter, so what is read is what ends, not the fleet.
   */
  endingBy(months: readonly string[], until: Date, openOnly: boolean): AsyncGenerator<StoredCertificate[]>;
  /** How many open certificates of the month's partition end in [from, to). */
  openCountEndingBetween(month: string, from: Date, to: Date): Promise<number>;
  /** The record of a certificate by its SHA-256 (its id) or SHA-1 thumbprint, if any. */
  byThumbprint(thumbprint: string): Promise<StoredCertificate | undefined>;
  /**
   * One page of the certificates a CA issued, by its subject as the deny list compares names (`issuerKey`): how a
   * compromised CA finds the devices that presented a certificate it signed, whichever group admitted them.
   */
  issuedBy(issuerKey: string, pageSize: number, continuationToken?: string): Promise<Page<StoredCertificate>>;
  /** Every record of a SHA-256 thumbprint (one, unless it was seen with two end months). */
  allWithThumbprint(sha256: string): Promise<StoredCertificate[]>;
  /** Every certificate a CA issued (`issuerKey` as above). */
  allIssuedBy(issuerKey: string): Promise<StoredCertificate[]>;
  /** The usage map of an enrollment or group, if any, and writing it. */
  usageMap(kind: UsageKind, entryId: string): Promise<UsageMap | undefined>;
  saveUsageMap(map: UsageMapFields): Promise<void>;
  deleteUsageMap(map: UsageMap): Promise<void>;
  /** One page of the usage maps a reconciliation pass before `pass` wrote last: their entries are gone from DPS. */
  usageMapsBefore(pass: number, pageSize: number, continuationToken?: string): Promise<Page<UsageMap>>;
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
