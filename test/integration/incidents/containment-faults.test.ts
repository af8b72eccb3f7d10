/**
 * Containment on a seeded fault plan and the manual clock: the hubs, DPS and Cosmos lose answers to writes they
 * applied and answer 503, and one hub is down for a while. The worker's shares run as the queue trigger runs them
 * (a share that asks for a delay comes that much later on the clock; one that throws would be delivered again).
 * Every targeted device is removed once, audited once per step, held exactly, and nothing else is touched; the hub
 * that was down is waited for while the others go on, and spends none of the message's deliveries. A hub down for
 * longer than the step's outage budget ends the incident `failed`, saying which hub and how many devices are left.
 * Counts come from the simulator's side (dev/sim/removals.ts) and the audit container, not from the incident.
 */
import { type FaultPlan, NO_FAULTS } from '../../../dev/faults/plan';
import { tallyHubRemovals, tallyRegistrationRemovals } from '../../../dev/sim/removals';
import { decideIncident, submitIncident } from '../../../shared/incidents';
import { disabledReason } from '../../../shared/incidents/rules/hub-answers';
import { hubJobContainer } from '../../../shared/incidents/rules/hub-job-container';
import type { IncidentRequest } from '../../../shared/incidents/rules/incident';
import type { Incident } from '../../../shared/incidents/rules/model';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { containmentRig, stepOf } from '../../support/containment-rig';
import { auditRecords, perTarget, tallyAudit } from '../../support/containment-tally';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';

const [EU1, EU2, US1] = ['hub-eu-1', 'hub-eu-2', 'hub-us-1'].map((h) => `${h}.azure-devices.net`);
const HUBS = [EU1, EU2, US1];
const ADMIN = { principal: 'test admin', source: 'http' as const };
const SECOND_ADMIN = 'second admin';

const clock = manualClock(Date.parse('2026-11-25T08:00:00Z'));
let stack: TestStack;
let faults: NonNullable<TestStack['faults']>;

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true, clock: clock.millis, faults: NO_FAULTS });
  faults = stack.faults as NonNullable<TestStack['faults']>;
});
afterAll(async () => {
  await stack?.close();
});

/** Lost answers and 503s on every service the worker writes to; `extra` rules go first (the first that fires wins). */
const planWith = (seed: number, ...extra: FaultPlan['rules']): FaultPlan => ({
  seed,
  rules: [
    ...extra,
    { service: 'iothub', operation: 'bulkDevices', probability: 0.08, fault: { kind: 'resetAfterApply' } },
    { service: 'iothub', operation: 'startImportJob', calls: [1], fault: { kind: 'resetAfterApply' } },
    {
      service: 'iothub',
      operation: ['bulkDevices', 'getDevice', 'getJob', 'listJobs'],
      probability: 0.05,
      fault: { kind: 'status', status: 503 },
    },
    {
      service: 'dps',
      operation: ['putEnrollment', 'putGroup', 'deleteRegistrationState'],
      probability: 0.08,
      fault: { kind: 'resetAfterApply' },
    },
    { service: 'dps', probability: 0.04, fault: { kind: 'status', status: 503 } },
    // Writes only: the Cosmos SDK retries reads itself, a second apart in wall time.
    {
      service: 'cosmos',
      operation: ['create', 'replace', 'upsert'],
      probability: 0.05,
      fault: { kind: 'resetAfterApply' },
    },
    {
      service: 'cosmos',
      operation: ['create', 'replace', 'upsert'],
      probability: 0.03,
      fault: { kind: 'status', status: 503 },
    },
  ],
});

const { depsOf, runShares, seedGroup, seedLot, hold, holdsOf } = containmentRig(() => stack, clock, HUBS);

