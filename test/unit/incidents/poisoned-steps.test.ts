/**
 * A queue message that fails its last delivery: the work's error still reaches the host (which moves the message to
 * the poison queue), but first the incident notes why and what is left, and lets go of its lease; earlier deliveries
 * mark nothing. The count the helper stops at is the host's own (host.json).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { InvocationContext } from '@azure/functions';

import { markOnLastDelivery, MAX_DEQUEUE_COUNT } from '../../../functions/edge/deliveries';
import { CONTAINERS } from '../../../shared/containers';
import { TransientError } from '../../../shared/errors';
import { type IncidentDeps, noteStalled } from '../../../shared/incidents';
import { type Incident, newIncident } from '../../../shared/incidents/rules/model';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const delivery = (dequeueCount: number) =>
  new InvocationContext({ triggerMetadata: { dequeueCount }, logHandler: () => undefined });

test('the helper stops where the host does: host.json maxDequeueCount', () => {
  const host = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'host.json'), 'utf8'));
  expect(host.extensions.queues.maxDequeueCount).toBe(MAX_DEQUEUE_COUNT);
});

test('only the last delivery marks, and the error still reaches the host', async () => {
  const marked: string[] = [];
  const faults: unknown[] = [];
  const fault = new Error('hub unreachable');
  const fail = async () => {
    throw fault;
  };
  for (let count = 1; count <= MAX_DEQUEUE_COUNT; count++)
    await expect(
      markOnLastDelivery(delivery(count), fail, async (why, f) => void (marked.push(why), faults.push(f))),
    ).rejects.toThrow('hub unreachable');
  expect(marked).toEqual([`failed ${MAX_DEQUEUE_COUNT} deliveries, the last with: hub unreachable`]);
  expect(faults).toEqual([fault]); // the mark is told the fault itself, to name a store outage
  // A delivery that succeeds marks nothing.
  await markOnLastDelivery(
    delivery(MAX_DEQUEUE_COUNT),
    async () => undefined,
    async (why) => void marked.push(why),
  );
  expect(marked).toHaveLength(1);
});

test('a stalled incident notes why and the steps left, frees its lease, and a finished one is left alone', async () => {
  const repo = new CosmosIncidentRepository(new MemoryStore(partitionKeys));
  const events: Array<{ type: string }> = [];
  const deps = {
    incidents: async () => repo,
    events: async () => ({ publish: async (e: Array<{ type: string }>) => void events.push(...e) }),
    clock: { now: () => new Date('2026-11-25T10:00:00Z') },
  } as unknown as IncidentDeps;
  const request = { id: 'inc-p', reason: 'r', mode: 'contain' as const, scope: { enrollmentGroupId: 'g' } };
  const progress = { page: 0, offset: 0, errors: [] };
  await repo.create({
    ...newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z'),
    status: 'running',
    lease: { owner: 'w-1', until: Date.parse('2026-11-25T10:05:00Z') },
    steps: [
      { kind: 'dps', groupsToDisable: [], groupsDone: 0, state: 'done', done: 4, total: 4, ...progress },
      { kind: 'hub', hub: 'hub-1', action: 'delete', path: 'bulk', state: 'running', done: 30, total: 40, ...progress },
    ],
  });

  await noteStalled(deps, 'inc-p', 'failed 5 deliveries, the last with: hub unreachable');
  const stalled = (await repo.get('inc-p')) as Incident;
  expect(stalled.status).toBe('running');
  expect(stalled.lease).toBeUndefined();
  expect(stalled.notes).toEqual([
    '2026-11-25T10:00:00.000Z: stopped — the incident-steps message is in the poison queue (failed 5 deliveries, the last with: hub unreachable); steps left: hub on hub-1 (delete) 30/40',
  ]);
  expect(events.map((e) => e.type)).toEqual(['incident.stalled']);

  await repo.update('inc-p', (i) => ({ ...i, status: 'contained' }));
  await noteStalled(deps, 'inc-p', 'again');
  expect(((await repo.get('inc-p')) as Incident).notes).toHaveLength(1);
});

test('a store outage is named in the note: not waited for like a hub, left to redelivery, re-drive once it is back', async () => {
  const repo = new CosmosIncidentRepository(new MemoryStore(partitionKeys));
  const deps = {
    incidents: async () => repo,
    events: async () => ({ publish: async () => undefined }),
    clock: { now: () => new Date('2026-11-25T10:00:00Z') },
  } as unknown as IncidentDeps;
  const request = { id: 'inc-c', reason: 'r', mode: 'contain' as const, scope: { enrollmentGroupId: 'g' } };
  await repo.create({ ...newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z'), status: 'planning' });
  const cosmos = Object.assign(new TransientError('connection lost: ECONNREFUSED', undefined), {
    service: 'cosmos' as const,
  });
  await noteStalled(deps, 'inc-c', 'failed 5 deliveries, the last with: connection lost: ECONNREFUSED', cosmos);
  expect(((await repo.get('inc-c')) as Incident).notes.at(-1)).toMatch(
    /Cosmos DB, which holds the incident's checkpoint, stayed unreachable past the retries: .* left to the queue's redelivery — re-drive the incident once Cosmos answers \(POST \/api\/incidents\/inc-c\/redrive\)$/,
  );
  // Any other fault: no word of Cosmos.
  await repo.update('inc-c', (i) => ({ ...i, notes: [] }));
  await noteStalled(deps, 'inc-c', 'failed 5 deliveries', new TransientError('503', 503));
  expect(((await repo.get('inc-c')) as Incident).notes.at(-1)).not.toMatch(/Cosmos/);
});
