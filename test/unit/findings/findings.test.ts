/** Listing and suppressing findings through the repository: the in-memory one, the same contract as Cosmos's. */
import { CONTAINERS } from '../../../shared/containers';
import { listFindings, raiseOnce, type StoredFinding, suppressFinding } from '../../../shared/findings';
import type { DomainEvent } from '../../../shared/ports';
import { MemoryFindingRepository } from '../../support/memory-repositories';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const finding = (id: string, raisedAt: string, extra: Partial<StoredFinding> = {}): StoredFinding => ({
  id,
  kind: 'audit',
  code: 'WEAK_KEY',
  raisedAt,
  ...extra,
});

test('open findings of a kind, newest first; the suppressed ones only when asked', async () => {
  const repo = new MemoryFindingRepository();
  repo.findings.put('a', finding('a', '2026-01-01T00:00:00Z'));
  repo.findings.put('b', finding('b', '2026-02-01T00:00:00Z'));
  repo.findings.put('c', finding('c', '2026-03-01T00:00:00Z', { suppressed: { by: 'x', reason: 'known', at: '' } }));
  repo.findings.put('d', finding('d', '2026-04-01T00:00:00Z', { kind: 'expiry' }));
  const open = await listFindings(repo, { kind: 'audit', suppressed: false });
  expect(open.findings.map((f) => f.id)).toEqual(['b', 'a']);
  expect(open.findings[0]).not.toHaveProperty('_etag');
  expect((await listFindings(repo, { kind: 'audit', suppressed: true })).findings.map((f) => f.id)).toEqual(['c']);
});

test('a suppression is written with who and why, and audited; an unknown finding is not found', async () => {
  const repo = new MemoryFindingRepository();
  const store = new MemoryStore(partitionKeys);
  repo.findings.put('a', finding('a', '2026-01-01T00:00:00Z'));
  const deps = { findings: async () => repo, store: async () => store };
  const now = new Date('2026-05-01T00:00:00Z');
  expect(await suppressFinding(deps, { kind: 'audit', id: 'a' }, 'ops@contoso', 'a lab device', now)).toEqual({
    by: 'ops@contoso',
    reason: 'a lab device',
    at: now.toISOString(),
  });
  expect((await repo.get('audit', 'a'))?.suppressed?.reason).toBe('a lab device');
  const audited = await store.container(CONTAINERS.audit.name).query('SELECT * FROM c', {}, {});
  expect(audited.items).toMatchObject([{ actor: 'ops@contoso', action: 'finding.suppressed' }]);
  expect(await suppressFinding(deps, { kind: 'audit', id: 'zz' }, 'ops@contoso', 'why', now)).toBeUndefined();
});

test('a raise whose answer was lost (the store tried again and met 409) still tells the finding, once', async () => {
  const store = new MemoryStore(partitionKeys);
  const findings = store.container<StoredFinding>(CONTAINERS.findings.name);
  // The first create's answer is lost after the write; the store tries again and meets the finding it wrote.
  const create = findings.create.bind(findings);
  let lose = true;
  findings.create = async (doc) => {
    if (!lose) return create(doc);
    lose = false;
    await create(doc);
    return create(doc);
  };
  const published: DomainEvent[] = [];
  const events = { publish: async (e: DomainEvent[]) => void published.push(...e), close: async () => undefined };
  const event = { type: 'certificate.expiring', subject: 'AB', data: { code: 'CERT_EXPIRES_WITHIN_30D' } };
  const raise = () =>
    raiseOnce(store, events, finding('expiry.AB.30', '2026-01-01T00:00:00Z', { kind: 'expiry' }), event);
  expect(await raise()).toBe(true);
  expect(published).toEqual([
    { ...event, time: '2026-01-01T00:00:00Z', data: { findingId: 'expiry.AB.30', code: 'CERT_EXPIRES_WITHIN_30D' } },
  ]);
  // Raised and told before: nothing more, whoever asks.
  expect(await raise()).toBe(false);
  expect(published).toHaveLength(1);
  expect((await findings.query('SELECT * FROM c', {}, {})).items).toMatchObject([{ published: true }]);
});

test('a finding written by a raise that died before its event is told by the next raise', async () => {
  const store = new MemoryStore(partitionKeys);
  const findings = store.container<StoredFinding>(CONTAINERS.findings.name);
  const published: DomainEvent[] = [];
  const events = { publish: async (e: DomainEvent[]) => void published.push(...e), close: async () => undefined };
  const event = { type: 'certificate.audit', subject: 'CD', data: {} };
  await findings.create({ ...finding('audit.X.CD', '2026-01-01T00:00:00Z'), published: false });
  // A finding raised before the mark existed counts as told.
  await findings.create(finding('audit.Y.CD', '2026-01-01T00:00:00Z'));
  expect(await raiseOnce(store, events, finding('audit.X.CD', '2026-02-01T00:00:00Z'), event)).toBe(true);
  expect(await raiseOnce(store, events, finding('audit.Y.CD', '2026-02-01T00:00:00Z'), event)).toBe(false);
  expect(published.map((e) => e.data.findingId)).toEqual(['audit.X.CD']);
  expect(await findings.read('audit.X.CD', 'audit')).toMatchObject({ published: true });
});

test('the event’s findingId is the finding’s own: data naming another (an alert’s, say) cannot stand in for it', async () => {
  const store = new MemoryStore(partitionKeys);
  const published: DomainEvent[] = [];
  const events = { publish: async (e: DomainEvent[]) => void published.push(...e), close: async () => undefined };
  const forged = {
    type: 'incident.alertRejected',
    subject: 'alert.1',
    data: { reason: 'x', findingId: 'expiry.AB.30' },
  };
  expect(await raiseOnce(store, events, finding('alert.1', '2026-03-01T00:00:00Z', { kind: 'alert' }), forged)).toBe(
    true,
  );
  expect(published.map((e) => e.data.findingId)).toEqual(['alert.1']);
});
