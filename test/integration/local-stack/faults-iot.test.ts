/**
 * Faults on demand in the simulated DPS and IoT hubs, as the official service SDKs meet them on the wire: lost answers
 * to applied writes, refused requests, error statuses with and without Retry-After, one hub down for a minute on the
 * stack's clock, latency, and one seed giving one schedule. No adapter of ours in between (test/support/sdk-clients).
 */
import type { IncomingMessage } from 'node:http';

import type { errors } from 'azure-iot-common';

import { NO_FAULTS } from '../../../dev/faults/plan';
import { manualClock } from '../../support/manual-clock';
import { dpsSdk, hubSdk, messageOf } from '../../support/sdk-clients';
import { startTestStack, type TestStack } from '../../support/stack';

const clock = manualClock();
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ clock: clock.millis, faults: NO_FAULTS });
});
afterEach(() => {
  stack.faults?.set(NO_FAULTS);
  stack.faults?.resetCounts();
});
afterAll(async () => {
  await stack.close();
});

const faults = () => stack.faults as NonNullable<TestStack['faults']>;
const EK = Buffer.alloc(316, 9).toString('base64');
const tpm = (registrationId: string) => ({ registrationId, attestation: { type: 'tpm', tpm: { endorsementKey: EK } } });
/** How a dropped connection reaches Node's HTTP client (which of the two depends on when the socket closed). */
const CONNECTION_LOST = /socket hang up|ECONNRESET/;
type SdkError = errors.ThrottlingError & { response?: IncomingMessage };

/** The SDK's promise form of bulk never settles (it answers only a callback), so bulk goes through the callback. */
function bulk(dps: ReturnType<typeof dpsSdk>, mode: string, enrollments: object[]): Promise<BulkResult> {
  return new Promise((resolve, reject) => {
    void dps.runBulkEnrollmentOperation({ mode, enrollments } as never, (err?: Error, result?: unknown) =>
      err ? reject(err) : resolve(result as BulkResult),
    );
  });
}
type BulkResult = { isSuccessful: boolean; errors: Array<{ errorCode: number }> };

test('a bulk create whose answer is lost after it was applied: the SDK fails, DPS holds every enrollment', async () => {
  faults().set({
    rules: [{ service: 'dps', operation: 'bulkEnrollments', calls: [1], fault: { kind: 'resetAfterApply' } }],
  });
  const dps = dpsSdk(stack);
  const enrollments = ['lost-0', 'lost-1', 'lost-2'].map(tpm);

  await expect(bulk(dps, 'create', enrollments)).rejects.toThrow(CONNECTION_LOST);
  expect(['lost-0', 'lost-1', 'lost-2'].map((id) => stack.simulator.state.enrollments.has(id))).toEqual([
    true,
    true,
    true,
  ]);
  // The hard case, as a client that retries blindly meets it: every row now "already exists".
  const result = await bulk(dps, 'create', enrollments);
  expect(result.isSuccessful).toBe(false);
  expect(result.errors.map((e) => e.errorCode)).toEqual([409201, 409201, 409201]);
  expect(faults().counts().byService.dps).toEqual({ resetAfterApply: 1 });
  expect(faults().summary()).toBe('injected 1 fault: dps 1 resetAfterApply');
});

test('a reset before the request was applied leaves nothing behind', async () => {
  faults().set({
    rules: [{ service: 'dps', operation: 'putEnrollment', calls: [1], fault: { kind: 'resetBeforeApply' } }],
  });
  const dps = dpsSdk(stack);
  await expect(dps.createOrUpdateIndividualEnrollment(tpm('never-0') as never)).rejects.toThrow(CONNECTION_LOST);
  expect(stack.simulator.state.enrollments.has('never-0')).toBe(false);
  await dps.createOrUpdateIndividualEnrollment(tpm('never-0') as never);
  expect(stack.simulator.state.enrollments.has('never-0')).toBe(true);
});

