/** The DPS adapter (azure-iot-provisioning-service underneath) against the local simulator. */
import { ProvisioningServiceClient } from 'azure-iot-provisioning-service';

import { dpsClient, DpsEnrollments } from '../../../shared/azure/dps';
import { iotTransport } from '../../../shared/azure/transport';
import type { IndividualEnrollment } from '../../../shared/dps-types';
import { AccessDeniedError, ConflictError, NotFoundError, ThrottledError } from '../../../shared/errors';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';

const EK = Buffer.alloc(316, 7).toString('base64');
const tpm = (registrationId: string): IndividualEnrollment => ({
  registrationId,
  attestation: { type: 'tpm', tpm: { endorsementKey: EK } },
});

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack.close();
});

test('individual enrollment CRUD with etags', async () => {
  const dps = stack.services.enrollments;
  const created = await dps.putEnrollment({ ...tpm('dev-crud-1'), initialTwin: { tags: { lot: 'A' } } });
  expect(created.etag).toBeTruthy();
  expect(created.provisioningStatus).toBe('enabled');
  expect(created.reprovisionPolicy).toEqual({ updateHubAssignment: true, migrateDeviceData: true });

  const read = await dps.getEnrollment('DEV-CRUD-1'); // registration IDs are case-insensitive
  expect(read?.initialTwin?.tags).toEqual({ lot: 'A' });

  const updated = await dps.putEnrollment({ ...(read as IndividualEnrollment), provisioningStatus: 'disabled' });
  expect(updated.etag).not.toBe(created.etag);
  await expect(dps.putEnrollment({ ...created, provisioningStatus: 'enabled' })).rejects.toBeInstanceOf(ConflictError); // stale etag → 412
  // A put without If-Match is a create: on an existing enrollment, 409 (it is written over only when named: etag or *).
  const { etag: _etag, ...unnamed } = updated;
  await expect(dps.putEnrollment({ ...unnamed, provisioningStatus: 'enabled' })).rejects.toMatchObject({
    status: 409,
    code: 409201,
  });
  expect((await dps.getEnrollment('dev-crud-1'))?.provisioningStatus).toBe('disabled');
  // The bulk API's `update` replaces an existing enrollment without naming its etag (that is `updateIfMatchETag`).
  await expect(dps.bulkEnrollments('update', [{ ...unnamed, provisioningStatus: 'enabled' }])).resolves.toEqual({
    isSuccessful: true,
    errors: [],
  });
  expect((await dps.getEnrollment('dev-crud-1'))?.provisioningStatus).toBe('enabled');

  await expect(dps.deleteEnrollment('dev-crud-1', created.etag)).rejects.toBeInstanceOf(ConflictError);
  await dps.deleteEnrollment('dev-crud-1', (await dps.getEnrollment('dev-crud-1'))?.etag);
  expect(await dps.getEnrollment('dev-crud-1')).toBeUndefined();
  await expect(dps.deleteEnrollment('dev-crud-1')).rejects.toBeInstanceOf(NotFoundError);
});

test('bulk create reports each row, refuses more than the batch limit, and queries page with continuation', async () => {
  const dps = stack.services.enrollments;
  const batch = Array.from({ length: 10 }, (_, i) => tpm(`bulk-${i}`));
  expect(await dps.bulkEnrollments('create', batch)).toEqual({ isSuccessful: true, errors: [] });

  const again = await dps.bulkEnrollments('create', [tpm('bulk-0'), tpm('bulk-new'), tpm('-bad-id')]);
  expect(again.isSuccessful).toBe(false);
  expect(again.errors.map((e) => [e.registrationId, e.errorCode])).toEqual([
    ['bulk-0', 409201],
    ['-bad-id', 400004],
  ]);

  await expect(
    dps.bulkEnrollments(
      'create',
      Array.from({ length: 11 }, (_, i) => tpm(`x-${i}`)),
    ),
  ).rejects.toThrow(RangeError);

  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await dps.queryEnrollments(4, token);
    seen.push(...page.items.map((e) => e.registrationId));
    token = page.continuationToken;
    pages++;
  } while (token);
  expect(pages).toBe(3);
  expect(seen.filter((id) => id.startsWith('bulk-')).sort()).toEqual(
    [...batch.map((e) => e.registrationId), 'bulk-new'].sort(),
  );

  const del = await dps.bulkEnrollments('delete', batch.slice(0, 3));
  expect(del.isSuccessful).toBe(true);
  expect(await dps.getEnrollment('bulk-1')).toBeUndefined();
});

