/**
 * A compromised CA in the layout DPS documents — an enrollment group verified by the root, devices presenting their
 * certificate and its intermediate — tried as the security review tried it: certificates minted with the leaked
 * key after the incident are refused by DPS itself (a disabled group holding the CA) and by the webhook (from the
 * chain DPS shows it), devices already registered through it are found (through the inventory) and quarantined on
 * another admin's approval, a sibling intermediate of the same root is never touched, and release lifts it all.
 * Then: the root named by thumbprint alone, an incident that matches nothing, an alert naming a group.
 */
import { X509Certificate } from 'node:crypto';

import { registerX509Device } from '../../../dev/device';
import type { RunningHost } from '../../../dev/host/host';
import { issue, type Issued } from '../../../dev/pki';
import { infoOf } from '../../../shared/allocation/rules/x509-context';
import type { AllocationRuntime } from '../../../shared/allocation/runtime';
import { CONTAINERS } from '../../../shared/containers';
import { startFunctionApp } from '../../support/app-host';
import { eventually, incidentReaches } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let host: RunningHost;
let runtime: AllocationRuntime;
let root: Issued;
let lineA: Issued;
let lineB: Issued;
const devices = new Map<string, Issued>();

const ADMIN = 'Bearer dev-admin-secret-not-a-secret';
const SECOND_ADMIN = 'Bearer dev-admin2-secret-not-a-secret';
const call = (path: string, body?: unknown, as = ADMIN) =>
  fetch(`${host.baseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-functions-key': 'fk', authorization: as, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

async function device(id: string, issuer: Issued): Promise<Issued> {
  const d = await issue({ subject: `CN=${id}`, issuer });
  devices.set(id, d);
  return d;
}
/** A device presents its certificate and the intermediate that issued it, as the seed's layout has it. */
const register = (id: string, issuer: Issued) => {
  const d = devices.get(id) as Issued;
  return registerX509Device(stack.env, id, `${d.certPem.trim()}\n${issuer.certPem.trim()}\n`, d.keyPem);
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const waitFor = (id: string, status: string): Promise<Record<string, any>> =>
  incidentReaches(
    async () => (await (await call(`/api/incidents/${id}`)).json()) as Record<string, unknown>,
    id,
    status,
  );

/** The webhook, called as DPS calls it for a device of the root group: the device's certificate and the signer. */
const allocate = (id: string) =>
  fetch(`${host.baseUrl}/api/allocate?code=fk`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      enrollmentGroup: { enrollmentGroupId: 'fabrikam-root', attestation: { type: 'x509' } },
      deviceRuntimeContext: {
        registrationId: id,
        x509: {
          certificateInfo: infoOf(new X509Certificate((devices.get(id) as Issued).certPem)),
          enrollmentGroupId: 'fabrikam-root',
          signingCertificateInfo: infoOf(new X509Certificate(root.certPem)),
        },
      },
      linkedHubs: stack.env.IOTHUB_HOST_NAMES.split(','),
    }),
  });

async function recorded(id: string) {
  const cert = new X509Certificate((devices.get(id) as Issued).certPem);
  await eventually(
    () =>
      stack.services.store
        .container(CONTAINERS.certificates.name)
        .read(cert.fingerprint256.replace(/:/g, ''), new Date(cert.validTo).toISOString().slice(0, 7)),
    `the webhook recording ${id}'s certificate`,
  );
}

const hubDevice = async (id: string) => {
  const hub = (await stack.services.enrollments.getRegistrationState(id))?.assignedHub as string;
  return stack.services.hubs.hub(hub).getDevice(id);
};

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  host = await startFunctionApp();
  runtime = (await import('../../../functions/edge/allocation-runtime')).allocationRuntime();
  root = await issue({ subject: 'CN=Fabrikam Root CA', isCa: true });
  lineA = await issue({ subject: 'CN=Fabrikam Line A', isCa: true, issuer: root });
  lineB = await issue({ subject: 'CN=Fabrikam Line B', isCa: true, issuer: root });
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'fabrikam-root',
    attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: root.certPem } } } },
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: `${host.baseUrl}/api/allocate?code=fk`, apiVersion: '2021-10-01' },
  });
  for (const id of ['a-1', 'a-2']) await register(id, (await device(id, lineA), lineA));
  await register('b-1', (await device('b-1', lineB), lineB));
  for (const id of ['a-1', 'a-2', 'b-1']) await recorded(id);
});
afterAll(async () => {
  await runtime?.stop();
  await host?.close();
  await stack?.close();
});

