/**
 * Containment of single devices through the Functions host, on the fleet of test/support/line9-containment.ts:
 * quarantine of devices of a group, plans that wait for approval (an alert's), holds shared by two incidents, a
 * maker's lot and device IDs, cancel before approval; and the incident routes' refusals (bad input, no key, no role).
 */
import { CONTAINERS } from '../../../shared/containers';
import { runCli } from '../../support/cli';
import { ADMIN, type Line9, startLine9 } from '../../support/line9-containment';

let line9: Line9;
beforeAll(async () => {
  line9 = await startLine9();
});
afterAll(() => line9?.close());

test('quarantine of single devices of a group: a disabled individual enrollment each, hub registrations disabled, not deleted', async () => {
  const posted = await line9.admin('/api/incidents', {
    method: 'POST',
    body: JSON.stringify({
      id: 'inc-q-1',
      reason: 'tamper alarm',
      mode: 'quarantine',
      scope: { registrationIds: ['line9-b', 'line9-c'] },
    }),
  });
  expect(posted.status).toBe(202);
  await line9.waitFor('inc-q-1', 'quarantined');
  for (const id of ['line9-b', 'line9-c']) {
    expect((await line9.stack.services.enrollments.getEnrollment(id))?.provisioningStatus).toBe('disabled');
    const hub = (await line9.stack.services.enrollments.getRegistrationState(id))?.assignedHub as string;
    expect((await line9.stack.services.hubs.hub(hub).getDevice(id))?.status).toBe('disabled');
  }
  await expect(line9.register('line9-d')).resolves.toBeDefined(); // the rest of the group is untouched

  expect((await line9.post('/api/incidents/inc-q-1/release')).status).toBe(200);
  await line9.waitFor('inc-q-1', 'released');
  for (const id of ['line9-b', 'line9-c']) {
    expect(await line9.stack.services.enrollments.getEnrollment(id)).toBeUndefined();
    const hub = (await line9.stack.services.enrollments.getRegistrationState(id))?.assignedHub as string;
    expect((await line9.stack.services.hubs.hub(hub).getDevice(id))?.status).toBe('enabled');
  }
});