test('contained under lost answers and 503s with one hub down for a minute: every device removed once, audited once, held exactly', async () => {
  // Targets: a group (whole), a maker's lot (its enrollments one by one), and one device of another group (a block).
  const group = await seedGroup('fault-lot', 'flt', [160, 120, 80]);
  const lot = await seedLot('L7', 'l7', 30);
  const others = await seedGroup('other-lot', 'oth', [7, 7, 6]);
  const blocked = others[3];
  const untouched = [...others.filter((d) => d !== blocked), ...(await seedLot('L8', 'l8', 10))];
  const targets = [...group, ...lot, blocked];
  const perHub = Object.fromEntries(HUBS.map((h) => [h, targets.filter((t) => t.hub === h).length]));
  expect(perHub).toEqual({ [EU1]: 191, [EU2]: 150, [US1]: 110 });

  // hub-eu-1 (191 devices) goes by import job, the others in bulk calls of 100.
  const deps = depsOf({ importJobThreshold: 170 });
  const request: IncidentRequest = {
    id: 'inc-faults',
    reason: 'lot keys leaked',
    mode: 'contain',
    scope: {
      enrollmentGroupId: 'fault-lot',
      lot: { manufacturer: 'acme-tpm', lot: 'L7' },
      registrationIds: [blocked.deviceId],
    },
  };
  faults.set(planWith(23));
  faults.resetCounts();
  await submitIncident(deps, request, ADMIN);
  const planned = await runShares(deps, request.id);
  expect(planned.incident).toMatchObject({
    status: 'awaitingApproval',
    plan: {
      devices: 451,
      perHub,
      groupsToDisable: ['fault-lot'],
      enrollmentsToDisable: 30 * 3,
      groupDevicesToBlock: 1,
    },
  });
  expect((await decideIncident(deps, request.id, 'approve', SECOND_ADMIN)).kind).toBe('done');
  // The hub goes down as the run starts, for a minute of the clock: the window counts from here.
  faults.set(
    planWith(
      29,
      { service: 'iothub', target: EU2, window: { forMs: 60_000 }, fault: { kind: 'down' } },
      // Both of hub-us-1's batches lose the answer to their applied delete once: the retry meets "not found".
      { service: 'iothub', target: US1, operation: 'bulkDevices', calls: [1, 3], fault: { kind: 'resetAfterApply' } },
    ),
  );
  const run = await runShares(deps, request.id);
  const injected = faults.counts().byService;
  faults.set(NO_FAULTS);

  // The plan did bite, everywhere it was meant to.
  expect(injected.iothub).toMatchObject({ down: expect.any(Number), resetAfterApply: expect.any(Number) });
  expect(injected.dps?.resetAfterApply).toBeGreaterThan(0);
  expect(injected.dps?.['status 503']).toBeGreaterThan(0);
  expect(injected.cosmos?.resetAfterApply).toBeGreaterThan(0);

  // The hub that was down was waited for, the others went on meanwhile, and no share failed: no delivery spent.
  expect(planned.failures).toEqual([]);
  expect(run.failures).toEqual([]);
  expect(run.waits.length).toBeGreaterThan(0);
  expect(stepOf(run.firstWait, EU2)).toMatchObject({ state: 'running', waiting: { tries: 1 } });
  expect(stepOf(run.firstWait, EU2).waiting?.reason).toMatch(/connection lost/);
  expect([EU1, US1].map((h) => stepOf(run.firstWait, h).state)).toEqual(['done', 'done']);
  expect(run.firstWait?.steps?.find((s) => s.kind === 'registrations')?.state).toBe('pending');

  // The incident ends right, its counts exact.
  expect(run.incident?.status).toBe('contained');
  for (const s of run.incident?.steps as StepState[]) {
    expect(s).toMatchObject({ state: 'done', errors: [] });
    expect(s.done).toBe(s.total);
    expect(s.waiting).toBeUndefined();
  }
  expect(run.incident?.steps?.map((s) => [s.kind, s.total])).toEqual([
    ['dps', 1 + 90 + 1],
    ['hub', 191],
    ['hub', 150],
    ['hub', 110],
    ['registrations', 451],
  ]);

  // The services' side: every target removed once from its hub and its DPS record deleted once; nothing else.
  const state = stack.simulator.state;
  expect(tallyHubRemovals(state, targets)).toMatchObject({ once: 451, twice: 0, left: 0, absent: 0 });
  expect(
    tallyRegistrationRemovals(
      state,
      targets.map((t) => t.deviceId),
    ),
  ).toMatchObject({ once: 451, twice: 0, left: 0 });
  expect(tallyHubRemovals(state, untouched)).toMatchObject({ once: 0, twice: 0, left: untouched.length });
  expect(
    tallyRegistrationRemovals(
      state,
      untouched.map((t) => t.deviceId),
    ),
  ).toMatchObject({ left: untouched.length });
  // One import job for hub-eu-1, though the answer to its start was lost.
  const jobs = await stack.services.hubs.hub(EU1).listJobs();
  const container = hubJobContainer(request.id, EU1);
  expect(jobs.filter((j) => new URL(j.inputBlobContainerUri ?? 'x:').pathname.endsWith(`/${container}`))).toHaveLength(
    1,
  );
  expect(state.groups.get('fault-lot')?.provisioningStatus).toBe('disabled');
  expect(state.groups.get('other-lot')?.provisioningStatus).toBe('enabled');
  for (const d of lot) expect(state.enrollments.get(d.deviceId)?.provisioningStatus).toBe('disabled');
  expect(state.enrollments.get(blocked.deviceId)).toMatchObject({
    provisioningStatus: 'disabled',
    initialTwin: { tags: { blockedByIncident: request.id } },
  });
  for (const d of untouched.filter((u) => u.deviceId.startsWith('l8')))
    expect(state.enrollments.get(d.deviceId)?.provisioningStatus).toBe('enabled');

  // The audit: one record per device per step, lost answers and retries included, and none for anything else.
  const records = await auditRecords(stack.services.store, `incident:${request.id}`);
  const ids = (list: Array<{ deviceId: string }>) => list.map((d) => d.deviceId);
  const exactlyOnce = (action: string, wanted: string[]) =>
    expect(tallyAudit(perTarget(records, action), wanted)).toEqual({
      once: wanted.length,
      missing: [],
      twice: [],
      others: [],
    });
  exactlyOnce('deleteDevice', ids(targets));
  exactlyOnce('deleteRegistration', ids(targets));
  exactlyOnce('disableEnrollment', ids(lot));
  exactlyOnce('blockGroupDevice', [blocked.deviceId]);
  exactlyOnce('disableEnrollmentGroup', ['fault-lot']);
  exactlyOnce('denyListAdd', ['enrollmentGroupId:fault-lot', ...ids(targets).map((id) => `registrationId:${id}`)]);

  // Holds: exactly what this incident disabled, each held once by it.
  const holds = await holdsOf(request.id);
  expect(holds.every((h) => h.holders.length === 1)).toBe(true);
  expect(holds.map((h) => h.id).sort()).toEqual(
    ['group:fault-lot', `block:${blocked.deviceId}`, ...lot.map((d) => `enrollment:${d.deviceId}`)].sort(),
  );
  expect(await hold('group:fault-lot')).toMatchObject({ restore: { type: 'enableGroup' } });
});