test('enrollment groups generate symmetric keys; registration states are 404 until a device registers', async () => {
  const dps = stack.services.enrollments;
  const group = await dps.putGroup({ enrollmentGroupId: 'line-7', attestation: { type: 'symmetricKey' } });
  expect(group.attestation.symmetricKey?.primaryKey).toMatch(/^[A-Za-z0-9+/]+=*$/);
  expect((await dps.getGroup('line-7'))?.etag).toBe(group.etag);
  expect(await dps.getRegistrationState('nobody')).toBeUndefined();
  expect((await dps.queryGroupRegistrations('line-7', 10)).items).toEqual([]);
  await expect(
    dps.putGroup({ enrollmentGroupId: 'tpm-group', attestation: { type: 'tpm', tpm: { endorsementKey: EK } } }),
  ).rejects.toThrow(/TPM/);
});

test('a wrong SAS key is refused with 401', async () => {
  const wrong = stack.env.DPS_CONNECTION_STRING.replace(
    /SharedAccessKey=[^;]+/,
    'SharedAccessKey=' + Buffer.from('wrong key').toString('base64'),
  );
  const dps = new DpsEnrollments(dpsClient({ connectionString: wrong }, iotTransport(stack.env)));
  await expect(dps.getEnrollment('anything')).rejects.toBeInstanceOf(AccessDeniedError);
});

test('the SDK’s own documented calls work unchanged against the simulator', async () => {
  const client: ProvisioningServiceClient = dpsClient(
    { connectionString: stack.env.DPS_CONNECTION_STRING },
    iotTransport(stack.env),
  ).sdk;
  const { responseBody } = await client.createOrUpdateIndividualEnrollment({
    registrationId: 'sdk-doc-1',
    attestation: { type: 'tpm', tpm: { endorsementKey: EK } },
  } as never);
  expect(responseBody.registrationId).toBe('sdk-doc-1');
  const attestation = await client.getIndividualEnrollmentAttestationMechanism('sdk-doc-1');
  expect(attestation.responseBody.tpm?.endorsementKey).toBe(EK);
  await client.deleteIndividualEnrollment('sdk-doc-1');
});

describe('throttling', () => {
  let small: TestStack;
  // 60 operations a minute in bursts of 3 s: 3 calls, then a 429 until the test moves the quota's clock.
  const clock = manualClock();
  beforeAll(async () => {
    small = await startTestStack({ clock: clock.millis, quotas: { dpsOperationsPerMinute: 60, burstSeconds: 3 } });
  });
  afterAll(async () => {
    await small.close();
  });

  test('DPS answers 429 with Retry-After once the operations quota is spent, and serves again after it', async () => {
    // The adapter itself: the app's port is paced (shared/pacing) and would wait out the quota instead of meeting it.
    const dps = new DpsEnrollments(
      dpsClient({ connectionString: small.env.DPS_CONNECTION_STRING }, iotTransport(small.env)),
    );
    for (let i = 0; i < 3; i++) await expect(dps.getEnrollment(`nobody-${i}`)).resolves.toBeUndefined();
    const throttled = await dps.getEnrollment('one-too-many').then(
      () => undefined,
      (err: unknown) => err as ThrottledError,
    );
    expect(throttled).toBeInstanceOf(ThrottledError);
    expect(throttled?.code).toBe(429001);
    expect(throttled?.retryAfterMs).toBe(1000); // one operation refills in one second
    clock.advance(throttled?.retryAfterMs as number);
    await expect(dps.getEnrollment('after-wait')).resolves.toBeUndefined();
  });
});

describe.each([
  ['perEnrollment', 1],
  ['perCall', 10],
] as const)('a bulk call of 10 counted %s', (counting, callsBeforeThrottle) => {
  let counted: TestStack;
  // 600 operations a minute in bursts of 1 s: 10 operations, then a 429 until the test moves the quota's clock.
  const clock = manualClock();
  beforeAll(async () => {
    counted = await startTestStack({
      clock: clock.millis,
      quotas: { dpsOperationsPerMinute: 600, burstSeconds: 1, dpsBulkCounting: counting },
    });
  });
  afterAll(async () => {
    await counted.close();
  });

  test(`${callsBeforeThrottle} bulk call(s) of 10 spend the quota`, async () => {
    const dps = new DpsEnrollments(
      dpsClient({ connectionString: counted.env.DPS_CONNECTION_STRING }, iotTransport(counted.env)),
    );
    const bulk = (n: number) =>
      dps.bulkEnrollments(
        'create',
        Array.from({ length: 10 }, (_, i) => ({
          registrationId: `counted-${n}-${i}`,
          attestation: { type: 'tpm', tpm: { endorsementKey: EK } },
        })) as IndividualEnrollment[],
      );
    for (let n = 0; n < callsBeforeThrottle; n++) await expect(bulk(n)).resolves.toMatchObject({ errors: [] });
    await expect(bulk(callsBeforeThrottle)).rejects.toBeInstanceOf(ThrottledError);
  });
});
