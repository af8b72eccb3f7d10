/**
 * Containment of a stolen intermediate CA, end to end: X.509 devices provisioned through the local DPS under a group signed by an intermediate CA
 * are contained by one incident naming that CA — refused by the webhook, disallowed in DPS, gone from their hubs,
 * each step in the incident record and the audit trail — and releasing it brings them back.
 */
import { X509Certificate } from 'node:crypto';

import { registerX509Device } from '../../dev/device';
import { type RunningHost, startFunctionsHost } from '../../dev/host/host';
import { issue, type Issued } from '../../dev/pki';
import { CONTAINERS } from '../../shared/containers';
import type { AllocationRuntime } from '../../shared/use-cases/allocation-runtime';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let host: RunningHost;
let runtime: AllocationRuntime;
let intermediate: Issued;
const devices = new Map<string, Issued>();
const ids = ['line9-a', 'line9-b', 'line9-c', 'line9-d'];

const ADMIN = 'Bearer dev-admin-secret-not-a-secret';
const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${host.baseUrl}${path}`, {
    ...init,
    headers: { 'x-functions-key': 'fk', authorization: ADMIN, 'content-type': 'application/json' },
  });
const register = (id: string) =>
  registerX509Device(stack.env, id, (devices.get(id) as Issued).certPem, (devices.get(id) as Issued).keyPem);

async function waitFor(id: string, status: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const body = (await (await admin(`/api/incidents/${id}`)).json()) as Record<string, unknown>;
    if (body.status === status) return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`incident ${id} never reached ${status}`);
}

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  const functions = await import('../../functions/index');
  runtime = (await import('../../functions/edge/allocation-runtime')).allocationRuntime();
  host = await startFunctionsHost({
    registrations: functions.registeredFunctions(),
    port: 0,
    functionKey: 'fk',
    masterKey: 'mk',
    env: process.env,
    runTimers: false,
    queue: { retryDelaySeconds: 1 },
    log: () => undefined,
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
  const incident = await waitFor('inc-ca-1', 'contained');
  expect(incident.targets).toBe(4);
  expect(
    (incident.steps as Array<{ name: string; state: string; done: number; total: number }>).map((s) => [
      s.name,
      s.state,
      s.done === s.total,
    ]),
  ).toEqual(
    expect.arrayContaining([
      ['deny', 'done', true],
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

  // The revocation audit: nothing left to find… until a device of the revoked CA is back on a hub outside DPS.
  const { auditRevokedStillRegistered } = await import('../../shared/use-cases/revoked-audit');
  const auditDeps = {
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

  const released = await admin('/api/incidents/inc-ca-1/release', { method: 'POST' });
  expect(released.status).toBe(200);
  expect((await stack.services.enrollments.getGroup('fabrikam-line-9'))?.provisioningStatus).toBe('enabled');
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
  await waitFor('inc-q-1', 'contained');
  for (const id of ['line9-b', 'line9-c']) {
    expect((await stack.services.enrollments.getEnrollment(id))?.provisioningStatus).toBe('disabled');
    const hub = (await stack.services.enrollments.getRegistrationState(id))?.assignedHub as string;
    expect((await stack.services.hubs.hub(hub).getDevice(id))?.status).toBe('disabled');
  }
  await expect(register('line9-d')).resolves.toBeDefined(); // the rest of the group is untouched

  expect((await admin('/api/incidents/inc-q-1/release', { method: 'POST' })).status).toBe(200);
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
  expect((await fetch(`${host.baseUrl}/api/incidents?code=fk`, { method: 'POST', body: '{}' })).status).toBe(401);
  const maker = await fetch(`${host.baseUrl}/api/incidents?code=fk`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
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
});
