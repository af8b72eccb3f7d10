/**
 * A device disabled or deleted while connected is disconnected at once, whichever registry path made the change —
 * a device update, a delete, a bulk delete (`removeDevices`) — and cannot connect again. The device sees it as the
 * official SDK reports it: its `disconnect` event. (Azure: the connection closes without a reason at the MQTT level,
 * Azure/azure-iot-sdk-c#2300; how soon varies, see README "Devices on their hubs".)
 */
import { errors, results } from 'azure-iot-common';
import type { Registry } from 'azure-iothub';

import { type ConnectedDevice, connectHubDevice } from '../../../dev/hub-device';
import { hubSdk } from '../../support/sdk-clients';
import { startTestStack, type TestStack } from '../../support/stack';

const HUB = 'hub-us-1.azure-devices.net';
let stack: TestStack;
let registry: Registry;
const key = Buffer.from('disconnect-test-device-key-000000').toString('base64');
const credential = { type: 'sas' as const, key };

beforeAll(async () => {
  stack = await startTestStack();
  registry = hubSdk(stack, HUB);
});
afterAll(async () => {
  await stack.close();
});

async function connected(deviceId: string): Promise<{ device: ConnectedDevice; disconnected: Promise<unknown> }> {
  await registry.create({
    deviceId,
    authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } },
  } as never);
  const device = await connectHubDevice(stack.env, HUB, deviceId, credential);
  const disconnected = new Promise((resolve) => device.client.once('disconnect', resolve));
  return { device, disconnected };
}

const reconnect = (deviceId: string) =>
  connectHubDevice(stack.env, HUB, deviceId, credential).then(
    async (d) => (await d.close(), 'accepted'),
    (err: unknown) => (err instanceof errors.UnauthorizedError ? 'refused' : String(err)),
  );

test('disabled while connected: the SDK reports the disconnect, the registry shows Disconnected, and it cannot reconnect', async () => {
  const { device, disconnected } = await connected('dis-1');
  const current = (await registry.get('dis-1')).responseBody;
  await registry.update({ ...current, status: 'disabled' } as never);
  expect(await disconnected).toBeInstanceOf(results.Disconnected);
  expect(stack.simulator.hubDevices.connected(HUB)).not.toContain('dis-1');
  expect((await registry.get('dis-1')).responseBody.connectionState).toBe('Disconnected');
  expect(await reconnect('dis-1')).toBe('refused');
  await device.close();
});

test('deleted while connected: disconnected, and refused when it comes back', async () => {
  const { device, disconnected } = await connected('del-1');
  await registry.delete('del-1');
  expect(await disconnected).toBeInstanceOf(results.Disconnected);
  expect(await reconnect('del-1')).toBe('refused');
  await device.close();
});

test('deleted in bulk while connected: each device of the batch is disconnected, the one left alone stays', async () => {
  const a = await connected('bulk-a');
  const b = await connected('bulk-b');
  const kept = await connected('bulk-kept');
  const result = await registry.removeDevices([{ deviceId: 'bulk-a' }, { deviceId: 'bulk-b' }] as never, true);
  expect(result.responseBody.isSuccessful).toBe(true);
  await Promise.all([a.disconnected, b.disconnected]);
  expect(stack.simulator.hubDevices.connected(HUB)).toEqual(['bulk-kept']);
  expect((await registry.get('bulk-kept')).responseBody.connectionState).toBe('Connected');
  for (const d of [a, b, kept]) await d.device.close();
});

test('a second connection of the same device ID drops the first, as IoT Hub keeps one connection a device', async () => {
  const first = await connected('twice-1');
  const second = await connectHubDevice(stack.env, HUB, 'twice-1', credential);
  await first.disconnected;
  expect(stack.simulator.hubDevices.connected(HUB)).toContain('twice-1');
  expect((await registry.get('twice-1')).responseBody.connectionState).toBe('Connected');
  await first.device.close();
  await second.close();
});
