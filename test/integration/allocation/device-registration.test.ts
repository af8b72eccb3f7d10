/**
 * End to end on the local stack: the official device SDK registers through an enrollment group with custom
 * allocation; the simulator calls our webhook (served by the local Functions host, function key checked) and
 * creates the device on the hub the webhook chose, with the initial twin.
 */
import { deriveDeviceKey, registerSymmetricKeyDevice } from '../../../dev/device';
import type { RunningHost } from '../../../dev/host/host';
import { seedDemo } from '../../../dev/seed';
import { startAppHost } from '../../support/app-host';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let host: RunningHost;
let groupKey: string;

beforeAll(async () => {
  stack = await startTestStack({ webhook: { retry: { attempts: 3, firstDelayMs: 10, incrementMs: 10 } } });
  Object.assign(process.env, stack.env);
  const { registeredFunctions } = await import('../../../functions/index');
  host = await startAppHost({
    registrations: registeredFunctions(),
    env: stack.env,
    driveQueues: false,
  });
  groupKey = (await seedDemo(stack.services.enrollments, `${host.baseUrl}/api/allocate?code=fk`)).primaryKey;
});
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

test('a device registers through the custom allocation webhook and lands on the chosen hub with its twin', async () => {
  const id = 'thermostat-0001';
  const result = await registerSymmetricKeyDevice(stack.env, id, deriveDeviceKey(groupKey, id), {
    modelId: 'dtmi:contoso:thermostat;1',
  });
  expect(stack.env.IOTHUB_HOST_NAMES.split(',')).toContain(result.assignedHub);
  expect(result.deviceId).toBe(id);

  const device = await stack.services.hubs.hub(result.assignedHub).getDevice(id);
  expect(device?.authentication?.symmetricKey?.primaryKey).toBe(deriveDeviceKey(groupKey, id));
  const twin = await stack.services.hubs.hub(result.assignedHub).getTwin(id);
  expect(twin?.tags).toEqual({ environment: 'local-demo' });
  expect(twin?.properties?.desired).toMatchObject({ telemetryIntervalSeconds: 60 });

  const state = await stack.services.enrollments.getRegistrationState(id);
  expect(state).toMatchObject({ status: 'assigned', substatus: 'initialAssignment', assignedHub: result.assignedHub });
  const members = await stack.services.enrollments.queryGroupRegistrations('demo-custom-allocation', 10);
  expect(members.items.map((r) => r.registrationId)).toContain(id);

  // Re-provisioning is sticky: the webhook keeps the device where it is.
  const again = await registerSymmetricKeyDevice(stack.env, id, deriveDeviceKey(groupKey, id));
  expect(again.assignedHub).toBe(result.assignedHub);
});

test('devices spread over the linked hubs', async () => {
  const hubs = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const id = `spread-${i}`;
    hubs.add((await registerSymmetricKeyDevice(stack.env, id, deriveDeviceKey(groupKey, id))).assignedHub);
  }
  expect(hubs.size).toBeGreaterThan(1);
});

test('a wrong device key is refused by DPS', async () => {
  await expect(
    registerSymmetricKeyDevice(
      stack.env,
      'intruder',
      deriveDeviceKey(Buffer.from('not the group key').toString('base64'), 'intruder'),
    ),
  ).rejects.toThrow();
  expect(await stack.services.enrollments.getRegistrationState('intruder')).toBeUndefined();
});

test('a webhook that refuses (wrong function key → 401) fails the registration with DPS’s error code', async () => {
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'wrong-key-group',
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: groupKey, secondaryKey: groupKey } },
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: `${host.baseUrl}/api/allocate?code=wrong`, apiVersion: '2021-10-01' },
  });
  // Both groups share the key; with the demo group gone, the device can only attest through the wrong-key group.
  await stack.services.enrollments.deleteGroup('demo-custom-allocation');
  try {
    await expect(
      registerSymmetricKeyDevice(stack.env, 'refused-1', deriveDeviceKey(groupKey, 'refused-1')),
    ).rejects.toThrow();
    expect(await stack.services.enrollments.getRegistrationState('refused-1')).toMatchObject({
      status: 'failed',
      errorCode: 400209,
    });
  } finally {
    await stack.services.enrollments.deleteGroup('wrong-key-group');
    groupKey = (await seedDemo(stack.services.enrollments, `${host.baseUrl}/api/allocate?code=fk`)).primaryKey;
  }
});

test('the local host checks function keys and serves anonymous routes without one', async () => {
  expect((await fetch(`${host.baseUrl}/api/allocate`, { method: 'POST', body: '{}' })).status).toBe(401);
  expect((await fetch(`${host.baseUrl}/api/allocate?code=nope`, { method: 'POST', body: '{}' })).status).toBe(401);
  const bad = await fetch(`${host.baseUrl}/api/allocate`, {
    method: 'POST',
    body: 'not json',
    headers: { 'x-functions-key': 'fk' },
  });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { reason: string }).reason).toMatch(/not JSON/);
  expect((await fetch(`${host.baseUrl}/api/health`)).status).toBe(200);
});
