/**
 * Containment end to end through the Functions host: X.509 devices provisioned through the local DPS under a group
 * signed by an intermediate CA are contained by one incident naming that CA — refused by the webhook, disallowed in
 * DPS, gone from their hubs, each step in the incident and the audit trail — and releasing it brings them back.
 * Then: plans that wait for approval, cancel, holds shared by two incidents, a maker's lot, device IDs, alerts.
 */
import { X509Certificate } from 'node:crypto';

import { BlobServiceClient } from '@azure/storage-blob';

import { registerX509Device } from '../../../dev/device';
import type { RunningHost } from '../../../dev/host/host';
import { issue, type Issued } from '../../../dev/pki';
import type { AllocationRuntime } from '../../../shared/allocation/runtime';
import { AUDIT_TRAIL_CONTAINER } from '../../../shared/audit-trail';
import { CONTAINERS } from '../../../shared/containers';
import { startAppHost } from '../../support/app-host';
import { runCli } from '../../support/cli';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let host: RunningHost;
let runtime: AllocationRuntime;
let intermediate: Issued;
const devices = new Map<string, Issued>();
const ids = ['line9-a', 'line9-b', 'line9-c', 'line9-d'];

const ADMIN = 'Bearer dev-admin-secret-not-a-secret';
/** A second admin of the local settings: four eyes need one. */
const SECOND_ADMIN = 'Bearer dev-admin2-secret-not-a-secret';
const admin = (path: string, init: RequestInit = {}, as = ADMIN) =>
  fetch(`${host.baseUrl}${path}`, {
    ...init,
    headers: { 'x-functions-key': 'fk', authorization: as, 'content-type': 'application/json' },
  });
const register = (id: string) =>
  registerX509Device(stack.env, id, (devices.get(id) as Issued).certPem, (devices.get(id) as Issued).keyPem);

const post = (path: string, body?: unknown) =>
  admin(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function waitFor(id: string, status: string): Promise<Record<string, any>> {
  for (let i = 0; i < 300; i++) {
    const body = (await (await admin(`/api/incidents/${id}`)).json()) as Record<string, unknown>;
    if (body.status === status) return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`incident ${id} never reached ${status}`);
}

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  const functions = await import('../../../functions/index');
  runtime = (await import('../../../functions/edge/allocation-runtime')).allocationRuntime();
  host = await startAppHost({
    registrations: functions.registeredFunctions(),
    env: process.env,
    queue: { retryDelaySeconds: 1 },
  });

  const root = await issue({ subject: 'CN=Fabrikam Root CA', isCa: true });
  intermediate = await issue({ subject: 'CN=Fabrikam Line 9 Intermediate', isCa: true, issuer: root });
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'fabrikam-line-9',
    attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: intermediate.certPem } } } },
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: `${host.baseUrl}/api/allocate?code=fk`, apiVersion: '2021-10-01' },
  });
  for (const id of ids) devices.set(id, await issue({ subject: `CN=${id}`, issuer: intermediate }));
  for (const id of ids) await register(id);
});
afterAll(async () => {
  await runtime?.stop();
  await host?.close();
  await stack?.close();
});

