/**
 * Provisioning the same device again, as DPS publishes it: the same hub again is `reprovisionedToInitialAssignment`;
 * a move is `deviceDataMigrated` (twin carried) or `deviceDataReset` (the enrollment's initial twin), and the device's
 * identity leaves the hub it left. A device reads its own registration back with the status lookup
 * (`POST /{idScope}/registrations/{registrationId}`).
 */
import { deriveDeviceKey, registerSymmetricKeyDevice } from '../../../dev/device';
import type { EnrollmentGroup } from '../../../shared/dps-types';
import { statusLookup } from '../../support/device-api';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
const KEY = Buffer.from('reprovision-group-key-for-tests-0').toString('base64');
const group = (hub: string, migrateDeviceData: boolean): EnrollmentGroup => ({
  enrollmentGroupId: 'reprovision-fleet',
  attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } },
  allocationPolicy: 'static',
  iotHubHostName: hub,
  reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData },
  initialTwin: { tags: { fleet: 'reprovision' } },
});

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

const lookup = (registrationId: string, deviceKey: string) => statusLookup(stack.env, registrationId, deviceKey);

test('again to the same hub, then moved with and without its data: the published substatus, and the old hub emptied', async () => {
  const dps = stack.services.enrollments;
  const hubs = stack.services.hubs;
  const key = deriveDeviceKey(KEY, 'rp-1');
  const register = () => registerSymmetricKeyDevice(stack.env, 'rp-1', key);
  const state = () => dps.getRegistrationState('rp-1');

  await dps.putGroup(group('hub-eu-1.azure-devices.net', true));
  expect(await register()).toMatchObject({ assignedHub: 'hub-eu-1.azure-devices.net' });
  expect(await state()).toMatchObject({ substatus: 'initialAssignment' });
  await register();
  expect(await state()).toMatchObject({ substatus: 'reprovisionedToInitialAssignment' });
  // What the device's solution wrote to its twin meanwhile: carried along by a migration, dropped by a reset.
  const twin = stack.simulator.state.hubs.get('hub-eu-1.azure-devices.net')?.twins.get('rp-1');
  if (twin) twin.tags = { ...twin.tags, room: '12' };

  let current = await dps.getGroup('reprovision-fleet');
  await dps.putGroup({ ...group('hub-eu-2.azure-devices.net', true), etag: current?.etag });
  expect(await register()).toMatchObject({ assignedHub: 'hub-eu-2.azure-devices.net' });
  expect(await state()).toMatchObject({ substatus: 'deviceDataMigrated', assignedHub: 'hub-eu-2.azure-devices.net' });
  expect(await hubs.hub('hub-eu-1.azure-devices.net').getDevice('rp-1')).toBeUndefined();
  expect((await hubs.hub('hub-eu-2.azure-devices.net').getTwin('rp-1'))?.tags).toEqual({
    fleet: 'reprovision',
    room: '12',
  });

  current = await dps.getGroup('reprovision-fleet');
  await dps.putGroup({ ...group('hub-us-1.azure-devices.net', false), etag: current?.etag });
  await register();
  expect(await state()).toMatchObject({ substatus: 'deviceDataReset', assignedHub: 'hub-us-1.azure-devices.net' });
  expect(await hubs.hub('hub-eu-2.azure-devices.net').getDevice('rp-1')).toBeUndefined();
  expect((await hubs.hub('hub-us-1.azure-devices.net').getTwin('rp-1'))?.tags).toEqual({ fleet: 'reprovision' });

  expect(await lookup('rp-1', key)).toMatchObject({
    status: 200,
    body: { registrationId: 'rp-1', status: 'assigned', assignedHub: 'hub-us-1.azure-devices.net' },
  });
  expect((await lookup('rp-1', deriveDeviceKey(KEY, 'someone-else'))).status).toBe(401);
  expect((await lookup('rp-never', deriveDeviceKey(KEY, 'rp-never'))).status).toBe(404);
});
