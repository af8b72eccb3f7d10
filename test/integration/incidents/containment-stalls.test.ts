/**
 * Containment while a hub and DPS stall: a hub's bulk delete applied and never answered, another hub's bulk delete
 * never answered (nor applied), and DPS's group disable applied and never answered. The adapters abandon each call
 * at its deadline (IOT_DEADLINE_MS, here 1 s; a bulk write 2 s) as a lost answer, and the worker does what it does
 * after a connection reset: sends the batch again and reads "not found" as the lost try's delete, and the group's
 * etag that moved as its own disable. Every device is removed once and audited once, and no share fails.
 *
 * A stall never answers: whatever the machine's speed, the stalled call is abandoned at its deadline, and every other
 * call answers long before its own (were one slower, it would be one more lost answer, which this test is about).
 * The worker's retries wait on the manual clock (test/support/containment-rig.ts); the deadlines are wall time.
 */
import { NO_FAULTS } from '../../../dev/faults/plan';
import { tallyHubRemovals, tallyRegistrationRemovals } from '../../../dev/sim/removals';
import { decideIncident, submitIncident } from '../../../shared/incidents';
import type { IncidentRequest } from '../../../shared/incidents/rules/incident';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { containmentRig } from '../../support/containment-rig';
import { auditRecords, perTarget, tallyAudit } from '../../support/containment-tally';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';

const [EU1, EU2, US1] = ['hub-eu-1', 'hub-eu-2', 'hub-us-1'].map((h) => `${h}.azure-devices.net`);
const HUBS = [EU1, EU2, US1];
const ADMIN = { principal: 'test admin', source: 'http' as const };

const clock = manualClock(Date.parse('2026-11-25T08:00:00Z'));
let stack: TestStack;

beforeAll(async () => {
  const started = await startTestStack({ withStorage: true, clock: clock.millis, faults: NO_FAULTS });
  // The worker's services (the rig's `lazyServices(stack.env)`) read the deadline from the app setting.
  stack = { ...started, env: { ...started.env, IOT_DEADLINE_MS: '1000' } };
});
afterAll(async () => {
  await stack?.close();
});

const { depsOf, runShares, seedGroup } = containmentRig(() => stack, clock, HUBS);

test('contained though a hub’s bulk delete and DPS’s group disable stall after they were applied: every device removed once, audited once', async () => {
  const faults = stack.faults as NonNullable<TestStack['faults']>;
  const targets = await seedGroup('stall-lot', 'stl', [8, 5, 3]);
  const deps = depsOf();
  const request: IncidentRequest = {
    id: 'inc-stalls',
    reason: 'lot keys leaked',
    mode: 'contain',
    scope: { enrollmentGroupId: 'stall-lot' },
  };
  await submitIncident(deps, request, ADMIN);
  expect((await runShares(deps, request.id)).incident?.status).toBe('awaitingApproval');
  expect((await decideIncident(deps, request.id, 'approve', 'second admin')).kind).toBe('done');

  faults.set({
    rules: [
      {
        service: 'iothub',
        target: EU1,
        operation: 'bulkDevices',
        calls: [1],
        fault: { kind: 'stall', afterApply: true },
      },
      { service: 'iothub', target: US1, operation: 'bulkDevices', calls: [1], fault: { kind: 'stall' } },
      { service: 'dps', operation: 'putGroup', calls: [1], fault: { kind: 'stall', afterApply: true } },
    ],
  });
  faults.resetCounts();
  const run = await runShares(deps, request.id);
  const injected = faults.counts().byService;
  const bulkCalls = faults.calls('iothub', 'bulkDevices');
  faults.set(NO_FAULTS);

  // Every stall bit, and no share failed: a stall is a lost answer, tried again within the share.
  expect(injected).toEqual({ iothub: { stall: 2 }, dps: { stall: 1 } });
  expect(bulkCalls).toBeGreaterThanOrEqual(5); // three hubs, and the two stalled batches sent again
  expect(run.failures).toEqual([]);
  expect(run.incident?.status).toBe('contained');
  for (const s of run.incident?.steps as StepState[]) expect(s).toMatchObject({ state: 'done', errors: [] });

  // The services' side: every device removed once from its hub, its DPS record deleted once; the group disabled.
  const state = stack.simulator.state;
  expect(tallyHubRemovals(state, targets)).toMatchObject({ once: 16, twice: 0, left: 0, absent: 0 });
  expect(
    tallyRegistrationRemovals(
      state,
      targets.map((t) => t.deviceId),
    ),
  ).toMatchObject({ once: 16, twice: 0, left: 0 });
  expect(state.groups.get('stall-lot')?.provisioningStatus).toBe('disabled');

  // The audit: one record per device per step, and one for the group, lost answers included.
  const records = await auditRecords(stack.services.store, `incident:${request.id}`);
  const ids = targets.map((d) => d.deviceId);
  const exactlyOnce = (action: string, wanted: string[]) =>
    expect(tallyAudit(perTarget(records, action), wanted)).toEqual({
      once: wanted.length,
      missing: [],
      twice: [],
      others: [],
    });
  exactlyOnce('deleteDevice', ids);
  exactlyOnce('deleteRegistration', ids);
  exactlyOnce('disableEnrollmentGroup', ['stall-lot']);
  // hub-eu-1's devices were deleted by the try whose answer never came: its retry found them gone, and says so.
  const before = (hub: string) =>
    new Set(
      records.filter((r) => r.action === 'deleteDevice' && r.target.hub === hub).map((r) => JSON.stringify(r.before)),
    );
  expect(before(EU1)).toEqual(new Set([JSON.stringify({ registered: true, answerLost: true })]));
  expect(before(US1)).toEqual(new Set([JSON.stringify({ registered: true })])); // the stalled try applied nothing
});
