/**
 * Containment against a slow or absent dependency, on seeded fault plans and the manual clock (only waits move it):
 * - a hub answering 429 with a Retry-After longer than what is left of the share: the wait is not started, the share
 *   checkpoints and ends asking to come back when the try would have come — no share runs past its budget, none fails;
 * - DPS down for two minutes: the DPS step waits for it as for a hub (no delivery spent), the hubs after it;
 * - DPS down past the outage budget: the DPS steps give up saying what is left, the incident ends `failed`; once DPS
 *   is back an admin's re-drive runs them again from their checkpoints, and the incident ends contained, every
 *   enrollment disabled and every record deleted once, the re-drive audited once.
 * Counts come from the simulator's side and the audit container, not from the incident.
 */
import { NO_FAULTS } from '../../../dev/faults/plan';
import { tallyHubRemovals, tallyRegistrationRemovals } from '../../../dev/sim/removals';
import { decideIncident, redriveIncident, submitIncident } from '../../../shared/incidents';
import type { IncidentRequest } from '../../../shared/incidents/rules/incident';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { containmentRig, stepOf, stepOfKind } from '../../support/containment-rig';
import { auditRecords, perTarget, tallyAudit } from '../../support/containment-tally';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';

const [EU1, EU2, US1] = ['hub-eu-1', 'hub-eu-2', 'hub-us-1'].map((h) => `${h}.azure-devices.net`);
const HUBS = [EU1, EU2, US1];
const ADMIN = { principal: 'test admin', source: 'http' as const };
const SECOND_ADMIN = 'second admin';

const clock = manualClock(Date.parse('2026-11-26T08:00:00Z'));
let stack: TestStack;
let faults: NonNullable<TestStack['faults']>;
const { depsOf, runShares, seedGroup, seedLot } = containmentRig(() => stack, clock, HUBS);

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true, clock: clock.millis, faults: NO_FAULTS });
  faults = stack.faults as NonNullable<TestStack['faults']>;
});
afterAll(async () => {
  await stack?.close();
});

/** Submitted, planned and approved with no faults: the faults of each test are about running the plan. */
async function approved(deps: ReturnType<typeof depsOf>, request: IncidentRequest) {
  faults.set(NO_FAULTS);
  await submitIncident(deps, request, ADMIN);
  expect((await runShares(deps, request.id)).incident?.status).toBe('awaitingApproval');
  expect((await decideIncident(deps, request.id, 'approve', SECOND_ADMIN)).kind).toBe('done');
}

const exactlyOnce = async (incidentId: string, action: string, wanted: string[]) =>
  expect(
    tallyAudit(perTarget(await auditRecords(stack.services.store, `incident:${incidentId}`), action), wanted),
  ).toEqual({ once: wanted.length, missing: [], twice: [], others: [] });

test('a retry whose wait would pass the share’s deadline is not started: the share checkpoints and comes back', async () => {
  const devices = await seedGroup('slow-lot', 'slow', [120, 60, 60]);
  const budgetMs = 10_000;
  const deps = depsOf({ budgetMs });
  const request: IncidentRequest = {
    id: 'inc-slow',
    reason: 'r',
    mode: 'contain',
    scope: { enrollmentGroupId: 'slow-lot' },
  };
  await approved(deps, request);
  // hub-eu-1's second and third bulk calls are throttled for 30 s: longer than a whole share. 503s everywhere else.
  faults.set({
    seed: 41,
    rules: [
      {
        service: 'iothub',
        target: EU1,
        operation: 'bulkDevices',
        calls: [2, 3],
        fault: { kind: 'status', status: 429, retryAfterMs: 30_000 },
      },
      { service: 'iothub', probability: 0.05, fault: { kind: 'status', status: 503 } },
      { service: 'dps', probability: 0.05, fault: { kind: 'status', status: 503 } },
    ],
  });
  const run = await runShares(deps, request.id);
  const injected = faults.counts().byService;
  faults.set(NO_FAULTS);

  expect(injected.iothub?.['status 429']).toBe(2);
  // No share waited past its budget (before the deadline was honoured, one slept 30 s inside its share) and none failed.
  expect(run.longestShareMs).toBeLessThanOrEqual(budgetMs);
  expect(run.failures).toEqual([]);
  // The shares that stopped asked to come back when the throttled try would have come: within the 30 s, after the
  // time the share had already spent.
  const comeBack = run.waits.filter((w) => w > budgetMs);
  expect(comeBack).toHaveLength(2);
  for (const w of comeBack) expect(w).toBeLessThanOrEqual(30_000);
  expect(stepOf(run.firstWait, EU1)).toMatchObject({ state: 'running', done: 100, total: 120 }); // its first batch kept

  expect(run.incident?.status).toBe('contained');
  for (const s of run.incident?.steps as StepState[]) expect(s).toMatchObject({ state: 'done', errors: [] });
  const state = stack.simulator.state;
  expect(tallyHubRemovals(state, devices)).toMatchObject({ once: 240, twice: 0, left: 0 });
  await exactlyOnce(
    request.id,
    'deleteDevice',
    devices.map((d) => d.deviceId),
  );
});

