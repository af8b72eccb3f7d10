/**
 * Submitting an incident whose create's answer was lost, over in-memory repositories: the store applied the create,
 * its retry met 409 — the same request from the same submitter, not yet announced, is the submitter's own, so it
 * is accepted and `incident.received` goes out once; a client's later retry, or another submitter, is a duplicate.
 */
import { CONTAINERS } from '../../../shared/containers';
import { ConflictError } from '../../../shared/errors';
import { type IncidentDeps, submitIncident } from '../../../shared/incidents';
import type { IncidentRequest } from '../../../shared/incidents/rules/incident';
import { CosmosDenyListRepository } from '../../../shared/incidents/store/deny-list-repository';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const ADMIN = { principal: 'admin-oid', source: 'http' as const };

function setup() {
  const store = new MemoryStore(partitionKeys);
  const incidents = new CosmosIncidentRepository(store);
  const denyList = new CosmosDenyListRepository(store);
  const events: Array<{ type: string; subject: string }> = [];
  const sent: unknown[] = [];
  const deps = {
    incidents: async () => incidents,
    denyList: async () => denyList,
    store: async () => store,
    queues: async () => ({ send: async (_q: string, m: unknown) => void sent.push(m) }),
    events: async () => ({ publish: async (e: Array<{ type: string; subject: string }>) => void events.push(...e) }),
    clock: { now: () => new Date('2026-11-25T10:00:00Z') },
  } as unknown as IncidentDeps;
  // The store applies the create, the answer is lost, and its own retry meets the incident it wrote: 409.
  const container = store.container(CONTAINERS.incidents.name);
  const realCreate = container.create.bind(container);
  let lose = true;
  container.create = async (doc) => {
    const written = await realCreate(doc);
    if (!lose) return written;
    lose = false;
    throw new ConflictError('conflict (the retry of a create whose answer was lost)', 409);
  };
  return { deps, events, sent, incidents };
}

const request: IncidentRequest = {
  id: 'inc-lost',
  reason: 'key leaked',
  mode: 'quarantine',
  scope: { registrationIds: ['dev-1'] },
};

test('a create whose answer was lost is the submitter’s own: accepted, announced once; a later retry is a duplicate', async () => {
  const s = setup();
  const first = await submitIncident(s.deps, request, ADMIN);
  expect(first.kind).toBe('accepted');
  expect(s.events.filter((e) => e.type === 'incident.received')).toEqual([
    expect.objectContaining({ subject: 'inc-lost' }),
  ]);
  expect(first).toMatchObject({ incident: { deniedAt: expect.any(String), announcedAt: expect.any(String) } });
  expect(s.sent).toEqual([{ incidentId: 'inc-lost' }]); // the worker queued

  // The client, not having heard, sends it again: the same incident, nothing new.
  expect((await submitIncident(s.deps, request, ADMIN)).kind).toBe('duplicate');
  // Another admin sending the very same request does not announce it either.
  expect((await submitIncident(s.deps, request, { principal: 'other-oid', source: 'http' })).kind).toBe('duplicate');
  expect(s.events.filter((e) => e.type === 'incident.received')).toHaveLength(1);
  // Another scope under the same id is refused.
  const other = { ...request, scope: { registrationIds: ['dev-2'] } };
  expect((await submitIncident(s.deps, other, ADMIN)).kind).toBe('conflict');
});

test('an incident another submitter created, not yet announced, is a duplicate to this one', async () => {
  const s = setup();
  // Another submitter's create landed (its answer lost to it): this one is not the creator, and announces nothing.
  expect((await submitIncident(s.deps, request, { principal: 'alert:security-alerts', source: 'alert' })).kind).toBe(
    'accepted',
  );
  await s.incidents.update('inc-lost', (i) => ({ ...i, announcedAt: undefined }));
  expect((await submitIncident(s.deps, request, ADMIN)).kind).toBe('duplicate');
  expect(s.events.filter((e) => e.type === 'incident.received')).toHaveLength(1);
});
