/** The console's expiry timeline, over the in-memory certificate repository: open certificates a week. */
import type { StoredCertificate } from '../../../shared/certificates/inventory-store';
import { monthOf } from '../../../shared/certificates/rules/record';
import { certificateTimeline } from '../../../shared/certificates/timeline';
import { MemoryCertificateRepository } from '../../support/memory-repositories';

const record = (id: string, notAfter: string, settled = false): StoredCertificate => ({
  id,
  expiryMonth: monthOf(notAfter),
  subject: `CN=${id}`,
  issuer: 'CN=ca',
  issuerKey: 'issuer:cn=ca',
  notBefore: '2025-01-01T00:00:00.000Z',
  notAfter,
  weaknesses: [],
  usages: [],
  raised: [],
  settled,
});

test('each week counts the open certificates ending in it, across a month boundary; settled ones are not counted', async () => {
  const repo = new MemoryCertificateRepository();
  for (const r of [
    record('A', '2026-01-29T00:00:00.000Z'),
    record('B', '2026-02-02T00:00:00.000Z'),
    record('C', '2026-02-03T00:00:00.000Z', true),
    record('D', '2026-02-09T00:00:00.000Z'),
  ])
    await repo.upsert(r);
  const weeks = await certificateTimeline(repo, new Date('2026-01-28T00:00:00.000Z'), 3);
  expect(weeks.map((w) => w.count)).toEqual([2, 1, 0]);
});
