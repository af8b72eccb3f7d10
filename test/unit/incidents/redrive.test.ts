/**
 * An admin's re-drive, over in-memory repositories: a failed incident's steps that gave up on an outage run again
 * from their checkpoints (their other errors kept), recorded in a note and once in the audit, and the worker is
 * queued; a stalled incident is queued again as it is; an incident with nothing to re-drive is a conflict that says why.
 */
import { CONTAINERS } from '../../../shared/containers';
import { type IncidentDeps, redriveIncident } from '../../../shared/incidents';
import { type Incident, newIncident } from '../../../shared/incidents/rules/model';
import { redriveOf } from '../../../shared/incidents/rules/redrive';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const GAVE_UP =
  'hub-2: unreachable since 2026-11-25T08:00:00.000Z (1800 s, 30 tries; the last: connection lost); 20 of 40 devices left on hub-2 (delete not done)';

const progress = { page: 1, offset: 20, startedAt: '2026-11-25T08:00:00Z', finishedAt: '2026-11-25T08:30:00Z' };
const steps = (): StepState[] => [
  { kind: 'dps', groupsToDisable: [], groupsDone: 0, state: 'done', done: 4, total: 4, errors: [], ...progress },
  {
    kind: 'hub',
    hub: 'hub-1',
    action: 'delete',
    path: 'bulk',
    state: 'failed',
    done: 40,
    total: 40,
    errors: ['hub-1/dev-9: DeviceMaximumQueueDepthExceeded'],
    ...progress,
  },
  {
    kind: 'hub',
    hub: 'hub-2',
    action: 'delete',
    path: 'bulk',
    state: 'failed',
    done: 20,
    total: 40,
    errors: ['hub-2/dev-3: refused', GAVE_UP],
    gaveUp: GAVE_UP,
    ...progress,
  },
];

function setup() {
  const store = new MemoryStore(partitionKeys);
  const repo = new CosmosIncidentRepository(store);
  const sent: unknown[] = [];
  const events: string[] = [];
  const deps = {
    incidents: async () => repo,
    store: async () => store,
    queues: async () => ({ send: async (_q: string, m: unknown) => void sent.push(m) }),
    events: async () => ({ publish: async (e: Array<{ type: string }>) => void events.push(...e.map((x) => x.type)) }),
    clock: { now: () => new Date('2026-11-25T11:00:00Z') },
  } as unknown as IncidentDeps;
  const add = (id: string, status: Incident['status'], s = steps()) =>
    repo.create({
      ...newIncident(
        { id, reason: 'r', mode: 'contain', scope: { enrollmentGroupId: 'g' } },
        'a',
        'http',
        '2026-11-25T07:55:00Z',
      ),
      status,
      steps: s,
      completedAt: '2026-11-25T08:30:00Z',
    });
  const audits = async () =>
    (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items as unknown as Array<{
      id: string;
      action: string;
      actor: string;
      after: unknown;
    }>;
  return { repo, deps, sent, events, add, audits };
}

test('a failed incident: the step that gave up on its hub runs again from its checkpoint; the others stay', async () => {
  const s = setup();
  await s.add('inc-f', 'failed');
  const result = await redriveIncident(s.deps, 'inc-f', 'admin-2');
  expect(result.kind).toBe('done');
  const after = (await s.repo.get('inc-f')) as Incident;
  expect(after).toMatchObject({ status: 'running', redrives: 1 });
  expect(after.completedAt).toBeUndefined();
  const [dps, hub1, hub2] = after.steps as StepState[];
  expect(dps.state).toBe('done');
  // Its devices' own errors are the hub's answers: not retried, the step stays failed.
  expect(hub1).toMatchObject({ state: 'failed', errors: ['hub-1/dev-9: DeviceMaximumQueueDepthExceeded'] });
  // From where it stopped: page, position and count kept; the give-up gone from its errors, the other error kept.
  expect(hub2).toMatchObject({ state: 'running', page: 1, offset: 20, done: 20, errors: ['hub-2/dev-3: refused'] });
  expect(hub2.gaveUp).toBeUndefined();
  expect(hub2.finishedAt).toBeUndefined();
  expect(after.notes.at(-1)).toBe(
    `2026-11-25T11:00:00.000Z: re-driven by admin-2: retried from their checkpoints: hub hub-2 (delete) (they had given up: ${GAVE_UP})`,
  );
  expect(s.sent).toEqual([{ incidentId: 'inc-f' }]);
  expect(s.events).toEqual(['incident.redriven']);
  expect(await s.audits()).toEqual([
    expect.objectContaining({
      id: 'inc-f.redrive.1',
      action: 'redriveIncident',
      actor: 'admin-2',
      after: { status: 'running', retried: ['hub hub-2 (delete)'] },
    }),
  ]);
  // Re-driven again while it runs: queued again, numbered apart in the audit; nothing is reset twice.
  expect((await redriveIncident(s.deps, 'inc-f', 'admin-2')).kind).toBe('done');
  expect((await s.audits()).map((a) => a.id).sort()).toEqual(['inc-f.redrive.1', 'inc-f.redrive.2']);
});

test('a stalled incident is queued again as it is; one with nothing to re-drive is a conflict saying why', async () => {
  const s = setup();
  await s.add('inc-s', 'releasing', []);
  expect(await redriveIncident(s.deps, 'inc-s', 'admin')).toMatchObject({
    kind: 'done',
    incident: { status: 'releasing' },
  });
  expect(s.sent).toEqual([{ incidentId: 'inc-s' }]);
  expect(((await s.repo.get('inc-s')) as Incident).notes.at(-1)).toMatch(/re-driven by admin: its work queued again$/);

  await s.add('inc-c', 'contained', []);
  expect(await redriveIncident(s.deps, 'inc-c', 'admin')).toEqual({
    kind: 'conflict',
    reason: expect.stringMatching(/^incident inc-c is contained: only a failed incident, or one whose work stopped/),
  });
  // Failed on the devices' own errors only: a retry would change nothing.
  await s.add('inc-d', 'failed', steps().slice(0, 2));
  expect(await redriveIncident(s.deps, 'inc-d', 'admin')).toMatchObject({
    kind: 'conflict',
    reason: expect.stringMatching(/none of its failed steps gave up on an outage/),
  });
  expect(await redriveIncident(s.deps, 'nope', 'admin')).toEqual({ kind: 'notFound' });
  expect(s.sent).toHaveLength(1);
  expect(redriveOf({ status: 'awaitingApproval', steps: [] })).toHaveProperty('refused');
});
