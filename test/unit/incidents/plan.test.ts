/** Incident parsing and planning, pure: what is refused, in which order, and which path each device takes. */
import { directDenyEntries } from '../../../shared/incidents/rules/deny-entries';
import { hubJobContainer } from '../../../shared/incidents/rules/hub-job-container';
import { type IncidentRequest, MAX_IDS, parseIncident } from '../../../shared/incidents/rules/incident';
import { planIncident } from '../../../shared/incidents/rules/plan';
import type { Target } from '../../../shared/incidents/rules/resolution';
import { dpsActionFor } from '../../../shared/incidents/rules/target-actions';

const incident = (scope: IncidentRequest['scope'], mode: IncidentRequest['mode'] = 'contain'): IncidentRequest => ({
  id: 'inc-1',
  reason: 'key leaked',
  mode,
  scope,
});

test('thumbprints are normalised, duplicates dropped, unknown fields refused', () => {
  const parsed = parseIncident({
    id: 'inc-1',
    reason: ' key leaked ',
    mode: 'contain',
    scope: {
      certificateThumbprints: [
        'aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd',
        'AABBCCDDEEFF00112233445566778899AABBCCDD',
      ],
    },
  });
  expect(parsed).toEqual({
    ok: true,
    value: {
      id: 'inc-1',
      reason: 'key leaked',
      mode: 'contain',
      scope: { certificateThumbprints: ['AABBCCDDEEFF00112233445566778899AABBCCDD'] },
    },
  });
  expect(parseIncident({ id: 'inc-1', reason: 'r', mode: 'contain', scope: { registrationIds: [] } })).toMatchObject({
    ok: false,
    reason: expect.stringMatching(/non-empty array/),
  });
});

test('IDs named one by one are bounded, so the incident fits in one document', () => {
  const ids = Array.from({ length: MAX_IDS + 1 }, (_, i) => `d-${i}`);
  expect(parseIncident({ id: 'i', reason: 'r', mode: 'contain', scope: { deviceIds: ids } })).toEqual({
    ok: false,
    reason: expect.stringMatching(/scope\.deviceIds holds 20001 entries; at most 20000 per incident/),
  });
  expect(parseIncident({ id: 'i', reason: 'r', mode: 'contain', scope: { deviceIds: ids.slice(1) } }).ok).toBe(true);
});

test('a lot is named with its maker; the old manufacturerLot string is refused with the new shape', () => {
  expect(parseIncident({ id: 'i', reason: 'r', mode: 'contain', scope: { manufacturerLot: 'L1' } })).toEqual({
    ok: false,
    reason: expect.stringContaining('scope.lot: { "manufacturer": "<id>", "lot": "<name>" }'),
  });
  expect(
    parseIncident({ id: 'i', reason: 'r', mode: 'contain', scope: { lot: { manufacturer: 'acme-tpm', lot: 'L1' } } }),
  ).toMatchObject({ ok: true, value: { scope: { lot: { manufacturer: 'acme-tpm', lot: 'L1' } } } });
  for (const lot of ['L1', { lot: 'L1' }, { manufacturer: 'acme-tpm', lot: '' }, { manufacturer: 'a', lot: 'L', x: 1 }])
    expect(parseIncident({ id: 'i', reason: 'r', mode: 'contain', scope: { lot } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/scope\.lot/),
    });
});

const ca = [{ enrollmentGroupId: 'line-9', caSubject: 'CN=Line 9 CA' }];