test('429 with Retry-After and 503 without reach the SDK as DPS sends them, then the call succeeds', async () => {
  const dps = dpsSdk(stack);
  await dps.createOrUpdateIndividualEnrollment(tpm('status-0') as never);
  faults().set({
    rules: [
      {
        service: 'dps',
        operation: 'getEnrollment',
        calls: [1],
        fault: { kind: 'status', status: 429, retryAfterMs: 6500 },
      },
      { service: 'dps', operation: 'getEnrollment', calls: [2], fault: { kind: 'status', status: 503 } },
    ],
  });
  const throttled = (await dps.getIndividualEnrollment('status-0').catch((e: unknown) => e)) as SdkError;
  expect(throttled.name).toBe('ThrottlingError');
  expect(throttled.response?.statusCode).toBe(429);
  expect(throttled.response?.headers['retry-after']).toBe('7');
  expect(JSON.parse((throttled as unknown as { responseBody: string }).responseBody).errorCode).toBe(429001);

  const unavailable = (await dps.getIndividualEnrollment('status-0').catch((e: unknown) => e)) as SdkError;
  expect(unavailable.name).toBe('ServiceUnavailableError');
  expect(unavailable.response?.statusCode).toBe(503);
  expect(unavailable.response?.headers['retry-after']).toBeUndefined();

  const ok = await dps.getIndividualEnrollment('status-0');
  expect((ok.responseBody as { registrationId: string }).registrationId).toBe('status-0');
  expect(faults().counts().byService.dps).toEqual({ 'status 429': 1, 'status 503': 1 });
});

test("one hub down for 60 s on the stack's clock refuses, the other answers, and it comes back", async () => {
  const down = 'hub-eu-1.azure-devices.net';
  faults().set({ rules: [{ service: 'iothub', target: down, window: { forMs: 60_000 }, fault: { kind: 'down' } }] });
  const hub1 = hubSdk(stack, down);
  const hub2 = hubSdk(stack, 'hub-eu-2.azure-devices.net');

  await expect(hub1.create({ deviceId: 'outage-1' })).rejects.toThrow(CONNECTION_LOST);
  await hub2.create({ deviceId: 'outage-2' });
  clock.advance(59_999);
  await expect(hub1.get('outage-2')).rejects.toThrow(CONNECTION_LOST);
  clock.advance(1);
  await hub1.create({ deviceId: 'outage-1' });

  expect(stack.simulator.state.hubs.get(down)?.devices.has('outage-1')).toBe(true);
  expect(stack.simulator.state.hubs.get('hub-eu-2.azure-devices.net')?.devices.has('outage-2')).toBe(true);
  expect(faults().counts().byService.iothub).toEqual({ down: 2 });
  expect(faults().events.map((e) => [e.target, e.operation])).toEqual([
    [down, 'putDevice'],
    [down, 'getDevice'],
  ]);
});

test('a bulk device create on one hub loses its answer after the devices were created', async () => {
  const host = 'hub-eu-2.azure-devices.net';
  faults().set({
    rules: [{ service: 'iothub', target: host, operation: 'bulkDevices', fault: { kind: 'resetAfterApply' } }],
  });
  const devices = [{ deviceId: 'bulk-lost-0' }, { deviceId: 'bulk-lost-1' }];
  await expect(hubSdk(stack, host).addDevices(devices)).rejects.toThrow(CONNECTION_LOST);
  const held = stack.simulator.state.hubs.get(host)?.devices;
  expect([held?.has('bulk-lost-0'), held?.has('bulk-lost-1')]).toEqual([true, true]);
  // Another hub's bulk call is not the target.
  await hubSdk(stack, 'hub-eu-1.azure-devices.net').addDevices(devices);
});

test('latency holds the answer back at least as long as the plan says', async () => {
  faults().set({ rules: [{ service: 'iothub', operation: 'statistics', fault: { kind: 'latency', ms: 300 } }] });
  const started = performance.now();
  await hubSdk(stack, 'hub-eu-1.azure-devices.net').getRegistryStatistics();
  // A lower bound only: a slow machine makes it longer, never shorter (timers may round 1 ms down).
  expect(performance.now() - started).toBeGreaterThanOrEqual(299);
  expect(faults().counts().byService.iothub).toMatchObject({ latency: 1 });
});

test('one seed gives one schedule: the same calls fail again, another seed fails others', async () => {
  const dps = dpsSdk(stack);
  await dps.createOrUpdateIndividualEnrollment(tpm('seeded-0') as never);
  const plan = (seed: number) => ({
    seed,
    rules: [
      {
        service: 'dps' as const,
        operation: 'getEnrollment',
        probability: 0.4,
        fault: { kind: 'status' as const, status: 500 },
      },
    ],
  });
  const run = async (seed: number) => {
    faults().set(plan(seed));
    const failed: number[] = [];
    for (let call = 1; call <= 24; call++)
      await dps.getIndividualEnrollment('seeded-0').catch((err: unknown) => {
        if (!/Internal|500/.test(`${(err as Error).name} ${messageOf(err)}`)) throw err;
        failed.push(call);
      });
    return failed;
  };
  const first = await run(42);
  expect(first.length).toBeGreaterThan(0);
  expect(first.length).toBeLessThan(24);
  expect(await run(42)).toEqual(first);
  expect(await run(43)).not.toEqual(first);
});