test('a hub down past the outage budget ends the incident failed, saying which hub and how many devices are left', async () => {
  const devices = await seedGroup('q-lot', 'q', [20, 20, 20]);
  const deps = depsOf({ maxOutageMs: 10 * 60_000 });
  const request: IncidentRequest = {
    id: 'inc-down',
    reason: 'lot quarantined',
    mode: 'quarantine',
    scope: { enrollmentGroupId: 'q-lot' },
  };
  faults.set(
    planWith(
      31,
      { service: 'iothub', target: US1, window: { forMs: 3 * 3600_000 }, fault: { kind: 'down' } },
      // hub-eu-1's disable lands but its answer is lost: the retry meets the etag it moved.
      { service: 'iothub', target: EU1, operation: 'bulkDevices', calls: [1], fault: { kind: 'resetAfterApply' } },
    ),
  );
  await submitIncident(deps, request, ADMIN);
  expect((await runShares(deps, request.id)).incident?.status).toBe('awaitingApproval');
  const started = clock.millis();
  await decideIncident(deps, request.id, 'approve', SECOND_ADMIN);
  const run = await runShares(deps, request.id);
  faults.set(NO_FAULTS);

  expect(run.failures).toEqual([]);
  expect(clock.millis() - started).toBeGreaterThanOrEqual(10 * 60_000); // waited its budget out, on the clock
  const incident = run.incident as Incident;
  expect(incident.status).toBe('failed');
  const down = stepOf(incident, US1);
  expect(down).toMatchObject({ state: 'failed', done: 0, total: 20 });
  expect(down.errors).toEqual([
    expect.stringMatching(
      /^hub-us-1\.azure-devices\.net: unreachable since .* \(\d+ s, \d+ tries; the last: connection lost: .*\); 20 of 20 devices left on hub-us-1\.azure-devices\.net \(disable not done\)$/,
    ),
  ]);
  expect(incident.notes.at(-1)).toMatch(
    /ended failed; steps left: hub on hub-us-1\.azure-devices\.net \(disable\) 0\/20; hub-us-1/,
  );
  expect([EU1, EU2].map((h) => stepOf(incident, h))).toMatchObject([
    { state: 'done', done: 20, total: 20, errors: [] },
    { state: 'done', done: 20, total: 20, errors: [] },
  ]);

  // The two hubs that answered: every device disabled by this incident, once, held once; the third untouched.
  const state = stack.simulator.state;
  const reached = devices.filter((d) => d.hub !== US1);
  for (const d of reached)
    expect(state.hubs.get(d.hub)?.devices.get(d.deviceId)).toMatchObject({
      status: 'disabled',
      statusReason: disabledReason(request.id),
    });
  for (const d of devices.filter((x) => x.hub === US1))
    expect(state.hubs.get(US1)?.devices.get(d.deviceId)?.status).toBe('enabled');
  expect(tallyHubRemovals(state, devices)).toMatchObject({ left: 60, once: 0, twice: 0 });
  const records = await auditRecords(stack.services.store, `incident:${request.id}`);
  expect(
    tallyAudit(
      perTarget(records, 'disableDevice'),
      reached.map((d) => d.deviceId),
    ),
  ).toEqual({
    once: 40,
    missing: [],
    twice: [],
    others: [],
  });
  const holds = await holdsOf(request.id);
  expect(holds.every((h) => h.holders.length === 1)).toBe(true);
  expect(holds.map((h) => h.id).sort()).toEqual(
    ['group:q-lot', ...reached.map((d) => `device:${d.hub}:${d.deviceId}`)].sort(),
  );
});