test.each([
  [{}, /id must be/],
  [{ id: 'x', reason: 'r', mode: 'nuke', scope: { registrationIds: ['a'] } }, /mode must be/],
  [{ id: 'x', reason: 'r', mode: 'contain', scope: {} }, /names nothing/],
  [{ id: 'x', reason: 'r', mode: 'contain', scope: { issuerThumbprint: 'zz' } }, /thumbprint/],
  [{ id: 'x', reason: 'r', mode: 'contain', scope: { devices: ['a'] } }, /unknown fields: devices/],
  [{ id: 'x', reason: 'r', mode: 'contain', scope: { manufacturerLot: 'L1' } }, /scope\.lot: \{ "manufacturer"/],
])('a bad incident gets a 400 with its reason (%#)', async (body, reason) => {
  const res = await line9.admin('/api/incidents', { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { reason: string }).reason).toMatch(reason);
});

test('incident routes want a function key and the Admin role', async () => {
  expect(
    (
      await fetch(`${line9.host.baseUrl}/api/incidents`, {
        method: 'POST',
        headers: { authorization: ADMIN },
        body: '{}',
      })
    ).status,
  ).toBe(401);
  const json = { 'content-type': 'application/json' };
  expect(
    (await fetch(`${line9.host.baseUrl}/api/incidents?code=fk`, { method: 'POST', headers: json, body: '{}' })).status,
  ).toBe(401);
  const maker = await fetch(`${line9.host.baseUrl}/api/incidents?code=fk`, {
    method: 'POST',
    headers: { ...json, authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
    body: '{}',
  });
  expect(maker.status).toBe(403);
  expect(((await maker.json()) as { reason: string }).reason).toMatch(/Admin role/);
  expect(
    (
      await fetch(`${line9.host.baseUrl}/api/incidents/inc-ca-1?code=fk`, {
        headers: { authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
      })
    ).status,
  ).toBe(403);
  // A maker may not re-drive an incident (run its steps again) either.
  const redrive = await fetch(`${line9.host.baseUrl}/api/incidents/inc-ca-1/redrive?code=fk`, {
    method: 'POST',
    headers: { ...json, authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
  });
  expect(redrive.status).toBe(403);
});

const alerts = (events: unknown[]) =>
  fetch(`${line9.host.baseUrl}/admin/eventhubs/security-alerts`, {
    method: 'POST',
    headers: { 'x-functions-key': 'mk', 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
const MAKER = {
  'x-functions-key': 'fk',
  authorization: 'Bearer dev-acme-tpm-secret-not-a-secret',
  'content-type': 'application/json',
};
/** Runs the command line in process against the test host, as an admin; answers what it printed. */
const cli = (args: string[]) => runCli(line9.host.baseUrl, { adminToken: 'dev-admin-secret-not-a-secret' }, args);
const denied = (registrationId: string) =>
  line9.stack.services.store
    .container(CONTAINERS.denyList.name)
    .read(`registrationId:${registrationId}`, 'registrationId');

test('an alert waits for approval with its plan; a malformed alert in the batch is kept as a finding and the rest go on', async () => {
  expect(
    (
      await alerts([
        { id: 'not an incident' },
        { id: 'alert-q-1', reason: 'tamper alarm', mode: 'quarantine', scope: { registrationIds: ['line9-d'] } },
      ])
    ).status,
  ).toBe(202);
  const waiting = await line9.waitFor('alert-q-1', 'awaitingApproval');
  expect(waiting).toMatchObject({
    source: 'alert',
    submittedBy: 'alert:security-alerts',
    plan: { devices: 1, groupDevicesToBlock: 1, sample: ['line9-d'], hubActions: [{ action: 'disable', devices: 1 }] },
  });
  expect(waiting.approvedBy).toBeUndefined();
  // Refused by the webhook already; nothing disabled yet.
  expect(await denied('line9-d')).toMatchObject({ holders: ['alert-q-1'] });
  expect(await line9.stack.services.enrollments.getEnrollment('line9-d')).toBeUndefined();
  const findings = (await (await line9.admin('/api/findings?kind=alert')).json()) as {
    findings: Array<{ reason: string }>;
  };
  expect(findings.findings).toEqual([
    expect.objectContaining({ code: 'ALERT_REJECTED', reason: expect.stringMatching(/id must be/) }),
  ]);

  // The command line shows the plan before approval.
  const printed = await cli(['incident', 'show', 'alert-q-1']);
  expect(printed).toContain('incident alert-q-1: awaitingApproval (quarantine, submitted by alert:security-alerts)');
  expect(printed).toMatch(/plan: 1 devices\n\s+hub-\S+ +disable 1 devices \(bulk\)/);
  expect(printed).toContain('waiting: dps-lifecycle incident approve alert-q-1');

  // Deciding wants the Admin role and a function key.
  expect(
    (await fetch(`${line9.host.baseUrl}/api/incidents/alert-q-1/approve`, { method: 'POST', headers: MAKER })).status,
  ).toBe(403);
  expect(
    (
      await fetch(`${line9.host.baseUrl}/api/incidents/alert-q-1/approve?code=fk`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      })
    ).status,
  ).toBe(401);
  expect(await cli(['incident', 'approve', 'alert-q-1'])).toMatch(/^incident alert-q-1: running/);
  const done = await line9.waitFor('alert-q-1', 'quarantined');
  expect(done).toMatchObject({ approvedBy: 'local admin' });
  expect((await line9.stack.services.enrollments.getEnrollment('line9-d'))?.provisioningStatus).toBe('disabled');
  // Approving twice is harmless; cancelling what has run is a conflict that says why.
  expect((await line9.post('/api/incidents/alert-q-1/approve')).status).toBe(200);
  const cancel = await line9.post('/api/incidents/alert-q-1/cancel');
  expect(cancel.status).toBe(409);
  expect(((await cancel.json()) as { reason: string }).reason).toMatch(/quarantined.*release it/);
  expect((await line9.post('/api/incidents/alert-q-1/release')).status).toBe(200);
  await line9.waitFor('alert-q-1', 'released');
  expect(await line9.stack.services.enrollments.getEnrollment('line9-d')).toBeUndefined();
  expect(await denied('line9-d')).toBeUndefined();
});

test('two incidents hold one device: releasing one lifts nothing the other still needs', async () => {
  const body = (id: string) => ({
    id,
    reason: 'shared suspicion',
    mode: 'quarantine',
    scope: { registrationIds: ['line9-c'] },
  });
  expect((await line9.post('/api/incidents', body('hold-a'))).status).toBe(202);
  await line9.waitFor('hold-a', 'quarantined');
  expect((await line9.post('/api/incidents', body('hold-b'))).status).toBe(202);
  await line9.waitFor('hold-b', 'quarantined');
  const hub = (await line9.stack.services.enrollments.getRegistrationState('line9-c'))?.assignedHub as string;

  expect((await line9.post('/api/incidents/hold-a/release')).status).toBe(200);
  await line9.waitFor('hold-a', 'released');
  expect((await line9.stack.services.enrollments.getEnrollment('line9-c'))?.provisioningStatus).toBe('disabled');
  expect((await line9.stack.services.hubs.hub(hub).getDevice('line9-c'))?.status).toBe('disabled');
  expect(await denied('line9-c')).toMatchObject({ holders: ['hold-b'] });
  expect((await line9.post('/api/incidents/hold-a/approve')).status).toBe(409); // a released incident is not run again
  expect((await line9.post('/api/incidents/hold-a/release')).status).toBe(200); // releasing twice is harmless

  expect((await line9.post('/api/incidents/hold-b/release')).status).toBe(200);
  await line9.waitFor('hold-b', 'released');
  expect(await line9.stack.services.enrollments.getEnrollment('line9-c')).toBeUndefined();
  expect((await line9.stack.services.hubs.hub(hub).getDevice('line9-c'))?.status).toBe('enabled');
  expect(await denied('line9-c')).toBeUndefined();
});

test('a lot is matched with its maker, and device IDs as device IDs; cancelling before approval drops only what it held', async () => {
  const dps = line9.stack.services.enrollments;
  const tagged = (registrationId: string, manufacturer: string, deviceId?: string) =>
    dps.putEnrollment({
      registrationId,
      ...(deviceId ? { deviceId } : {}),
      attestation: { type: 'symmetricKey' },
      initialTwin: { tags: { manufacturer, lot: 'L1' } },
    });
  await tagged('acme-l1-1', 'acme-tpm');
  await tagged('globex-l1-1', 'globex', 'globex-device-7');

  await alerts([
    { id: 'lot-1', reason: 'lot recalled', mode: 'contain', scope: { lot: { manufacturer: 'acme-tpm', lot: 'L1' } } },
  ]);
  expect((await line9.waitFor('lot-1', 'awaitingApproval')).plan).toMatchObject({
    devices: 1,
    sample: ['acme-l1-1'],
    enrollmentsToDisable: 1,
  });

  await alerts([{ id: 'dev-1', reason: 'stolen', mode: 'contain', scope: { deviceIds: ['globex-device-7'] } }]);
  expect((await line9.waitFor('dev-1', 'awaitingApproval')).plan).toMatchObject({
    devices: 1,
    sample: ['globex-l1-1'],
  });
  // An alert refuses what it names at once; the registration resolution found behind it waits for an admin.
  expect(await denied('globex-device-7')).toMatchObject({ holders: ['dev-1'] });
  expect(await denied('globex-l1-1')).toBeUndefined();

  for (const id of ['lot-1', 'dev-1']) {
    expect((await line9.post(`/api/incidents/${id}/cancel`)).status).toBe(200);
    await line9.waitFor(id, 'cancelled');
  }
  expect(await denied('globex-l1-1')).toBeUndefined();
  expect(await denied('globex-device-7')).toBeUndefined();
  expect(await denied('acme-l1-1')).toBeUndefined();
  expect((await dps.getEnrollment('acme-l1-1'))?.provisioningStatus).toBe('enabled');
  const approve = await line9.post('/api/incidents/lot-1/approve');
  expect(approve.status).toBe(409);
  expect(((await approve.json()) as { reason: string }).reason).toMatch(/cancelled/);
});
