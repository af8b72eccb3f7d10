/**
 * A record written once under a stable id is filed under the day of the work it belongs to, not the day of the write:
 * replayed after midnight UTC it meets its first write in the same partition (409) and is stored once — for an
 * incident's change (filed under the incident's receipt), an operator's group (its claim) and the audit itself.
 * Over the in-memory store, which keeps each partition apart as Cosmos does.
 */
import { audit } from '../../shared/audit';
import { CONTAINERS } from '../../shared/containers';
import type { EnrollmentGroup } from '../../shared/dps-types';
import { NotFoundError } from '../../shared/errors';
import { createGroup, type GroupDeps, parseGroupRequest } from '../../shared/groups';
import { CosmosGroupClaimRepository } from '../../shared/groups/store/cosmos-group-claims';
import { auditIdOf, type IncidentDeps } from '../../shared/incidents/deps';
import { deleteRegistration } from '../../shared/incidents/dps-records';
import type { EnrollmentsPort } from '../../shared/ports';
import { manualClock } from '../support/manual-clock';
import { MemoryStore } from '../support/memory-store';
import { receivedIncidents } from '../support/received-incidents';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const BEFORE_MIDNIGHT = Date.parse('2026-11-25T23:59:30Z');
const record = {
  actor: 'incident:inc-m',
  action: 'deleteRegistration',
  target: { kind: 'registration' as const, id: 'r' },
};

const stored = async (store: MemoryStore) =>
  (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items as unknown as Array<{
    id: string;
    day: string;
    at: string;
    before?: unknown;
  }>;

test('a stable-id record written again on the next UTC day is stored once, filed under its work’s day', async () => {
  const store = new MemoryStore(partitionKeys);
  const once = { id: 'inc-m.registration.r.deleted', day: '2026-11-25' };
  await audit(store, record, new Date(BEFORE_MIDNIGHT), once);
  await audit(store, record, new Date(BEFORE_MIDNIGHT + 60_000), once);
  await audit(store, record, new Date(BEFORE_MIDNIGHT + 3 * 86_400_000), Promise.resolve(once));
  expect(await stored(store)).toEqual([
    expect.objectContaining({ id: once.id, day: '2026-11-25', at: '2026-11-25T23:59:30.000Z' }),
  ]);
  // A record of no stable id is filed under the day it is written, each write its own record.
  await audit(store, record, new Date(BEFORE_MIDNIGHT + 60_000));
  expect((await stored(store)).map((d) => d.day).sort()).toEqual(['2026-11-25', '2026-11-26']);
  await expect(audit(store, record, new Date(), { id: 'x', day: '26/11/2026' })).rejects.toThrow(/bad filing day/);
});

test('an incident’s change replayed after midnight (a share run again) is recorded once, under the incident’s day', async () => {
  const store = new MemoryStore(partitionKeys);
  const clock = manualClock(BEFORE_MIDNIGHT);
  const held = new Set(['dev-m']);
  const deps = {
    incidents: receivedIncidents(store, ['inc-m'], '2026-11-25T22:10:00Z'),
    store: async () => store,
    enrollments: async () =>
      ({
        deleteRegistrationState: async (id: string) => {
          if (!held.delete(id)) throw new NotFoundError(`registration ${id} not found`);
        },
      }) as unknown as EnrollmentsPort,
    clock,
  } as unknown as IncidentDeps;
  await deleteRegistration(deps, 'inc-m', 'dev-m');
  clock.advance(60_000); // 00:00:30 the next day: the share that stopped before its checkpoint runs again
  await deleteRegistration(deps, 'inc-m', 'dev-m');
  const records = await stored(store);
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({
    id: auditIdOf('inc-m', 'registration', 'dev-m', 'deleted'),
    day: '2026-11-25',
    at: '2026-11-25T23:59:30.000Z',
    before: { registered: true },
  });
});

test('a group’s creation retried after midnight is audited once, under the day of its claim', async () => {
  const store = new MemoryStore(partitionKeys);
  const groups = new Map<string, EnrollmentGroup>();
  let now = BEFORE_MIDNIGHT;
  const deps: GroupDeps = {
    enrollments: async () =>
      ({
        getGroup: async (id: string) => groups.get(id),
        putGroup: async (g: EnrollmentGroup) => (groups.set(g.enrollmentGroupId, g), g),
      }) as unknown as EnrollmentsPort,
    store: async () => store,
    groupClaims: async () => new CosmosGroupClaimRepository(store),
    webhookUrl: 'https://backend.example/api/allocate?code=k',
    now: () => new Date(now),
  };
  const parsed = parseGroupRequest('line-m', { attestation: { type: 'symmetricKey' } });
  if (!parsed.ok) throw new Error(parsed.reason);
  expect((await createGroup(deps, parsed.value, 'admin-oid')).kind).toBe('created');
  now += 60_000;
  expect((await createGroup(deps, parsed.value, 'admin-oid')).kind).toBe('unchanged');
  const records = (await stored(store)).filter((d) => d.id.startsWith('group.line-m.'));
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ day: '2026-11-25' });
});
