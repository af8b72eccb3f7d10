/**
 * Resuming a step, over the in-memory document store: a walk through the pages of targets that dies part-way (as a
 * killed instance would) goes on, in the next share, from the batch after its last checkpoint — every target acted on,
 * only the batch that was cut short done again.
 */
import { CONTAINERS } from '../../../shared/containers';
import type { IncidentDeps } from '../../../shared/incidents';
import { walkPages } from '../../../shared/incidents/page-walker';
import { type Incident, newIncident } from '../../../shared/incidents/rules/model';
import type { Target } from '../../../shared/incidents/rules/resolution';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));

async function setUp(pages: number, perPage: number) {
  const repo = new CosmosIncidentRepository(new MemoryStore(partitionKeys));
  const request = { id: 'inc-1', reason: 'r', mode: 'contain' as const, scope: { enrollmentGroupId: 'g' } };
  const step: StepState = {
    kind: 'hub',
    hub: 'hub-1',
    action: 'delete',
    path: 'bulk',
    state: 'running',
    done: 0,
    total: pages * perPage,
    page: 0,
    offset: 0,
    errors: [],
  };
  await repo.create({
    ...newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z'),
    status: 'running',
    resolution: { phase: 'done', index: 0, pages, memberGroups: [], caGroups: [] },
    steps: [step],
  });
  for (let p = 0; p < pages; p++) {
    const targets: Target[] = Array.from({ length: perPage }, (_, i) => ({
      registrationId: `d-${p}-${i}`,
      deviceId: `d-${p}-${i}`,
      hub: i % 5 === 4 ? 'hub-2' : 'hub-1', // one in five on another hub: not this step's
      via: 'group',
    }));
    await repo.putTargets('inc-1', p, targets);
  }
  const deps = { incidents: async () => repo } as unknown as IncidentDeps;
  return { repo, deps, read: async () => (await repo.get('inc-1')) as Incident };
}

test('a walk killed part-way resumes from its checkpoint: every target once, the cut batch again', async () => {
  const { deps, read } = await setUp(3, 50); // 40 of each page's 50 are on hub-1: 120 in all, batches of 15
  const acted: string[] = [];
  let batches = 0;
  const walk = (dieAt?: number) => ({
    matches: (t: Target) => t.hub === 'hub-1',
    batch: 15,
    act: async (targets: Target[]) => {
      if (++batches === dieAt) throw new Error('instance killed');
      acted.push(...targets.map((t) => t.registrationId));
      return [];
    },
  });
  await expect(walkPages(deps, await read(), 0, walk(5), Date.now() + 60_000)).rejects.toThrow('instance killed');
  const halfway = (await read()).steps![0];
  expect(halfway).toMatchObject({ page: 1, offset: 15, done: 55 }); // page 0: 15+15+10; page 1: 15 — then killed

  expect(await walkPages(deps, await read(), 0, walk(), Date.now() + 60_000)).toBe(true);
  expect(new Set(acted).size).toBe(120);
  expect(acted).toHaveLength(120); // the killed batch never acted, so nothing twice
  expect((await read()).steps![0]).toMatchObject({ page: 3, offset: 0, done: 120 });
});

test('a walk stops at its deadline with its place kept, and the next share finishes it', async () => {
  const { deps, read } = await setUp(2, 50);
  const acted: string[] = [];
  const walk = {
    matches: () => true,
    batch: 20,
    act: async (t: Target[]) => (acted.push(...t.map((x) => x.registrationId)), []),
  };
  expect(await walkPages(deps, await read(), 0, walk, Date.now() - 1)).toBe(false); // out of time before a batch
  expect(acted).toEqual([]);
  expect(await walkPages(deps, await read(), 0, walk, Date.now() + 60_000)).toBe(true);
  expect(acted).toHaveLength(100);
});
