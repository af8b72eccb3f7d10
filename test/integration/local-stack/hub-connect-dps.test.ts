/**
 * The whole path a device takes: it provisions through the local DPS with the official provisioning SDK, then connects
 * to the hub DPS assigned, as the device ID DPS gave it, with the credential it already has — a symmetric-key group
 * member with its derived key (registering over MQTT, on the listener the hubs share), an X.509 device with its
 * certificate, and (with swtpm) a TPM device whose hub key never leaves its TPM.
 */
import {
  deriveDeviceKey,
  registerSymmetricKeyDevice,
  registerTpmDevice,
  registerX509Device,
} from '../../../dev/device';
import { connectHubDevice } from '../../../dev/hub-device';
import { issue } from '../../../dev/pki';
import { findSwtpm, type RunningTpm, startSwtpm } from '../../../dev/swtpm';
import { hubSdk } from '../../support/sdk-clients';
import { startTestStack, type TestStack } from '../../support/stack';
import { tpmClient } from '../../support/tpm';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

const GROUP_KEY = Buffer.from('hub-connect-group-key-for-tests-0').toString('base64');

test('a symmetric-key group member provisioned over MQTT connects to its assigned hub with its derived key, and finds its initial twin', async () => {
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'hub-connect-fleet',
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } },
    allocationPolicy: 'static',
    iotHubHostName: 'hub-eu-2.azure-devices.net',
    initialTwin: { properties: { desired: { mode: 'eco' } } },
  } as never);
  const deviceKey = deriveDeviceKey(GROUP_KEY, 'meter-dps-1');
  const assigned = await registerSymmetricKeyDevice(stack.env, 'meter-dps-1', deviceKey, undefined, 'mqtt');
  expect(assigned.assignedHub).toBe('hub-eu-2.azure-devices.net');

  const device = await connectHubDevice(stack.env, assigned.assignedHub, assigned.deviceId, {
    type: 'sas',
    key: deviceKey,
  });
  await device.send({ kwh: 3.2 });
  expect(stack.simulator.hubDevices.received(assigned.assignedHub, assigned.deviceId)).toHaveLength(1);
  expect((await device.twin()).properties.desired).toMatchObject({ mode: 'eco' });
  const seen = (await hubSdk(stack, assigned.assignedHub).get(assigned.deviceId)).responseBody;
  expect(seen.connectionState).toBe('Connected');
  await device.close();
  // The group's key is not the device's: a device presenting it is refused.
  await expect(
    connectHubDevice(stack.env, assigned.assignedHub, assigned.deviceId, { type: 'sas', key: GROUP_KEY }),
  ).rejects.toThrow(/Not authorized/);
});

test('an X.509 device provisioned through an individual enrollment connects with the certificate DPS saw', async () => {
  const cert = await issue({ subject: 'CN=x509-dps-1' });
  await stack.services.enrollments.putEnrollment({
    registrationId: 'x509-dps-1',
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: cert.certPem } } } },
    allocationPolicy: 'static',
    iotHubHostName: 'hub-us-1.azure-devices.net',
  });
  const assigned = await registerX509Device(stack.env, 'x509-dps-1', cert.certPem, cert.keyPem);
  const device = await connectHubDevice(stack.env, assigned.assignedHub, assigned.deviceId, {
    type: 'x509',
    ...cert,
  });
  await device.send({ ok: true });
  expect(stack.simulator.hubDevices.received(assigned.assignedHub, assigned.deviceId)).toHaveLength(1);
  await device.close();
});

const swtpm = findSwtpm();
(swtpm ? describe : describe.skip)(`a TPM device${swtpm ? '' : ' — skipped: swtpm is not installed'}`, () => {
  let tpm: RunningTpm;
  beforeAll(async () => {
    tpm = await startSwtpm();
  });
  afterAll(async () => {
    await tpm?.stop();
  });

  test('provisioned over HTTPS, it signs its hub SAS token inside its TPM and connects', async () => {
    const client = await tpmClient(tpm.address);
    const [endorsementKey, registrationId] = [await client.endorsementKey(), await client.registrationId()];
    client.close();
    await stack.services.enrollments.putEnrollment({
      registrationId,
      attestation: { type: 'tpm', tpm: { endorsementKey: endorsementKey.toString('base64') } },
      allocationPolicy: 'static',
      iotHubHostName: 'hub-eu-1.azure-devices.net',
    } as never);
    const registered = await registerTpmDevice(stack.env, tpm.address);
    try {
      const { assignedHub, deviceId } = registered.registration;
      const device = await connectHubDevice(stack.env, assignedHub, deviceId, {
        type: 'signer',
        sign: registered.sign,
      });
      await device.send({ tpm: true });
      expect(stack.simulator.hubDevices.received(assignedHub, deviceId)).toHaveLength(1);
      await device.close();
    } finally {
      registered.close();
    }
  });
});
