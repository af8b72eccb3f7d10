/**
 * The contract checker itself: shapes as the published specs give them pass; each kind of break is named.
 * The fixtures are DPS's and IoT Hub's exact shapes (field for field as the specs' examples give them).
 */
import { checkExchange, type Exchange } from '../../contract/exchanges';

const DPS = 'contoso-dps.azure-devices-provisioning.net';
const HUB = 'hub-eu-1.azure-devices.net';
const enrollment = {
  registrationId: 'dev-1',
  attestation: { type: 'tpm', tpm: { endorsementKey: 'AToAAQALAAMAsgAg' } },
  capabilities: { iotEdge: false },
  etag: '"0d00d3c5-0000-0800-0000-6565a3c40000"',
  provisioningStatus: 'enabled',
  reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
  createdDateTimeUtc: '2023-11-28T08:31:00.4356498Z',
  lastUpdatedDateTimeUtc: '2023-11-28T08:31:00.4356498Z',
  allocationPolicy: 'custom',
  customAllocationDefinition: {
    webhookUrl: 'https://x.azurewebsites.net/api/allocate?code=k',
    apiVersion: '2021-10-01',
  },
  initialTwin: { tags: { lot: 'L-7', line: 3 }, properties: { desired: {} } },
};
const exchange = (over: Partial<Exchange>): Exchange => ({
  host: DPS,
  method: 'GET',
  url: '/enrollments/dev-1?api-version=2021-10-01',
  requestBody: '',
  status: 200,
  responseBody: JSON.stringify(enrollment),
  ...over,
});

test('DPS and IoT Hub shapes as the specs give them keep the contract', () => {
  expect(checkExchange(exchange({}))).toEqual([]);
  expect(
    checkExchange(
      exchange({ method: 'PUT', requestBody: JSON.stringify(enrollment), responseBody: JSON.stringify(enrollment) }),
    ),
  ).toEqual([]);
  const error = { errorCode: 404201, trackingId: 'a1', message: 'Not found', timestampUtc: '2024-01-01T00:00:00Z' };
  expect(checkExchange(exchange({ status: 404, responseBody: JSON.stringify(error) }))).toEqual([]);
  const device = {
    deviceId: 'd1',
    generationId: '638',
    etag: 'MQ==',
    connectionState: 'Disconnected',
    status: 'enabled',
    statusReason: null,
    cloudToDeviceMessageCount: 0,
    authentication: {
      type: 'selfSigned',
      symmetricKey: { primaryKey: null, secondaryKey: null },
      x509Thumbprint: { primaryThumbprint: 'AB', secondaryThumbprint: 'AB' },
    },
    capabilities: { iotEdge: false },
  };
  expect(
    checkExchange({
      host: HUB,
      method: 'GET',
      url: '/devices/d1?api-version=2021-04-12',
      requestBody: '',
      status: 200,
      responseBody: JSON.stringify(device),
    }),
  ).toEqual([]);
});

test('each kind of break is named with the call', () => {
  const extra = checkExchange(exchange({ responseBody: JSON.stringify({ ...enrollment, enrollmentGroupId: 'g' }) }));
  expect(extra).toEqual([
    expect.stringMatching(
      /GET .*\/enrollments\/dev-1 → 200: response IndividualEnrollment: \/ must NOT have additional properties \(enrollmentGroupId\)/,
    ),
  ]);
  const noApiVersion = checkExchange(exchange({ url: '/enrollments/dev-1' }));
  expect(noApiVersion).toEqual([expect.stringContaining('no api-version')]);
  const refusedForIt = { errorCode: 400001, message: 'The api-version query parameter is required.' };
  expect(
    checkExchange(exchange({ url: '/enrollments/dev-1', status: 400, responseBody: JSON.stringify(refusedForIt) })),
  ).toEqual([]);
  const webhookWithoutVersion = { ...enrollment, customAllocationDefinition: { webhookUrl: 'https://x' } };
  expect(checkExchange(exchange({ method: 'PUT', requestBody: JSON.stringify(webhookWithoutVersion) }))).toEqual([
    expect.stringMatching(
      /request IndividualEnrollment: \/customAllocationDefinition must have required property 'apiVersion'/,
    ),
  ]);
  expect(
    checkExchange(exchange({ responseBody: JSON.stringify({ ...enrollment, provisioningStatus: 'paused' }) })),
  ).toEqual([expect.stringContaining('/provisioningStatus must be equal to one of the allowed values')]);
  expect(checkExchange(exchange({ method: 'PATCH' }))).toEqual([expect.stringContaining('no such operation')]);
  expect(checkExchange(exchange({ method: 'DELETE', status: 200, responseBody: '' }))).toEqual([
    expect.stringContaining('status 200 is not an answer of IndividualEnrollment_Delete'),
  ]);
  expect(checkExchange(exchange({ status: 500, responseBody: '{"message":"x","stack":"..."}' }))).toEqual([
    expect.stringContaining('ProvisioningServiceErrorDetails: / must NOT have additional properties (stack)'),
  ]);
});

test('a body outside the contract passes only when the test sent it so on purpose, and only refused', () => {
  const refused = { errorCode: 400004, message: 'The request body is invalid.' };
  const bad = JSON.stringify({ ...enrollment, attestation: { type: 'tpm' }, secret: 'x' });
  // Refused or not, a body our adapters got wrong breaks the contract: a 400 does not excuse it.
  const adapterRefused = exchange({
    method: 'PUT',
    requestBody: bad,
    status: 400,
    responseBody: JSON.stringify(refused),
  });
  expect(checkExchange(adapterRefused)).toEqual([expect.stringContaining('request IndividualEnrollment')]);
  // Marked as sent outside the contract on purpose: refused is the contract kept, answered is a break.
  expect(checkExchange({ ...adapterRefused, outsideContract: true })).toEqual([]);
  expect(
    checkExchange({ ...adapterRefused, outsideContract: true, status: 200, responseBody: JSON.stringify(enrollment) }),
  ).toEqual([expect.stringContaining('a request sent outside the contract was answered')]);
});
