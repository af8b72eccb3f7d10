/**
 * The webhook through a Cosmos outage (the fault proxy refusing every connection for ten minutes of the test's clock),
 * with devices registering through the local DPS and the official device SDK: answers come from the snapshots while
 * the deny list is at most `denyList.maxAgeSeconds` old (300 s in the local policy), a device revoked before the
 * outage stays refused, past the limit a device that would be allocated gets 503 (DPS retries it) with a reason naming
 * the stale deny list, bad input is a 400 throughout, and once Cosmos is back the next refresh resumes allocations and
 * a deny entry written after the outage is honoured.
 *
 * The runtime is built here as the composition root builds it, but on the manual clock and with its refresh timers
 * pushed out of the test's reach: every refresh is one the test asks for, and the deny list's age is what the test
 * moved the clock by, however fast the machine runs.
 */
import { deriveDeviceKey, registerSymmetricKeyDevice } from '../../../dev/device';
import { NO_FAULTS } from '../../../dev/faults/plan';
import type { RunningHost } from '../../../dev/host/host';
import { seedDemo } from '../../../dev/seed';
import { allocationHandler } from '../../../functions/allocate';
import { withHttpErrors } from '../../../functions/edge/http-errors';
import { AllocationRuntime } from '../../../shared/allocation/runtime';
import { allocationSources, POLICY_DOCUMENT_ID } from '../../../shared/allocation/sources';
import { configDocument, lazyServices } from '../../../shared/composition';
import { CosmosDenyListRepository } from '../../../shared/incidents/store/deny-list-repository';
import { FUNCTION_KEY, startAppHost } from '../../support/app-host';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';

const HOUR = 3_600_000;
const OUTAGE_MS = 600_000;
const clock = manualClock();
let stack: TestStack;
let host: RunningHost;
let runtime: AllocationRuntime;
let groupKey: string;
let services: ReturnType<typeof lazyServices>;
let during: Promise<void> | undefined;

beforeAll(async () => {
  // DPS's retries of a 503, shortened: two calls 10 ms apart instead of ten over seven minutes.
  stack = await startTestStack({
    clock: clock.millis,
    faults: NO_FAULTS,
    webhook: { retry: { attempts: 2, firstDelayMs: 10, incrementMs: 10 } },
  });
  services = lazyServices(stack.env);
  runtime = new AllocationRuntime(
    allocationSources(
      configDocument(stack.env, 'allocationPolicyFile', POLICY_DOCUMENT_ID, services),
      services,
      services.denyList,
    ),
    {
      clock,
      denyRefreshMs: HOUR,
      policyRefreshMs: HOUR,
      hubLoadRefreshMs: HOUR,
      hubLoadFirstDelayMs: HOUR,
      decisionsFlushMs: HOUR,
    },
  );
  host = await startAppHost({
    env: stack.env,
    driveQueues: false,
    registrations: [
      {
        name: 'allocate',
        trigger: 'http',
        options: {
          route: 'allocate',
          methods: ['POST'],
          authLevel: 'function',
          handler: withHttpErrors(allocationHandler(() => runtime)),
        },
      },
    ],
  });
  groupKey = (await seedDemo(stack.services.enrollments, `${host.baseUrl}/api/allocate?code=${FUNCTION_KEY}`))
    .primaryKey;
  await runtime.start();
});
afterAll(async () => {
  stack?.faults?.set(NO_FAULTS);
  await runtime?.stop();
  await (await services?.events())?.close();
  await host?.close();
  await stack?.close();
});

const faults = () => stack.faults as NonNullable<TestStack['faults']>;
const denyList = () => new CosmosDenyListRepository(stack.services.store);
const register = (id: string) =>
  registerSymmetricKeyDevice(stack.env, id, deriveDeviceKey(groupKey, id), { region: 'eu' });
const registrationError = async (id: string) =>
  (await stack.services.enrollments.getRegistrationState(id))?.errorMessage;