test('a compromised CA: its subject denied directly, its group disabled whole, no per-device DPS writes, hubs, then records', () => {
  const request = incident({ issuerThumbprint: 'AA'.repeat(20) });
  expect(directDenyEntries(request, ca)).toEqual([
    { kind: 'issuer', value: 'CN=Line 9 CA', reason: 'key leaked', incidentId: 'inc-1' },
  ]);
  const pages: Target[][] = [
    [
      { registrationId: 'a', deviceId: 'a', hub: 'hub-2', via: 'group', enrollmentGroupId: 'line-9' },
      { registrationId: 'b', deviceId: 'b', hub: 'hub-1', via: 'group', enrollmentGroupId: 'LINE-9' },
    ],
    [{ registrationId: 'c', deviceId: 'c', hub: 'hub-1', via: 'group', enrollmentGroupId: 'line-9' }],
  ];
  const { plan, steps } = planIncident(request, ca, pages, 1000);
  expect(plan).toMatchObject({
    devices: 3,
    perHub: { 'hub-1': 2, 'hub-2': 1 },
    groupsToDisable: ['line-9'],
    enrollmentsToDisable: 0,
    groupDevicesToBlock: 0,
    deleteRegistrationRecords: 3,
    sample: ['a', 'b', 'c'],
  });
  expect(steps.map((s) => [s.kind, s.kind === 'hub' ? s.hub : '', s.total])).toEqual([
    ['dps', '', 1],
    ['hub', 'hub-1', 2],
    ['hub', 'hub-2', 1],
    ['registrations', '', 3],
  ]);
});

test('single devices: individual enrollments disabled, group devices blocked one by one, quarantine disables hubs and keeps records', () => {
  const request = incident({ registrationIds: ['x', 'y', 'z'] }, 'quarantine');
  const pages: Target[][] = [
    [
      { registrationId: 'x', deviceId: 'x', hub: 'hub-1', via: 'individual' },
      { registrationId: 'y', deviceId: 'y', hub: 'hub-1', via: 'group', enrollmentGroupId: 'g' },
      { registrationId: 'z', via: 'none' },
      { registrationId: 'x', deviceId: 'x', hub: 'hub-1', via: 'individual' }, // found twice: counted once
    ],
  ];
  const { plan, steps } = planIncident(request, [], pages);
  expect(plan).toMatchObject({ devices: 3, withoutHub: 1, enrollmentsToDisable: 1, groupDevicesToBlock: 1 });
  expect(plan.hubActions).toEqual([{ hub: 'hub-1', action: 'disable', devices: 2, path: 'bulk' }]);
  expect(steps.map((s) => s.kind)).toEqual(['dps', 'hub']);
  expect(dpsActionFor(pages[0][1], new Set(['g']))).toBeUndefined(); // its group is disabled whole
  expect(dpsActionFor(pages[0][2], new Set())).toBeUndefined(); // nothing in DPS to shut
});

test('a hub with more devices than the threshold is contained by an import job; quarantine stays in bulk', () => {
  const pages: Target[][] = [
    Array.from({ length: 5 }, (_, i) => ({
      registrationId: `d${i}`,
      deviceId: `d${i}`,
      hub: 'hub-1',
      via: 'group' as const,
    })),
  ];
  expect(planIncident(incident({ enrollmentGroupId: 'g' }), [], pages, 3).plan.hubActions[0].path).toBe('importJob');
  expect(planIncident(incident({ enrollmentGroupId: 'g' }, 'quarantine'), [], pages, 3).plan.hubActions[0].path).toBe(
    'bulk',
  );
  expect(directDenyEntries(incident({ enrollmentGroupId: 'g', deviceIds: ['d0'] }), []).map((e) => e.kind)).toEqual([
    'enrollmentGroupId',
    'registrationId',
  ]);
});

describe('hub import-job containers', () => {
  test('are valid blob container names, start with jobs-<hub>-, and differ per incident and per hub', () => {
    const names = [
      hubJobContainer('inc-1', 'iot-abc123-1.azure-devices.net'),
      hubJobContainer('inc-2', 'iot-abc123-1.azure-devices.net'),
      hubJobContainer('inc-1', 'IOT-ABC123-2.azure-devices.net'),
      hubJobContainer('inc-1', `${'h'.repeat(50)}.azure-devices.net`),
    ];
    for (const name of names) expect(name).toMatch(/^[a-z0-9](?!.*--)[a-z0-9-]{2,62}$/);
    expect(names[0]).toMatch(/^jobs-iot-abc123-1-[0-9a-f]{32}$/);
    expect(names[2]).toMatch(/^jobs-iot-abc123-2-/);
    expect(names[3]).toHaveLength(63);
    expect(new Set(names).size).toBe(names.length);
  });
});