test('a leaked intermediate under a root group: minted certificates refused at once, its devices quarantined on approval, its sibling untouched', async () => {
  const posted = await call('/api/incidents', {
    id: 'ca-a',
    reason: 'line A key leaked',
    mode: 'quarantine',
    scope: { caCertificate: lineA.certPem },
  });
  expect(posted.status).toBe(202);

  // Minted with the leaked key after the incident: DPS itself refuses it (a disabled entry holds a CA of its chain)…
  await device('minted-1', lineA);
  await expect(register('minted-1', lineA)).rejects.toThrow();
  expect(await stack.services.enrollments.getRegistrationState('minted-1')).toMatchObject({ status: 'disabled' });
  const disallow = await stack.services.enrollments.getGroup(
    `disallow-ca-${new X509Certificate(lineA.certPem).fingerprint256.replace(/:/g, '').toLowerCase()}`,
  );
  expect(disallow).toMatchObject({
    provisioningStatus: 'disabled',
    attestation: { x509: { signingCertificates: { primary: { info: { subjectName: 'CN=Fabrikam Line A' } } } } },
  });
  // …and so does the webhook, from the chain DPS shows it (the root signer, the leaf's issuer).
  const refused = await allocate('minted-1');
  expect(refused.status).toBe(403);
  expect(((await refused.json()) as { reason: string }).reason).toContain('line A key leaked');
  // A sibling intermediate of the same root is not touched.
  await device('b-2', lineB);
  await expect(register('b-2', lineB)).resolves.toMatchObject({ assignedHub: expect.any(String) });
  expect((await allocate('b-2')).status).toBe(200);

  // The devices already registered through it are found (the inventory knows each certificate's issuer).
  const waiting = await waitFor('ca-a', 'awaitingApproval');
  expect(waiting).toMatchObject({
    submittedBy: 'local admin',
    approval: { otherAdmin: true, why: expect.stringContaining('disallows a CA in DPS') },
    plan: { devices: 2, groupsToDisable: [], groupDevicesToBlock: 2, disallowCa: { thumbprint: expect.any(String) } },
    resolution: { ca: { subject: 'CN=Fabrikam Line A', source: 'incident', certificateKnown: true } },
  });
  expect([...waiting.plan.sample].sort()).toEqual(['a-1', 'a-2']);
  expect((await call('/api/incidents/ca-a/approve', {})).status).toBe(403); // the submitter cannot approve it
  expect((await call('/api/incidents/ca-a/approve', {}, SECOND_ADMIN)).status).toBe(200);
  await waitFor('ca-a', 'quarantined');
  for (const id of ['a-1', 'a-2']) expect((await hubDevice(id))?.status).toBe('disabled');
  for (const id of ['b-1', 'b-2']) expect((await hubDevice(id))?.status).toBe('enabled');
  expect((await stack.services.enrollments.getGroup('fabrikam-root'))?.provisioningStatus).toBe('enabled');

  // Release: the disallow group is deleted, the devices come back.
  expect((await call('/api/incidents/ca-a/release', {})).status).toBe(200);
  await waitFor('ca-a', 'released');
  expect(await stack.services.enrollments.getGroup(disallow?.enrollmentGroupId as string)).toBeUndefined();
  expect((await hubDevice('a-1'))?.status).toBe('enabled');
  await expect(register('minted-1', lineA)).resolves.toMatchObject({ assignedHub: expect.any(String) });
});

test('two incidents naming one CA share its disallow group: the first let go leaves it to the second', async () => {
  const thumbprint = new X509Certificate(lineA.certPem).fingerprint256.replace(/:/g, '');
  const disallowId = `disallow-ca-${thumbprint.toLowerCase()}`;
  const report = (id: string, scope: Record<string, unknown>) =>
    call('/api/incidents', { id, reason: 'line A again', mode: 'quarantine', scope });
  expect((await report('ca-a2', { caCertificate: lineA.certPem })).status).toBe(202);
  // The second knows the CA by thumbprint only: it finds the disallow group, holds it, and does not plan it as a group.
  expect((await report('ca-a3', { issuerThumbprint: thumbprint })).status).toBe(202);
  const second = await waitFor('ca-a3', 'awaitingApproval');
  expect(second.plan.groupsToDisable).not.toContain(disallowId);
  expect(second.plan.disallowCa).toMatchObject({ enrollmentGroupId: disallowId });

  expect((await call('/api/incidents/ca-a2/cancel', {})).status).toBe(200);
  await waitFor('ca-a2', 'cancelled');
  expect(await stack.services.enrollments.getGroup(disallowId)).toMatchObject({ provisioningStatus: 'disabled' });
  await device('minted-3', lineA);
  await expect(register('minted-3', lineA)).rejects.toThrow();
  expect(await stack.services.enrollments.getRegistrationState('minted-3')).toMatchObject({ status: 'disabled' });

  expect((await call('/api/incidents/ca-a3/cancel', {})).status).toBe(200);
  await waitFor('ca-a3', 'cancelled');
  expect(await stack.services.enrollments.getGroup(disallowId)).toBeUndefined();
});