test('one incident naming the intermediate CA contains every device of its group; release brings them back', async () => {
  const hubOf = new Map<string, string>();
  for (const id of ids)
    hubOf.set(id, (await stack.services.enrollments.getRegistrationState(id))?.assignedHub as string);

  // The webhook told the certificate inventory of each device certificate it saw.
  const deviceCert = new X509Certificate((devices.get('line9-a') as Issued).certPem);
  let recorded: Record<string, unknown> | undefined;
  for (let i = 0; i < 50 && !recorded; i++, await new Promise((r) => setTimeout(r, 50))) {
    recorded = await stack.services.store
      .container(CONTAINERS.certificates.name)
      .read(deviceCert.fingerprint256.replace(/:/g, ''), new Date(deviceCert.validTo).toISOString().slice(0, 7));
  }
  expect(recorded).toMatchObject({
    subject: 'CN=line9-a',
    issuer: expect.stringContaining('Line 9 Intermediate'),
    usages: [{ kind: 'device', id: 'line9-a', hub: hubOf.get('line9-a') }],
  });
  const thumbprint = new X509Certificate(intermediate.certPem).fingerprint256;

  const posted = await admin('/api/incidents', {
    method: 'POST',
    body: JSON.stringify({
      id: 'inc-ca-1',
      reason: 'intermediate CA key leaked',
      mode: 'contain',
      scope: { issuerThumbprint: thumbprint },
    }),
  });
  expect(posted.status).toBe(202);
  expect(posted.headers.get('location')).toBe('/api/incidents/inc-ca-1');
  expect(Object.keys((await posted.json()) as object).filter((k) => k.startsWith('_'))).toEqual([]); // no Cosmos internals
  // Four devices, but the plan disables a whole group: an admin other than its submitter approves it (four eyes).
  const waiting = await waitFor('inc-ca-1', 'awaitingApproval');
  expect(waiting).toMatchObject({
    submittedBy: 'local admin',
    approval: { auto: false, otherAdmin: true, why: expect.stringContaining('disables 1 enrollment group') },
    plan: { devices: 4, groupsToDisable: ['fabrikam-line-9'], deleteRegistrationRecords: 4 },
  });
  const self = await post('/api/incidents/inc-ca-1/approve');
  expect(self.status).toBe(403);
  expect(((await self.json()) as { reason: string }).reason).toMatch(/another admin must approve it/);
  expect((await admin('/api/incidents/inc-ca-1/approve', { method: 'POST' }, SECOND_ADMIN)).status).toBe(200);
  const incident = await waitFor('inc-ca-1', 'contained');
  expect(incident).toMatchObject({ submittedBy: 'local admin', approvedBy: 'local admin 2' });
  expect(
    (incident.steps as Array<{ kind: string; state: string; done: number; total: number }>).map((s) => [
      s.kind,
      s.state,
      s.done === s.total,
    ]),
  ).toEqual(
    expect.arrayContaining([
      ['dps', 'done', true],
      ['registrations', 'done', true],
      ['hub', 'done', true],
    ]),
  );

  // Gone from their hubs, disallowed in DPS, refused by the webhook.
  for (const id of ids) expect(await stack.services.hubs.hub(hubOf.get(id) as string).getDevice(id)).toBeUndefined();
  expect((await stack.services.enrollments.getGroup('fabrikam-line-9'))?.provisioningStatus).toBe('disabled');
  await expect(register('line9-a')).rejects.toThrow();
  expect(await stack.services.enrollments.getRegistrationState('line9-a')).toMatchObject({ status: 'disabled' });
  const explain = await admin('/api/allocate/explain', {
    method: 'POST',
    body: JSON.stringify({
      enrollmentGroup: { enrollmentGroupId: 'fabrikam-line-9', attestation: { type: 'x509' } },
      deviceRuntimeContext: {
        registrationId: 'line9-a',
        x509: { subjectName: 'CN=line9-a', issuerName: 'CN=Fabrikam Line 9 Intermediate' },
      },
      linkedHubs: [hubOf.get('line9-a')],
    }),
  });
  expect(await explain.json()).toMatchObject({
    outcome: 'deny',
    reason: expect.stringContaining('intermediate CA key leaked'),
  });

  // Every change is in the append-only audit trail, with what it was before.
  const audit = await stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.actor = @a', { '@a': 'incident:inc-ca-1' });
  expect(audit.items.filter((a) => a.action === 'deleteDevice')).toHaveLength(4);
  expect(audit.items.find((a) => a.action === 'disableEnrollmentGroup')).toMatchObject({
    before: { provisioningStatus: 'enabled' },
    after: { provisioningStatus: 'disabled' },
  });
  // The same records are in the immutable trail (append blobs), and the audit container takes no rewrite.
  const trail = BlobServiceClient.fromConnectionString(stack.env.AzureWebJobsStorage).getContainerClient(
    AUDIT_TRAIL_CONTAINER,
  );
  const lines: Array<{ id: string; action: string; actor: string }> = [];
  for await (const blob of trail.listBlobsFlat()) {
    expect(blob.properties.blobType).toBe('AppendBlob');
    const text = (await trail.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    lines.push(
      ...text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    );
  }
  const inTrail = new Set(lines.map((l) => l.id));
  for (const record of audit.items) expect(inTrail.has(record.id as string)).toBe(true);
  const auditContainer = stack.services.store.container(CONTAINERS.audit.name);
  await expect(auditContainer.replace({ ...audit.items[0], action: 'rewritten' })).rejects.toThrow(/append-only/);
  await expect(auditContainer.delete(audit.items[0].id, audit.items[0].day as string)).rejects.toThrow(/append-only/);
  // The CA refused by its thumbprints (a group's signer) and its subject (the issuer of what it signed).
  const ca = new X509Certificate(intermediate.certPem);
  expect(audit.items.find((a) => a.action === 'denyListAdd')).toMatchObject({
    target: {
      kind: 'denyList',
      ids: [
        `caThumbprint:${ca.fingerprint.replace(/:/g, '')}`,
        `caThumbprint:${ca.fingerprint256.replace(/:/g, '')}`,
        'issuer:CN=Fabrikam Line 9 Intermediate',
      ],
    },
  });

  // The revocation audit: nothing left to find… until a device of the revoked CA is back on a hub outside DPS.
  const { auditRevokedStillRegistered } = await import('../../../shared/certificates/audits/revoked');
  const { repositories } = await import('../../../shared/composition');
  const auditDeps = {
    ...repositories({ store: async () => stack.services.store }),
    store: async () => stack.services.store,
    hubs: async () => stack.services.hubs,
    events: async () => stack.services.events,
  };
  expect((await auditRevokedStillRegistered(auditDeps)).raised).toEqual([]);
  await stack.services.hubs
    .hub(hubOf.get('line9-b') as string)
    .putDevice({ deviceId: 'line9-b', authentication: { type: 'certificateAuthority' } });
  expect(await auditRevokedStillRegistered(auditDeps)).toMatchObject({ raised: ['line9-b'] });
  expect((await auditRevokedStillRegistered(auditDeps)).raised).toEqual([]); // raised once
  await stack.services.hubs.hub(hubOf.get('line9-b') as string).deleteDevice('line9-b');

  // A re-delivered alert changes nothing; the same id with another scope is a conflict.
  expect(
    (
      await admin('/api/incidents', {
        method: 'POST',
        body: JSON.stringify({
          id: 'inc-ca-1',
          reason: 'intermediate CA key leaked',
          mode: 'contain',
          scope: { issuerThumbprint: thumbprint },
        }),
      })
    ).status,
  ).toBe(200);
  expect(
    (
      await admin('/api/incidents', {
        method: 'POST',
        body: JSON.stringify({ id: 'inc-ca-1', reason: 'other', mode: 'contain', scope: { enrollmentGroupId: 'x' } }),
      })
    ).status,
  ).toBe(409);

  const released = await post('/api/incidents/inc-ca-1/release');
  expect(released.status).toBe(200);
  expect(await released.json()).toMatchObject({ status: 'releasing', releasedBy: 'local admin' });
  await waitFor('inc-ca-1', 'released');
  expect((await stack.services.enrollments.getGroup('fabrikam-line-9'))?.provisioningStatus).toBe('enabled');
  // Nothing left to re-drive: the route says why (steps that gave up on an outage: containment-outages.test.ts).
  const redrive = await post('/api/incidents/inc-ca-1/redrive');
  expect(redrive.status).toBe(409);
  expect(await redrive.json()).toMatchObject({ reason: expect.stringMatching(/is released: only a failed incident/) });
  const back = await register('line9-a');
  expect(await stack.services.hubs.hub(back.assignedHub).getDevice('line9-a')).toBeDefined();
});

test('quarantine of single devices of a group: a disabled individual enrollment each, hub registrations disabled, not deleted', async () => {
  for (const id of ['line9-b', 'line9-c']) await register(id); // provisioned again after the release above
  const posted = await admin('/api/incidents', {
    method: 'POST',
    body: JSON.stringify({
      id: 'inc-q-1',
      reason: 'tamper alarm',
      mode: 'quarantine',
      scope: { registrationIds: ['line9-b', 'line9-c'] },
    }),
  });
  expect(posted.status).toBe(202);
  await waitFor('inc-q-1', 'quarantined');
  for (const id of ['line9-b', 'line9-c']) {
    expect((await stack.services.enrollments.getEnrollment(id))?.provisioningStatus).toBe('disabled');
    const hub = (await stack.services.enrollments.getRegistrationState(id))?.assignedHub as string;
    expect((await stack.services.hubs.hub(hub).getDevice(id))?.status).toBe('disabled');
  }
  await expect(register('line9-d')).resolves.toBeDefined(); // the rest of the group is untouched

  expect((await post('/api/incidents/inc-q-1/release')).status).toBe(200);
  await waitFor('inc-q-1', 'released');
  for (const id of ['line9-b', 'line9-c']) {
    expect(await stack.services.enrollments.getEnrollment(id)).toBeUndefined();
    const hub = (await stack.services.enrollments.getRegistrationState(id))?.assignedHub as string;
    expect((await stack.services.hubs.hub(hub).getDevice(id))?.status).toBe('enabled');
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
  const res = await admin('/api/incidents', { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { reason: string }).reason).toMatch(reason);
});

test('incident routes want a function key and the Admin role', async () => {
  expect(
    (await fetch(`${host.baseUrl}/api/incidents`, { method: 'POST', headers: { authorization: ADMIN }, body: '{}' }))
      .status,
  ).toBe(401);
  const json = { 'content-type': 'application/json' };
  expect(
    (await fetch(`${host.baseUrl}/api/incidents?code=fk`, { method: 'POST', headers: json, body: '{}' })).status,
  ).toBe(401);
  const maker = await fetch(`${host.baseUrl}/api/incidents?code=fk`, {
    method: 'POST',
    headers: { ...json, authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
    body: '{}',
  });
  expect(maker.status).toBe(403);
  expect(((await maker.json()) as { reason: string }).reason).toMatch(/Admin role/);
  expect(
    (
      await fetch(`${host.baseUrl}/api/incidents/inc-ca-1?code=fk`, {
        headers: { authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
      })
    ).status,
  ).toBe(403);
  // A maker may not re-drive an incident (run its steps again) either.
  const redrive = await fetch(`${host.baseUrl}/api/incidents/inc-ca-1/redrive?code=fk`, {
    method: 'POST',
    headers: { ...json, authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
  });
  expect(redrive.status).toBe(403);
});

const alerts = (events: unknown[]) =>
  fetch(`${host.baseUrl}/admin/eventhubs/security-alerts`, {
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
const cli = (args: string[]) => runCli(host.baseUrl, { adminToken: 'dev-admin-secret-not-a-secret' }, args);
const denied = (registrationId: string) =>
  stack.services.store.container(CONTAINERS.denyList.name).read(`registrationId:${registrationId}`, 'registrationId');

test('an alert waits for approval with its plan; a malformed alert in the batch is kept as a finding and the rest go on', async () => {
  expect(
    (
      await alerts([
        { id: 'not an incident' },
        { id: 'alert-q-1', reason: 'tamper alarm', mode: 'quarantine', scope: { registrationIds: ['line9-d'] } },
      ])
    ).status,
  ).toBe(202);
  const waiting = await waitFor('alert-q-1', 'awaitingApproval');
  expect(waiting).toMatchObject({
    source: 'alert',
    submittedBy: 'alert:security-alerts',
    plan: { devices: 1, groupDevicesToBlock: 1, sample: ['line9-d'], hubActions: [{ action: 'disable', devices: 1 }] },
  });
  expect(waiting.approvedBy).toBeUndefined();
  // Refused by the webhook already; nothing disabled yet.
  expect(await denied('line9-d')).toMatchObject({ holders: ['alert-q-1'] });
  expect(await stack.services.enrollments.getEnrollment('line9-d')).toBeUndefined();
  const findings = (await (await admin('/api/findings?kind=alert')).json()) as { findings: Array<{ reason: string }> };
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
    (await fetch(`${host.baseUrl}/api/incidents/alert-q-1/approve`, { method: 'POST', headers: MAKER })).status,
  ).toBe(403);
  expect(
    (
      await fetch(`${host.baseUrl}/api/incidents/alert-q-1/approve?code=fk`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      })
    ).status,
  ).toBe(401);
  expect(await cli(['incident', 'approve', 'alert-q-1'])).toMatch(/^incident alert-q-1: running/);
  const done = await waitFor('alert-q-1', 'quarantined');
  expect(done).toMatchObject({ approvedBy: 'local admin' });
  expect((await stack.services.enrollments.getEnrollment('line9-d'))?.provisioningStatus).toBe('disabled');
  // Approving twice is harmless; cancelling what has run is a conflict that says why.
  expect((await post('/api/incidents/alert-q-1/approve')).status).toBe(200);
  const cancel = await post('/api/incidents/alert-q-1/cancel');
  expect(cancel.status).toBe(409);
  expect(((await cancel.json()) as { reason: string }).reason).toMatch(/quarantined.*release it/);
  expect((await post('/api/incidents/alert-q-1/release')).status).toBe(200);
  await waitFor('alert-q-1', 'released');
  expect(await stack.services.enrollments.getEnrollment('line9-d')).toBeUndefined();
  expect(await denied('line9-d')).toBeUndefined();
});

test('two incidents hold one device: releasing one lifts nothing the other still needs', async () => {
  const body = (id: string) => ({
    id,
    reason: 'shared suspicion',
    mode: 'quarantine',
    scope: { registrationIds: ['line9-c'] },
  });
  expect((await post('/api/incidents', body('hold-a'))).status).toBe(202);
  await waitFor('hold-a', 'quarantined');
  expect((await post('/api/incidents', body('hold-b'))).status).toBe(202);
  await waitFor('hold-b', 'quarantined');
  const hub = (await stack.services.enrollments.getRegistrationState('line9-c'))?.assignedHub as string;

  expect((await post('/api/incidents/hold-a/release')).status).toBe(200);
  await waitFor('hold-a', 'released');
  expect((await stack.services.enrollments.getEnrollment('line9-c'))?.provisioningStatus).toBe('disabled');
  expect((await stack.services.hubs.hub(hub).getDevice('line9-c'))?.status).toBe('disabled');
  expect(await denied('line9-c')).toMatchObject({ holders: ['hold-b'] });
  expect((await post('/api/incidents/hold-a/approve')).status).toBe(409); // a released incident is not run again
  expect((await post('/api/incidents/hold-a/release')).status).toBe(200); // releasing twice is harmless

  expect((await post('/api/incidents/hold-b/release')).status).toBe(200);
  await waitFor('hold-b', 'released');
  expect(await stack.services.enrollments.getEnrollment('line9-c')).toBeUndefined();
  expect((await stack.services.hubs.hub(hub).getDevice('line9-c'))?.status).toBe('enabled');
  expect(await denied('line9-c')).toBeUndefined();
});

test('a lot is matched with its maker, and device IDs as device IDs; cancelling before approval drops only what it held', async () => {
  const dps = stack.services.enrollments;
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
  expect((await waitFor('lot-1', 'awaitingApproval')).plan).toMatchObject({
    devices: 1,
    sample: ['acme-l1-1'],
    enrollmentsToDisable: 1,
  });

  await alerts([{ id: 'dev-1', reason: 'stolen', mode: 'contain', scope: { deviceIds: ['globex-device-7'] } }]);
  expect((await waitFor('dev-1', 'awaitingApproval')).plan).toMatchObject({ devices: 1, sample: ['globex-l1-1'] });
  // An alert refuses what it names at once; the registration resolution found behind it waits for an admin.
  expect(await denied('globex-device-7')).toMatchObject({ holders: ['dev-1'] });
  expect(await denied('globex-l1-1')).toBeUndefined();

  for (const id of ['lot-1', 'dev-1']) {
    expect((await post(`/api/incidents/${id}/cancel`)).status).toBe(200);
    await waitFor(id, 'cancelled');
  }
  expect(await denied('globex-l1-1')).toBeUndefined();
  expect(await denied('globex-device-7')).toBeUndefined();
  expect(await denied('acme-l1-1')).toBeUndefined();
  expect((await dps.getEnrollment('acme-l1-1'))?.provisioningStatus).toBe('enabled');
  const approve = await post('/api/incidents/lot-1/approve');
  expect(approve.status).toBe(409);
  expect(((await approve.json()) as { reason: string }).reason).toMatch(/cancelled/);
});
