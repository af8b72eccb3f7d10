/** Incident parsing and planning, pure: what is refused, in which order, and which path each device takes. */
import { hubJobContainer } from '../../shared/breach/hub-job-container';
import { type IncidentRequest, parseIncident } from '../../shared/breach/incident';
import { planIncident, type Resolution } from '../../shared/breach/plan';

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

test('a compromised CA: deny by issuer first, disable its group, no per-device DPS writes, hubs in bulk, then registration records', () => {
  const resolution: Resolution = {
    groups: [{ enrollmentGroupId: 'line-9', caSubject: 'CN=Line 9 CA' }],
    targets: [
      { registrationId: 'a', deviceId: 'a', hub: 'hub-2', via: 'group', enrollmentGroupId: 'line-9' },
      { registrationId: 'b', deviceId: 'b', hub: 'hub-1', via: 'group', enrollmentGroupId: 'line-9' },
      { registrationId: 'c', deviceId: 'c', hub: 'hub-1', via: 'group', enrollmentGroupId: 'line-9' },
    ],
    notes: [],
  };
  const steps = planIncident(incident({ issuerThumbprint: 'AB'.repeat(20) }), resolution);
  expect(steps.map((s) => s.name)).toEqual(['deny', 'dps', 'hub', 'hub', 'registrations']);
  expect(steps[0]).toMatchObject({
    entries: expect.arrayContaining([
      expect.objectContaining({ kind: 'issuer', value: 'CN=Line 9 CA', incidentId: 'inc-1', reason: 'key leaked' }),
    ]),
  });
  expect(steps[1]).toEqual({ name: 'dps', actions: [{ type: 'disableGroup', enrollmentGroupId: 'line-9' }] });
  expect(steps.slice(2, 4)).toEqual([
    { name: 'hub', hub: 'hub-1', deviceIds: ['b', 'c'], action: 'delete' },
    { name: 'hub', hub: 'hub-2', deviceIds: ['a'], action: 'delete' },
  ]);
});

test('quarantine of single devices: individual enrollments disabled, group members blocked one by one, hubs disabled, records kept', () => {
  const steps = planIncident(incident({ registrationIds: ['solo', 'member'] }, 'quarantine'), {
    groups: [],
    targets: [
      { registrationId: 'solo', deviceId: 'solo', hub: 'h', via: 'individual' },
      { registrationId: 'member', deviceId: 'member', hub: 'h', via: 'group' },
    ],
    notes: [],
  });
  expect(steps).toEqual([
    {
      name: 'deny',
      entries: [
        expect.objectContaining({ kind: 'registrationId', value: 'solo' }),
        expect.objectContaining({ kind: 'registrationId', value: 'member' }),
      ],
    },
    {
      name: 'dps',
      actions: [
        { type: 'disableEnrollment', registrationId: 'solo' },
        { type: 'blockGroupDevice', registrationId: 'member' },
      ],
    },
    { name: 'hub', hub: 'h', deviceIds: ['solo', 'member'], action: 'disable' },
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