/** DPS's call as DPS makes it, straight to the webhook. */
const request = (registrationId: string, payload: unknown = { region: 'eu' }) => ({
  enrollmentGroup: { enrollmentGroupId: 'demo-custom-allocation', attestation: { type: 'symmetricKey' } },
  deviceRuntimeContext: { registrationId, symmetricKey: {}, payload },
  linkedHubs: ['hub-eu-1.azure-devices.net', 'hub-eu-2.azure-devices.net'],
});
async function call(body: unknown): Promise<{ status: number; reason?: string; retryAfter: string | null }> {
  const res = await fetch(`${host.baseUrl}/api/allocate?code=${FUNCTION_KEY}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const json = (await res.json()) as { reason?: string };
  return { status: res.status, reason: json.reason, retryAfter: res.headers.get('retry-after') };
}

/** Bad input gets a 400 naming what is wrong, whatever the deny list's age: never a status DPS would retry. */
async function expectBadInputRefused(): Promise<void> {
  expect(await call('{')).toMatchObject({ status: 400, reason: expect.stringMatching(/not JSON/) });
  expect(await call({ ...request('x'), enrollmentGroup: {} })).toMatchObject({
    status: 400,
    reason: expect.stringMatching(/enrollmentGroup must have required property 'enrollmentGroupId'/),
  });
  // Well formed, but the rule for US devices names no hub linked to this registration: no deny list changes that.
  expect(await call(request('us-unlinked', { region: 'us' }))).toMatchObject({
    status: 400,
    reason: expect.stringMatching(/rule us-devices names only hubs that are not linked/),
  });
}

test('before the outage: a revoked device is refused, others are allocated', async () => {
  const entry = { kind: 'registrationId' as const, value: 'dev-revoked', reason: 'reported stolen' };
  await denyList().hold([{ ...entry, incidentId: 'inc-before' }], 'inc-before');
  await runtime.refreshDenyList();
  await expect(register('dev-revoked')).rejects.toThrow();
  expect(await registrationError('dev-revoked')).toMatch(/reported stolen \(incident inc-before\)/);
  expect((await register('dev-before')).assignedHub).toMatch(/^hub-eu-/);
  await expectBadInputRefused();
});

test('during the outage: answers from the snapshots up to the limit, then 503 naming the stale deny list', async () => {
  faults().set({ rules: [{ service: 'cosmos', window: { forMs: OUTAGE_MS }, fault: { kind: 'down' } }] });
  // A refresh meets the outage. Left running, as a timer's would be: the Cosmos SDK retries a read ten times a second
  // apart, and our adapter five times over that, so it ends only after the outage (or a minute of trying). It cannot
  // succeed while the test's clock is inside the outage, so nothing below depends on how far it got.
  during = runtime.refreshDenyList();
  while (!faults().counts().byService.cosmos?.down) await new Promise((r) => setTimeout(r, 10));

  clock.advance(300_000); // the snapshot is exactly at the limit
  expect((await register('dev-at-limit')).assignedHub).toMatch(/^hub-eu-/);
  await expect(register('dev-revoked')).rejects.toThrow();
  expect(await registrationError('dev-revoked')).toMatch(/reported stolen/);
  await expectBadInputRefused();

  clock.advance(1000); // past it
  expect(await call(request('dev-past-limit'))).toEqual({
    status: 503,
    reason: 'deny list snapshot is 301 s old (bound 300 s): failing closed, DPS will retry',
    retryAfter: '1',
  });
  await expect(register('dev-past-limit')).rejects.toThrow();
  expect(await registrationError('dev-past-limit')).toBe(
    'Custom allocation failed after 2 attempts (last status 503).',
  );
  // What the snapshot names is still refused outright, not left to DPS's retries.
  expect(await call(request('dev-revoked'))).toMatchObject({
    status: 403,
    reason: expect.stringMatching(/registrationId dev-revoked is revoked: reported stolen/),
  });
  await expectBadInputRefused();
});

test('after the outage: the next refresh resumes allocations, and a deny entry written now is honoured', async () => {
  clock.advance(OUTAGE_MS); // Cosmos is back
  // The refresh begun during the outage ends (its snapshot is complete only as of when it began, long ago), and the
  // next one — the timer's next tick in production — is current.
  await during;
  await runtime.refreshDenyList();
  expect((await register('dev-past-limit')).assignedHub).toMatch(/^hub-eu-/);
  await expect(register('dev-revoked')).rejects.toThrow();

  const entry = { kind: 'registrationId' as const, value: 'dev-after', reason: 'key leaked' };
  await denyList().hold([{ ...entry, incidentId: 'inc-after' }], 'inc-after');
  await runtime.refreshDenyList();
  await expect(register('dev-after')).rejects.toThrow();
  expect(await registrationError('dev-after')).toMatch(/key leaked \(incident inc-after\)/);
  expect((await register('dev-after-ok')).assignedHub).toMatch(/^hub-eu-/);
  await expectBadInputRefused();
});
