/**
 * A redrive (unfenced, by design an admin's write) of a running incident while a share holds the lease and
 * has already passed the hub phase: the share's final write computes the status from steps it does not check are all
 * done, reports "contained" with the redriven hub step left 'running', and the redrive's own message then finds the
 * incident contained and never runs the step.
 */
import { CONTAINERS } from '../../../shared/containers';
import { advanceIncident } from '../../../shared/incidents/advance';
import { type IncidentDeps } from '../../../shared/incidents/deps';
import { redriveIncident } from '../../../shared/incidents/redrive';
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
const target = (i: number): Target => ({
  registrationId: `dev-${i}`,
  deviceId: `dev-${i}`,
  hub: 'hub-1',
  via: 'group',
});

test('a redrive landing after the hub phase of a share is not reported contained with its step never run', async () => {
  const store = new MemoryStore(partitionKeys);
  const repo = new CosmosIncidentRepository(store);
  const clock = manualClock(T0);
  const gaveUp = 'hub-1 unreachable for 30 min: gave up';
  const hubStep: StepState = {
    kind: 'hub',
    hub: 'hub-1',
    action: 'delete',
    path: 'bulk',
    state: 'failed',
    done: 0,
    total: 2,
    page: 0,
    offset: 0,
    errors: [gaveUp],
    gaveUp,
  } as StepState;
  const regStep: StepState = {
    kind: 'registrations',
    state: 'running',
    done: 0,
    total: 2,
    page: 0,
    offset: 0,
    errors: [],
  };
  await runningIncident(repo, 'inc-r', [hubStep, regStep], [[0, 1].map(target)]);

  let release!: () => void;
  const answer = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const inFlight = new Promise<void>((r) => (reached = r));
  const dps = {
    async deleteRegistrationState() {
      reached();
      await answer;
    },
  } as unknown as EnrollmentsPort;
  const published: string[] = [];
  const sent: unknown[] = [];
  // hub-1 is back: the re-driven step deletes its devices.
  const deleted: string[] = [];
  const hub = {
    async bulkDevices(_mode: string, devices: Array<{ deviceId: string }>) {
      deleted.push(...devices.map((d) => d.deviceId));
      return { isSuccessful: true, errors: [] };
    },
  };
  const deps = {
    incidents: async () => repo,
    hubs: async () => ({ hostNames: () => ['hub-1'], hub: () => hub }),
    store: async () => store,
    enrollments: async () => dps,
    queues: async () => ({ send: async (_q: string, m: unknown) => void sent.push(m) }),
    events: async () =>
      ({ publish: async (events) => void published.push(...events.map((e) => e.type)) }) as EventsPort,
    clock,
    budgetMs: 60_000,
    retry: { sleep: async (ms: number) => clock.advance(ms) },
  } as unknown as IncidentDeps;

  const share = advanceIncident(deps, 'inc-r');
  await inFlight; // the share is past the hub phase, deleting registrations
  const redriven = await redriveIncident(deps, 'inc-r', 'admin-2');
  expect(redriven.kind).toBe('done');
  release();
  await share;
  // The share that was running does not end the incident: a step it did not run is to run again.
  const after = (await repo.get('inc-r')) as Incident;
  expect(after.status).toBe('running');
  expect(published).not.toContain('incident.contained');
  // The redrive's message then comes and runs the hub step: only now is the incident contained, once.
  await advanceIncident(deps, 'inc-r');
  const final = (await repo.get('inc-r')) as Incident;
  expect({ status: final.status, hub: final.steps![0].state }).toEqual({ status: 'contained', hub: 'done' });
  expect(deleted.sort()).toEqual(['dev-0', 'dev-1']);
  expect(published.filter((t) => t === 'incident.contained')).toHaveLength(1);
});
