/** DPS's AllocationRequest in its exact shapes (test/fixtures): parsed, or refused with a reason. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseAllocationRequest } from '../../shared/allocation/contract';

export const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8'));

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