test('the root named by thumbprint alone: refused through the group signer while the plan waits', async () => {
  const rootThumbprint = new X509Certificate(root.certPem).fingerprint; // SHA-1, any spelling
  expect(
    (
      await call('/api/incidents', {
        id: 'ca-root',
        reason: 'root key leaked',
        mode: 'quarantine',
        scope: { issuerThumbprint: rootThumbprint.toLowerCase() },
      })
    ).status,
  ).toBe(202);
  const waiting = await waitFor('ca-root', 'awaitingApproval');
  // Every registration of the root's group: a-1, a-2, b-1, b-2, minted-1 (after the release above), and minted-3's
  // refused registration record.
  expect(waiting.plan).toMatchObject({ devices: 6, groupsToDisable: ['fabrikam-root'] });
  // Its certificate is known nowhere here: no DPS disallow, but while the plan waits the webhook refuses a certificate
  // minted under the root by the group signer's thumbprint.
  await device('minted-2', lineB);
  await expect(register('minted-2', lineB)).rejects.toThrow();
  expect(await stack.services.enrollments.getRegistrationState('minted-2')).toMatchObject({
    status: 'failed',
    errorMessage: expect.stringContaining('root key leaked'),
  });
  expect(waiting.plan.disallowCa).toBeUndefined();
  expect(waiting.notes).toEqual(
    expect.arrayContaining([expect.stringContaining('report the incident with scope.caCertificate')]),
  );
  expect((await call('/api/incidents/ca-root/cancel', {})).status).toBe(200);
  await waitFor('ca-root', 'cancelled');
  expect((await allocate('b-1')).status).toBe(200);
});

test('an incident whose scope matches nothing says so and is never reported contained', async () => {
  const stranger = await issue({ subject: 'CN=Nobody Uses This CA', isCa: true });
  expect(
    (
      await call('/api/incidents', {
        id: 'nothing',
        reason: 'wrong CA named',
        mode: 'contain',
        scope: {
          issuerThumbprint: new X509Certificate(stranger.certPem).fingerprint256,
          registrationIds: ['ghost-1'],
        },
      })
    ).status,
  ).toBe(202);
  const ended = await waitFor('nothing', 'nothingFound');
  expect(ended.plan).toMatchObject({ devices: 1, notFound: { count: 1, sample: ['ghost-1'] } });
  expect(ended.notes).toEqual(
    expect.arrayContaining([
      expect.stringContaining('nothing of the scope was found'),
      expect.stringContaining('no enrollment group signs for CA'),
    ]),
  );
  expect((await call('/api/incidents/nothing/release', {})).status).toBe(200);
  await waitFor('nothing', 'released');
});

test('an HTTP incident naming a group with no registrations waits for another admin', async () => {
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'empty-line',
    attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: lineB.certPem } } } },
  });
  await call('/api/incidents', {
    id: 'empty',
    reason: 'line retired',
    mode: 'quarantine',
    scope: { enrollmentGroupId: 'empty-line' },
  });
  const waiting = await waitFor('empty', 'awaitingApproval');
  expect(waiting).toMatchObject({
    plan: { devices: 0, groupsToDisable: ['empty-line'] },
    approval: { otherAdmin: true },
  });
  expect((await stack.services.enrollments.getGroup('empty-line'))?.provisioningStatus).toBe('enabled');
  expect((await call('/api/incidents/empty/cancel', {})).status).toBe(200);
  await waitFor('empty', 'cancelled');
});

test('an alert naming a group refuses nothing of it before an admin approves', async () => {
  const alert = await fetch(`${host.baseUrl}/admin/eventhubs/security-alerts`, {
    method: 'POST',
    headers: { 'x-functions-key': 'mk', 'content-type': 'application/json' },
    body: JSON.stringify([
      { id: 'siem-1', reason: 'SIEM rule 42', mode: 'quarantine', scope: { enrollmentGroupId: 'fabrikam-root' } },
    ]),
  });
  expect(alert.status).toBe(202);
  const waiting = await waitFor('siem-1', 'awaitingApproval');
  expect(waiting).toMatchObject({ source: 'alert', plan: { devices: 7, groupsToDisable: ['fabrikam-root'] } });
  // The whole fleet of the root still provisions: no deny entry, no block, while it waits.
  const deny = stack.services.store.container(CONTAINERS.denyList.name);
  expect(await deny.read('enrollmentGroupId:fabrikam-root', 'enrollmentGroupId')).toBeUndefined();
  expect(await deny.read('registrationId:b-1', 'registrationId')).toBeUndefined();
  expect((await allocate('b-1')).status).toBe(200);
  // Approved (by any admin: an alert has no human submitter), its refusals come first.
  expect((await call('/api/incidents/siem-1/approve', {})).status).toBe(200);
  const done = await waitFor('siem-1', 'quarantined');
  expect(done.steps[0]).toMatchObject({ kind: 'refuse', state: 'done' });
  expect(await deny.read('enrollmentGroupId:fabrikam-root', 'enrollmentGroupId')).toMatchObject({
    holders: ['siem-1'],
  });
  expect((await allocate('b-1')).status).toBe(403);
  expect((await call('/api/incidents/siem-1/release', {})).status).toBe(200);
  await waitFor('siem-1', 'released');
  expect((await allocate('b-1')).status).toBe(200);
});
