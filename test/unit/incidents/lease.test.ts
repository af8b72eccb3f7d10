/**
 * The incident's lease as a fence, over in-memory repositories on a manual clock: a share that outlives its lease (its
 * calls slow to answer) while another worker takes the incident over writes nothing once it has lost the lease — no
 * checkpoint from its stale read moving the step back or dropping the errors the other recorded, no step finished
 * again, no second "contained". The lease's margin past the deadline covers the longest IoT call.
 */
import { IOT_DEADLINE_MS, iotDeadlineMs } from '../../../shared/azure/iot-deadlines';
import { CONTAINERS } from '../../../shared/containers';
import { advanceIncident } from '../../../shared/incidents/advance';
import { type IncidentDeps } from '../../../shared/incidents/deps';
import { fenced, LEASE_MARGIN_MS, LeaseLostError, takeLease } from '../../../shared/incidents/lease';
import { walkPages } from '../../../shared/incidents/page-walker';
import type { Incident } from '../../../shared/incidents/rules/model';
import type { Target } from '../../../shared/incidents/rules/resolution';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import type { EnrollmentsPort, EventsPort } from '../../../shared/ports';
import { manualClock } from '../../support/manual-clock';
import { MemoryStore } from '../../support/memory-store';
import { runningIncident } from '../../support/received-incidents';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const T0 = Date.parse('2026-11-25T10:00:00Z');
const BUDGET_MS = 60_000;

const target = (i: number): Target => ({
  registrationId: `dev-${i}`,
  deviceId: `dev-${i}`,
  hub: 'hub-1',
  via: 'group',
});

async function setUp(step: StepState, targets: Target[]) {
  const store = new MemoryStore(partitionKeys);
  const repo = new CosmosIncidentRepository(store);
  const clock = manualClock(T0);
  await runningIncident(repo, 'inc-l', [step], [targets]);
  const read = async () => (await repo.get('inc-l')) as Incident;
  return { store, repo, clock, read };
}

/** A promise the test resolves, and one that says it was reached. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

test('a walk that lost its lease mid-batch writes no checkpoint: the step neither moves back nor loses errors', async () => {
  const hubStep: StepState = {
    kind: 'hub',
    hub: 'hub-1',
    action: 'delete',
    path: 'bulk',
    state: 'running',
    done: 0,
    total: 4,
    page: 0,
    offset: 0,
    errors: [],
  };
  const s = await setUp(hubStep, [0, 1, 2, 3].map(target));
  const deps = { incidents: async () => s.repo, clock: s.clock, budgetMs: BUDGET_MS } as unknown as IncidentDeps;
  const as = (owner: string) => ({ ...deps, incidents: async () => fenced(s.repo, 'inc-l', owner) });

  // Worker A takes the lease and starts its first batch; the hub is slow to answer it.
  const startedA = await takeLease(deps, 'inc-l', 'A');
  const reached = gate();
  const answer = gate();
  const walkA = walkPages(
    as('A'),
    startedA!,
    0,
    {
      matches: () => true,
      batch: 2,
      act: async (targets) => {
        reached.open();
        await answer.opened;
        return [`A: ${targets[0].deviceId} failed`];
      },
    },
    T0 + BUDGET_MS,
  );
  await reached.opened;

  // A's lease runs out; worker B takes the incident over and walks the whole step, recording a failure a batch.
  expect(await takeLease(deps, 'inc-l', 'B')).toBeUndefined(); // held while A's lease lasts
  s.clock.advance(BUDGET_MS + LEASE_MARGIN_MS + 1);
  const tookOver = await takeLease(deps, 'inc-l', 'B');
  const walkB = {
    matches: () => true,
    batch: 2,
    act: async (targets: Target[]) => [`B: ${targets[0].deviceId} failed`],
  };
  expect(await walkPages(as('B'), tookOver!, 0, walkB, s.clock.millis() + BUDGET_MS)).toBe(true);
  const byB = (await s.read()).steps![0];
  expect(byB).toMatchObject({ page: 1, offset: 0, done: 4, errors: ['B: dev-0 failed', 'B: dev-2 failed'] });

  // A's hub answers at last: its checkpoint, from the step it read before B, is refused.
  answer.open();
  await expect(walkA).rejects.toBeInstanceOf(LeaseLostError);
  expect((await s.read()).steps![0]).toEqual(byB);
  expect((await s.read()).lease?.owner).toBe('B');
});

test('a share that outlived its lease ends without a write: the step, the status and "contained" are the new worker’s', async () => {
  const N = 8; // one batch, every delete of it in flight at once (DPS_SINGLE_IN_FLIGHT is 10)
  const s = await setUp(
    { kind: 'registrations', state: 'running', done: 0, total: N, page: 0, offset: 0, errors: [] },
    Array.from({ length: N }, (_, i) => target(i)),
  );
  const published: string[] = [];
  let slow = true;
  const inFlight = { count: 0, all: gate() };
  const answer = gate();
  const dps = {
    async deleteRegistrationState() {
      if (!slow) return;
      // Worker A's deletes: DPS takes them, and answers only when the test says.
      if (++inFlight.count === N) inFlight.all.open();
      await answer.opened;
    },
  } as unknown as EnrollmentsPort;
  const deps = {
    incidents: async () => s.repo,
    store: async () => s.store,
    enrollments: async () => dps,
    events: async () =>
      ({ publish: async (events) => void published.push(...events.map((e) => e.type)) }) as EventsPort,
    clock: s.clock,
    budgetMs: BUDGET_MS,
    retry: { sleep: async (ms: number) => s.clock.advance(ms) },
  } as unknown as IncidentDeps;

  const shareA = advanceIncident(deps, 'inc-l');
  await inFlight.all.opened;
  s.clock.advance(BUDGET_MS + LEASE_MARGIN_MS + 1);
  slow = false;
  // Another message (the next share, a redrive, a cancel) finds the lease expired and runs the step to its end.
  const shareB = await advanceIncident(deps, 'inc-l');
  expect(shareB).toMatchObject({ more: false, incident: { status: 'contained' } });
  const byB = await s.read();

  answer.open();
  const a = await shareA;
  // A hears another worker has the incident, and asks to come back (the next share finds it contained and stops).
  expect(a.more).toBe(true);
  const after = await s.read();
  expect(after.steps).toEqual(byB.steps);
  expect(after.status).toBe('contained');
  expect(after.completedAt).toBe(byB.completedAt);
  expect(after.notes).toEqual(byB.notes);
  expect(published.filter((t) => t === 'incident.contained')).toHaveLength(1);
  expect(published.filter((t) => t === 'incident.step')).toHaveLength(1);
});

test('the lease outlives a share’s deadline by more than the longest IoT call', () => {
  // What may still run past the deadline is a call already sent: a bulk one is abandoned after twice IOT_DEADLINE_MS.
  const longest = Math.max(iotDeadlineMs('POST', '/devices'), iotDeadlineMs('DELETE', '/registrations/x'));
  expect(longest).toBe(2 * IOT_DEADLINE_MS);
  expect(LEASE_MARGIN_MS).toBeGreaterThan(longest);
});
