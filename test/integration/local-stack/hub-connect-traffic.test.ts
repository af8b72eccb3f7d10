/**
 * What a connected device does on its hub, through the official device SDK, and what the backend's SDK
 * (`azure-iothub`'s Registry) sees of it: telemetry the hub received, the twin read and reported, desired properties
 * pushed to the device with their version, a cloud-to-device message, and the device's `connectionState`,
 * `connectionStateUpdatedTime` and `lastActivityTime` on the device, on its twin and in a registry query.
 */
import type { Twin as DeviceTwin } from 'azure-iot-device';
import type { Registry } from 'azure-iothub';

import { type ConnectedDevice, connectHubDevice } from '../../../dev/hub-device';
import type { HubTelemetry } from '../../../dev/sim/hub-mqtt';
import { hubSdk } from '../../support/sdk-clients';
import { startTestStack, type TestStack } from '../../support/stack';

const HUB = 'hub-eu-2.azure-devices.net';
const NEVER = '0001-01-01T00:00:00Z';
let stack: TestStack;
let registry: Registry;
const key = Buffer.from('traffic-test-device-key-000000000').toString('base64');

beforeAll(async () => {
  stack = await startTestStack();
  registry = hubSdk(stack, HUB);
});
afterAll(async () => {
  await stack.close();
});

async function device(deviceId: string): Promise<ConnectedDevice> {
  await registry.create({
    deviceId,
    authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } },
  } as never);
  return connectHubDevice(stack.env, HUB, deviceId, { type: 'sas', key });
}

const read = async (deviceId: string) => (await registry.get(deviceId)).responseBody;

test('telemetry reaches the hub; the backend reads Connected, the last activity, the reported properties, and Disconnected after close', async () => {
  await registry.create({
    deviceId: 'meter-1',
    authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } },
  } as never);
  const before = await read('meter-1');
  expect(before).toMatchObject({ connectionState: 'Disconnected', lastActivityTime: NEVER });

  const meter = await connectHubDevice(stack.env, HUB, 'meter-1', { type: 'sas', key });
  const connected = await read('meter-1');
  expect(connected.connectionState).toBe('Connected');
  expect(connected.connectionStateUpdatedTime).not.toBe(NEVER);
  expect(connected.etag).toBe(before.etag); // a connection is not an identity update

  await meter.send({ temperature: 21.5 }, { kind: 'reading' });
  const [message] = stack.simulator.hubDevices.received(HUB, 'meter-1') as HubTelemetry[];
  expect(JSON.parse(message.body.toString())).toEqual({ temperature: 21.5 });
  expect(message.properties).toMatchObject({ kind: 'reading', '$.ct': 'application/json', '$.ce': 'utf-8' });

  await meter.report({ firmware: '1.2.0', battery: { level: 80 } });
  const twin = (await registry.getTwin('meter-1')).responseBody;
  expect(twin.properties.reported).toMatchObject({ firmware: '1.2.0', battery: { level: 80 } });
  expect(twin).toMatchObject({ connectionState: 'Connected' });

  const page = await registry.createQuery("SELECT * FROM devices WHERE connectionState = 'Connected'").nextAsTwin();
  expect(page.result.map((t) => t.deviceId)).toContain('meter-1');

  const after = await read('meter-1');
  expect(new Date(String(after.lastActivityTime)).getTime()).toBeGreaterThanOrEqual(
    new Date(String(connected.lastActivityTime)).getTime(),
  );
  expect(after.lastActivityTime).not.toBe(NEVER);

  const gone = new Promise((resolve) => stack.simulator.hubDevices.events.once('disconnected', resolve));
  await meter.close();
  await gone;
  expect((await read('meter-1')).connectionState).toBe('Disconnected');
});

test('the twin GET answers desired and reported with their versions; a reported patch with null removes a property', async () => {
  const dev = await device('twin-1');
  await dev.report({ a: 1, b: 2 });
  await dev.report({ b: null });
  const twin = await dev.twin();
  expect(twin.properties.reported).toMatchObject({ a: 1, $version: 3 });
  expect(twin.properties.reported).not.toHaveProperty('b');
  expect(twin.properties.desired).toMatchObject({ $version: 1 });
  await dev.close();
});

test('desired properties the backend sets reach the connected device, with the new $version', async () => {
  const dev = await device('twin-2');
  const twin: DeviceTwin = await dev.twin();
  const subscribed = new Promise((resolve) =>
    stack.simulator.hubDevices.events.on('subscribed', (e: { deviceId: string; topic: string }) => {
      if (e.deviceId === 'twin-2' && e.topic.startsWith('$iothub/twin/PATCH/properties/desired')) resolve(e);
    }),
  );
  const patches: Record<string, unknown>[] = [];
  const interval = new Promise<Record<string, unknown>>((resolve) =>
    twin.on('properties.desired', (delta: Record<string, unknown>) => {
      patches.push(delta);
      if (delta.interval !== undefined) resolve(delta);
    }),
  );
  await subscribed;
  await registry.updateTwin('twin-2', { properties: { desired: { interval: 30 } } }, '*');
  expect(await interval).toMatchObject({ interval: 30, $version: 2 });
  await dev.close();
});

test('a cloud-to-device message reaches a device subscribed to its C2D topic, with its properties', async () => {
  const dev = await device('c2d-1');
  const subscribed = new Promise((resolve) =>
    stack.simulator.hubDevices.events.on('subscribed', (e: { deviceId: string; topic: string }) => {
      if (e.deviceId === 'c2d-1' && e.topic === 'devices/c2d-1/messages/devicebound/#') resolve(e);
    }),
  );
  const received = new Promise<{ data: Buffer; properties: { getValue(k: string): string } }>((resolve) =>
    dev.client.on('message', (m) => resolve(m as never)),
  );
  expect(stack.simulator.hubDevices.sendToDevice(HUB, 'c2d-1', 'too early')).toBe(false);
  await subscribed;
  expect(stack.simulator.hubDevices.sendToDevice(HUB, 'c2d-1', 'reboot', { reason: 'maintenance' })).toBe(true);
  const message = await received;
  expect(message.data.toString()).toBe('reboot');
  expect(message.properties.getValue('reason')).toBe('maintenance');
  await dev.close();
});
