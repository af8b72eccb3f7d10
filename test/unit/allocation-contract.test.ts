import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllocationRequest } from '../../shared/allocation/contract';
import { decideDefault } from '../../shared/allocation/decide';

const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8'));

test('a first registration through a symmetric-key group is parsed and spread over the linked hubs', () => {
  const parsed = parseAllocationRequest(fixture('allocation-request.symmetric-key-group.json'));
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(parsed.value.enrollmentGroup?.enrollmentGroupId).toBe('contoso-custom-allocated-devices');
  const decision = decideDefault(parsed.value);
  expect(parsed.value.linkedHubs).toContain(decision.response.iotHubHostName);
});

test('re-provisioning keeps the current hub, read case-insensitively (currentIoTHubHostName in older docs)', () => {
  const request = fixture('allocation-request.symmetric-key-group.json');
  request.deviceRuntimeContext.currentIoTHubHostName = 'contoso-west-hub.azure-devices.net';
  request.deviceRuntimeContext.currentDeviceId = request.deviceRuntimeContext.registrationId;
  const parsed = parseAllocationRequest(request);
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(decideDefault(parsed.value)).toMatchObject({ response: { iotHubHostName: 'contoso-west-hub.azure-devices.net' }, reason: expect.stringMatching(/sticky/) });
});

test.each([
  [null, /JSON object/],
  [{ linkedHubs: ['h'] }, /deviceRuntimeContext is missing/],
  [{ deviceRuntimeContext: {}, linkedHubs: ['h'], enrollmentGroup: {} }, /registrationId is missing/],
  [{ deviceRuntimeContext: { registrationId: 'd' }, linkedHubs: [], enrollmentGroup: {} }, /linkedHubs is missing or empty/],
  [{ deviceRuntimeContext: { registrationId: 'd' }, linkedHubs: ['h'] }, /Neither individualEnrollment nor enrollmentGroup/],
])('a malformed request is refused with its reason (%#)', (body, reason) => {
  const parsed = parseAllocationRequest(body);
  expect(parsed.ok).toBe(false);
  if (!parsed.ok) expect(parsed.reason).toMatch(reason);
});
