/**
 * Devices connect to the local hubs through the official device SDK (azure-iot-device + azure-iot-device-mqtt), each
 * kind of authentication IoT Hub takes accepted, and each refused as IoT Hub refuses it: at CONNECT, with CONNACK 5
 * "not authorized", which the SDK turns into an UnauthorizedError. The devices are made through `azure-iothub`'s
 * Registry, as the backend makes them.
 */
import { X509Certificate } from 'node:crypto';

import { errors } from 'azure-iot-common';
import type { Registry } from 'azure-iothub';

import { connectHubDevice, type HubCredential } from '../../../dev/hub-device';
import { issue } from '../../../dev/pki';
import { hubSdk } from '../../support/sdk-clients';
import { startTestStack, type TestStack } from '../../support/stack';

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
const sha256 = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, '');

/** Connects and closes again; the device IDs the hub saw connected while it was open. */
async function connectOnce(deviceId: string, credential: HubCredential): Promise<string[]> {
  const device = await connectHubDevice(stack.env, HUB, deviceId, credential);
  const connected = stack.simulator.hubDevices.connected(HUB);
  await device.close();
  return connected;
}

const refusal = (deviceId: string, credential: HubCredential) =>
  connectHubDevice(stack.env, HUB, deviceId, credential).then(
    async (device) => (await device.close(), 'accepted'),
    (err: Error) => (err instanceof errors.UnauthorizedError ? err.message : `unexpected: ${String(err)}`),
  );

test('symmetric key: a SAS token signed with the primary or secondary key is accepted; a wrong key and an unknown device are refused', async () => {
  await registry.create({
    deviceId: 'sas-1',
    authentication: { type: 'sas', symmetricKey: { primaryKey: key('p1'), secondaryKey: key('s1') } },
  } as never);
  expect(await connectOnce('sas-1', { type: 'sas', key: key('p1') })).toEqual(['sas-1']);
  expect(await connectOnce('sas-1', { type: 'sas', key: key('s1') })).toEqual(['sas-1']);
  expect(await refusal('sas-1', { type: 'sas', key: key('wrong') })).toMatch(/Not authorized/);
  expect(await refusal('nobody', { type: 'sas', key: key('p1') })).toMatch(/Not authorized/);
  expect(stack.simulator.hubDevices.connected(HUB)).toEqual([]);
});

test('X.509 self-signed: the certificate whose SHA-256 thumbprint the identity holds is accepted; another certificate, or a SAS token, is refused', async () => {
  const cert = await issue({ subject: 'CN=x509-self-1' });
  const other = await issue({ subject: 'CN=x509-self-1' });
  // What DPS creates for an X.509 device here: selfSigned, the SHA-256 thumbprint in both slots.
  await registry.create({
    deviceId: 'x509-self-1',
    authentication: {
      type: 'selfSigned',
      x509Thumbprint: { primaryThumbprint: sha256(cert.certPem), secondaryThumbprint: sha256(cert.certPem) },
    },
  } as never);
  expect(await connectOnce('x509-self-1', { type: 'x509', ...cert })).toEqual(['x509-self-1']);
  expect(await refusal('x509-self-1', { type: 'x509', ...other })).toMatch(/Not authorized/);
  expect(await refusal('x509-self-1', { type: 'sas', key: key('any') })).toMatch(/Not authorized/);
});

test('X.509 CA-signed: a device certificate chaining to a verified CA of the hub, CN = device ID, is accepted; an unverified CA, another CN, an expired certificate are refused', async () => {
  const root = await issue({ subject: 'CN=Fleet Root', isCa: true });
  const intermediate = await issue({ subject: 'CN=Fleet Issuing', isCa: true, issuer: root });
  const leaf = await issue({ subject: 'CN=x509-ca-1', issuer: intermediate });
  const chain = `${leaf.certPem}\n${intermediate.certPem}`;
  await registry.create({ deviceId: 'x509-ca-1', authentication: { type: 'certificateAuthority' } } as never);

  expect(await refusal('x509-ca-1', { type: 'x509', certPem: chain, keyPem: leaf.keyPem })).toMatch(/Not authorized/);
  stack.simulator.hubDevices.setVerifiedCas(HUB, [root.certPem]);
  expect(await connectOnce('x509-ca-1', { type: 'x509', certPem: chain, keyPem: leaf.keyPem })).toEqual(['x509-ca-1']);

  const otherName = await issue({ subject: 'CN=someone-else', issuer: intermediate });
  const ended = await issue({
    subject: 'CN=x509-ca-1',
    issuer: intermediate,
    notBefore: new Date(Date.now() - 3 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });
  const leafAlone = { type: 'x509' as const, certPem: leaf.certPem, keyPem: leaf.keyPem };
  expect(
    await refusal('x509-ca-1', {
      type: 'x509',
      certPem: `${otherName.certPem}\n${intermediate.certPem}`,
      keyPem: otherName.keyPem,
    }),
  ).toMatch(/Not authorized/);
  expect(
    await refusal('x509-ca-1', {
      type: 'x509',
      certPem: `${ended.certPem}\n${intermediate.certPem}`,
      keyPem: ended.keyPem,
    }),
  ).toMatch(/Not authorized/);
  // Without its intermediate the leaf does not reach the root: the hub has only what the device presents.
  expect(await refusal('x509-ca-1', leafAlone)).toMatch(/Not authorized/);
  // A verified intermediate is enough on its own, as IoT Hub takes an intermediate CA too.
  stack.simulator.hubDevices.setVerifiedCas(HUB, [intermediate.certPem]);
  expect(await connectOnce('x509-ca-1', leafAlone)).toEqual(['x509-ca-1']);
});

test('a disabled device is refused at CONNECT, and connects again once enabled', async () => {
  const created = await registry.create({
    deviceId: 'off-1',
    status: 'disabled',
    authentication: { type: 'sas', symmetricKey: { primaryKey: key('off'), secondaryKey: key('off2') } },
  } as never);
  const refusedEvent = new Promise<{ reason: string }>((resolve) =>
    stack.simulator.hubDevices.events.once('refused', resolve),
  );
  expect(await refusal('off-1', { type: 'sas', key: key('off') })).toMatch(/Not authorized/);
  expect((await refusedEvent).reason).toMatch(/disabled/);
  await registry.update({ ...(created.responseBody as object), deviceId: 'off-1', status: 'enabled' } as never);
  expect(await connectOnce('off-1', { type: 'sas', key: key('off') })).toEqual(['off-1']);
});
