/**
 * Devices connect to the local hubs through the official device SDK (azure-iot-device + azure-iot-device-mqtt), each
 * kind of authentication IoT Hub takes accepted, and each refused as IoT Hub refuses it: at CONNECT, with CONNACK 5
 * "not authorized", which the SDK turns into an UnauthorizedError.
 */
import { errors } from 'azure-iot-common';
import type { Registry } from 'azure-iothub';

import { connectHubDevice } from '../../dev/hub-device';
import { issue } from '../../dev/pki';
import { hubSdk } from '../support/sdk-clients';
import { startTestStack, type TestStack } from '../support/stack';

const HUB = 'hub-eu-1.azure-devices.net';
let stack: TestStack;
let registry: Registry;

beforeAll(async () => {
  stack = await startTestStack();
  registry = hubSdk(stack, HUB);
});
afterAll(async () => {
  await stack.close();
});

const key = (seed: string) => Buffer.from(seed.padEnd(32, '.')).toString('base64');
const thumbprint = (pem: string) => new (require('node:crypto').X509Certificate)(pem).fingerprint256.replace(/:/g, '');

test('a symmetric-key device connects with a SAS token signed by its key; a wrong key and an unknown device are refused', async () => {
  await registry.create({
    deviceId: 'sas-1',
    authentication: { type: 'sas', symmetricKey: { primaryKey: key('p1'), secondaryKey: key('s1') } },
  } as never);
  const device = await connectHubDevice(stack.env, HUB, 'sas-1', { type: 'sas', key: key('s1') });
  expect(stack.simulator.hubDevices.connected(HUB)).toEqual(['sas-1']);
  await device.close();

  await expect(connectHubDevice(stack.env, HUB, 'sas-1', { type: 'sas', key: key('wrong') })).rejects.toBeInstanceOf(
    errors.UnauthorizedError,
  );
  await expect(connectHubDevice(stack.env, HUB, 'nobody', { type: 'sas', key: key('p1') })).rejects.toThrow(
    /Not authorized/,
  );
});
