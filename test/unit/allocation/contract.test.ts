/** DPS's AllocationRequest in its exact shapes (test/fixtures): parsed, or refused with a reason. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseAllocationRequest } from '../../../shared/allocation/rules/contract';

export const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', name), 'utf8'));

test.each([
  ['allocation-request.symmetric-key-group.json', 'breakroom499-contoso-tstrsd-007', undefined],
  ['allocation-request.tpm-individual.json', '3xqbpd7z4jnpgdyytgmmp4tl4bfmq6cqhpdmxskd2hs7ygvgudka', undefined],
  ['allocation-request.x509-group.reprovision.json', 'line7-sensor-0042', 'hub-eu-2.azure-devices.net'],
])('%s parses', (file, registrationId, current) => {
  const parsed = parseAllocationRequest(fixture(file));
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(parsed.value.deviceRuntimeContext.registrationId).toBe(registrationId);
  expect(parsed.value.deviceRuntimeContext.currentIotHubHostName).toBe(current);
});

test('currentIoTHubHostName (older docs’ spelling) is read too', () => {
  const request = fixture('allocation-request.symmetric-key-group.json');
  request.deviceRuntimeContext.currentIoTHubHostName = 'contoso-west-hub.azure-devices.net';
  const parsed = parseAllocationRequest(request);
  expect(parsed.ok && parsed.value.deviceRuntimeContext.currentIotHubHostName).toBe(
    'contoso-west-hub.azure-devices.net',
  );
});

test('the older spelling is checked by the schema like the current one', () => {
  const request = fixture('allocation-request.symmetric-key-group.json');
  request.deviceRuntimeContext.currentIoTHubHostName = 42;
  const parsed = parseAllocationRequest(request);
  expect(!parsed.ok && parsed.reason).toMatch(/\/deviceRuntimeContext\/currentIoTHubHostName must be string,null/);
});

test('a key in any other case is not read: the schema did not check it', () => {
  const request = fixture('allocation-request.tpm-individual.json');
  request.EnrollmentGroup = { enrollmentGroupId: 42 };
  request.deviceRuntimeContext.CURRENTIOTHUBHOSTNAME = 'hub-us-1.azure-devices.net';
  const parsed = parseAllocationRequest(request);
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(parsed.value.enrollmentGroup).toBeUndefined();
  expect(parsed.value.deviceRuntimeContext.currentIotHubHostName).toBeUndefined();
});

test.each([
  [null, /JSON object/],
  [{ linkedHubs: ['h'] }, /deviceRuntimeContext is missing/],
  [{ deviceRuntimeContext: {}, linkedHubs: ['h'], enrollmentGroup: {} }, /registrationId is missing/],
  [
    { deviceRuntimeContext: { registrationId: 'd' }, linkedHubs: [], enrollmentGroup: {} },
    /linkedHubs is missing or empty/,
  ],
  [
    { deviceRuntimeContext: { registrationId: 'd' }, linkedHubs: ['h'] },
    /Neither individualEnrollment nor enrollmentGroup/,
  ],
])('a malformed request is refused with its reason (%#)', (body, reason) => {
  const parsed = parseAllocationRequest(body);
  expect(parsed.ok).toBe(false);
  if (!parsed.ok) expect(parsed.reason).toMatch(reason);
});