test('DPS down for two minutes is waited for like a hub: no delivery spent, the hubs after it, then contained', async () => {
  const lot = await seedLot('L21', 'dd', 10);
  const deps = depsOf();
  const request: IncidentRequest = {
    id: 'inc-dps-down',
    reason: 'r',
    mode: 'contain',
    scope: { lot: { manufacturer: 'acme-tpm', lot: 'L21' } },
  };
  await approved(deps, request);
  faults.set({ seed: 43, rules: [{ service: 'dps', window: { forMs: 120_000 }, fault: { kind: 'down' } }] });
  const started = clock.millis();
  const run = await runShares(deps, request.id);
  faults.set(NO_FAULTS);

  expect(run.failures).toEqual([]);
  expect(clock.millis() - started).toBeGreaterThanOrEqual(120_000); // it waited the outage out, on the clock
  const waiting = stepOfKind(run.firstWait, 'dps');
  expect(waiting).toMatchObject({ state: 'running', done: 0, waiting: { tries: 1 } });
  expect(waiting.waiting?.reason).toMatch(/connection lost/);
  // Refusing at DPS comes first: no hub was touched while DPS was down.
  expect(HUBS.map((h) => stepOf(run.firstWait, h).state)).toEqual(['pending', 'pending', 'pending']);

  expect(run.incident?.status).toBe('contained');
  for (const s of run.incident?.steps as StepState[]) {
    expect(s).toMatchObject({ state: 'done', errors: [] });
    expect(s.waiting).toBeUndefined();
  }
  const ids = lot.map((d) => d.deviceId);
  for (const id of ids) expect(stack.simulator.state.enrollments.get(id)?.provisioningStatus).toBe('disabled');
  expect(tallyRegistrationRemovals(stack.simulator.state, ids)).toMatchObject({ once: 30, twice: 0, left: 0 });
  await exactlyOnce(request.id, 'disableEnrollment', ids);
  await exactlyOnce(request.id, 'deleteRegistration', ids);
});

test('DPS down past the outage budget: the DPS steps give up saying what is left; re-driven once DPS is back, contained', async () => {
  const lot = await seedLot('L22', 'dx', 5);
  const deps = depsOf({ maxOutageMs: 10 * 60_000 });
  const request: IncidentRequest = {
    id: 'inc-dps-gone',
    reason: 'r',
    mode: 'contain',
    scope: { lot: { manufacturer: 'acme-tpm', lot: 'L22' } },
  };
  await approved(deps, request);
  faults.set({ seed: 47, rules: [{ service: 'dps', window: { forMs: 3 * 3600_000 }, fault: { kind: 'down' } }] });
  const failed = await runShares(deps, request.id);

  expect(failed.failures).toEqual([]);
  expect(failed.incident?.status).toBe('failed');
  const dps = stepOfKind(failed.incident, 'dps');
  expect(dps).toMatchObject({ state: 'failed', done: 0, total: 15 });
  expect(dps.errors).toEqual([
    expect.stringMatching(
      /^DPS: unreachable since .* \(\d+ s, \d+ tries; the last: connection lost: .*\); 15 of 15 DPS changes left \(groups, enrollments and blocks not disabled\)$/,
    ),
  ]);
  expect(dps.gaveUp).toBe(dps.errors[0]);
  expect(stepOfKind(failed.incident, 'registrations')).toMatchObject({
    state: 'failed',
    errors: [
      expect.stringMatching(/^DPS: unreachable since .*; 15 of 15 DPS registration records left \(not deleted\)$/),
    ],
  });
  expect(failed.incident?.notes.at(-1)).toMatch(/ended failed; steps left: dps 0\/15, registrations 0\/15/);
  const ids = lot.map((d) => d.deviceId);
  for (const id of ids) expect(stack.simulator.state.enrollments.get(id)?.provisioningStatus).toBe('enabled');

  // DPS is back; an admin re-drives: both steps run again from their checkpoints.
  faults.set(NO_FAULTS);
  const redriven = await redriveIncident(deps, request.id, SECOND_ADMIN);
  expect(redriven).toMatchObject({ kind: 'done', incident: { status: 'running', redrives: 1 } });
  const run = await runShares(deps, request.id);
  expect(run.failures).toEqual([]);
  expect(run.incident?.status).toBe('contained');
  for (const s of run.incident?.steps as StepState[]) expect(s).toMatchObject({ state: 'done', errors: [] });
  expect(
    run.incident?.notes.some((n) =>
      /re-driven by second admin: retried from their checkpoints: dps, registrations/.test(n),
    ),
  ).toBe(true);
  for (const id of ids) expect(stack.simulator.state.enrollments.get(id)?.provisioningStatus).toBe('disabled');
  expect(tallyRegistrationRemovals(stack.simulator.state, ids)).toMatchObject({ once: 15, twice: 0, left: 0 });
  await exactlyOnce(request.id, 'disableEnrollment', ids);
  await exactlyOnce(request.id, 'deleteRegistration', ids);
  const redrives = (await auditRecords(stack.services.store, SECOND_ADMIN)).filter(
    (r) => r.action === 'redriveIncident',
  );
  expect(redrives).toHaveLength(1);
  // Nothing more to re-drive now.
  expect((await redriveIncident(deps, request.id, SECOND_ADMIN)).kind).toBe('conflict');
});
