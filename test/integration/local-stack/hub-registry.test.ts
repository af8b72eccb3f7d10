/** The IoT Hub adapter (azure-iothub's Registry underneath) against the local simulator. */
import { hubRegistry, IotHubRegistry } from '../../../shared/azure/hub';
import { iotTransport } from '../../../shared/azure/transport';
import { AccessDeniedError, ConflictError, ThrottledError } from '../../../shared/errors';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

const hubName = 'hub-eu-1.azure-devices.net';

test('device CRUD with etags, twins and statistics', async () => {
  const hub = stack.services.hubs.hub(hubName);
  const created = await hub.putDevice({ deviceId: 'crud-1' });
  expect(created.authentication?.type).toBe('sas');
  expect(created.authentication?.symmetricKey?.primaryKey).toBeTruthy();
  await expect(hub.putDevice({ deviceId: 'crud-1' })).rejects.toBeInstanceOf(ConflictError);

  const disabled = await hub.putDevice({ ...created, status: 'disabled' });
  expect(disabled.status).toBe('disabled');
  expect((await hub.getTwin('crud-1'))?.deviceId).toBe('crud-1');
  expect(await hub.statistics()).toEqual({ totalDeviceCount: 1, enabledDeviceCount: 0, disabledDeviceCount: 1 });

  await expect(hub.deleteDevice('crud-1', created.etag)).rejects.toBeInstanceOf(ConflictError);
  await hub.deleteDevice('crud-1', disabled.etag);
  expect(await hub.getDevice('crud-1')).toBeUndefined();
});

test('bulk create and bulk delete of 100 devices, refusing 101', async () => {
  const hub = stack.services.hubs.hub('hub-eu-2.azure-devices.net');
  const devices = Array.from({ length: 100 }, (_, i) => ({ deviceId: `bulk-${i}` }));
  expect((await hub.bulkDevices('create', devices)).isSuccessful).toBe(true);
  expect((await hub.statistics()).totalDeviceCount).toBe(100);

  const page1 = await hub.queryTwins("SELECT * FROM devices WHERE status = 'enabled'", 60);
  expect(page1.items).toHaveLength(60);
  const page2 = await hub.queryTwins("SELECT * FROM devices WHERE status = 'enabled'", 60, page1.continuationToken);
  expect(page2.items).toHaveLength(40);
  expect(page2.continuationToken).toBeUndefined();

  await expect(hub.bulkDevices('delete', [...devices, { deviceId: 'one-too-many' }])).rejects.toThrow(RangeError);
  const removed = await hub.bulkDevices('delete', [...devices.slice(0, 99), { deviceId: 'never-existed' }]);
  expect(removed.isSuccessful).toBe(false);
  expect(removed.errors).toEqual([expect.objectContaining({ deviceId: 'never-existed', errorCode: 'DeviceNotFound' })]);
  expect((await hub.statistics()).totalDeviceCount).toBe(1);
});

test('a wrong SAS key is refused with 401', async () => {
  const cs = stack.env.IOTHUB_CONNECTION_STRINGS.split(',')[0].replace(
    /SharedAccessKey=[^;]+/,
    'SharedAccessKey=' + Buffer.from('nope').toString('base64'),
  );
  const hub = new IotHubRegistry(hubName, hubRegistry({ connectionString: cs }, iotTransport(stack.env)));
  await expect(hub.getDevice('x')).rejects.toBeInstanceOf(AccessDeniedError);
});

describe('registry throttle', () => {
  let small: TestStack;
  beforeAll(async () => {
    small = await startTestStack({ quotas: { registryOpsPerMinutePerUnit: 100, burstSeconds: 30 } });
  });
  afterAll(async () => {
    await small.close();
  });

  test('bulk writes count per device: 50 pass, the next 50 within the burst get 429 with Retry-After', async () => {
    const hub = small.services.hubs.hub(hubName);
    const batch = (from: number) => Array.from({ length: 50 }, (_, i) => ({ deviceId: `t-${from + i}` }));
    expect((await hub.bulkDevices('create', batch(0))).isSuccessful).toBe(true);
    const err = await hub.bulkDevices('create', batch(50)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect((err as ThrottledError).retryAfterMs).toBeGreaterThanOrEqual(1000);
  });
});
