/** Listing and suppressing findings through the repository: the in-memory one, the same contract as Cosmos's. */
import { CONTAINERS } from '../../../shared/containers';
import { listFindings, type StoredFinding, suppressFinding } from '../../../shared/findings';
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
