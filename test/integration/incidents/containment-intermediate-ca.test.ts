/**
 * Containment end to end through the Functions host: X.509 devices provisioned through the local DPS under a group
 * signed by an intermediate CA are contained by one incident naming that CA — refused by the webhook, disallowed in
 * DPS, gone from their hubs, each step in the incident and the audit trail — and releasing it brings them back.
 * The fleet is test/support/line9-containment.ts.
 */
import { X509Certificate } from 'node:crypto';

import { BlobServiceClient } from '@azure/storage-blob';

import type { Issued } from '../../../dev/pki';
import { AUDIT_TRAIL_CONTAINER } from '../../../shared/audit-trail';
import { CONTAINERS } from '../../../shared/containers';
import { eventually } from '../../support/eventually';
import { type Line9, LINE9_IDS, SECOND_ADMIN, startLine9 } from '../../support/line9-containment';

let line9: Line9;
beforeAll(async () => {
  line9 = await startLine9();
});
afterAll(() => line9?.close());

test('one incident naming the intermediate CA contains every device of its group; release brings them back', async () => {
  const hubOf = new Map<string, string>();
  for (const id of LINE9_IDS)
    hubOf.set(id, (await line9.stack.services.enrollments.getRegistrationState(id))?.assignedHub as string);

  // The webhook told the certificate inventory of each device certificate it saw.
  const deviceCert = new X509Certificate((line9.devices.get('line9-a') as Issued).certPem);
  const recorded = await eventually(
    () =>
      line9.stack.services.store
        .container(CONTAINERS.certificates.name)
        .read(deviceCert.fingerprint256.replace(/:/g, ''), new Date(deviceCert.validTo).toISOString().slice(0, 7)),
    "the webhook recording line9-a's certificate",
  );
  expect(recorded).toMatchObject({
    subject: 'CN=line9-a',
    issuer: expect.stringContaining('Line 9 Intermediate'),
    usages: [{ kind: 'device', id: 'line9-a', hub: hubOf.get('line9-a') }],
  });
  const thumbprint = new X509Certificate(line9.intermediate.certPem).fingerprint256;

  const submitted = {
    id: 'inc-ca-1',
    reason: 'intermediate CA key leaked',
    mode: 'contain',
    scope: { issuerThumbprint: thumbprint },
  };
  const posted = await line9.post('/api/incidents', submitted);
  expect(posted.status).toBe(202);
  expect(posted.headers.get('location')).toBe('/api/incidents/inc-ca-1');
  expect(Object.keys((await posted.json()) as object).filter((k) => k.startsWith('_'))).toEqual([]); // no Cosmos internals
  // Four devices, but the plan disables a whole group: an admin other than its submitter approves it (four eyes).
  const waiting = await line9.waitFor('inc-ca-1', 'awaitingApproval');
  expect(waiting).toMatchObject({
    submittedBy: 'local admin',
    approval: { auto: false, otherAdmin: true, why: expect.stringContaining('disables 1 enrollment group') },
    plan: { devices: 4, groupsToDisable: ['fabrikam-line-9'], deleteRegistrationRecords: 4 },
  });
  const self = await line9.post('/api/incidents/inc-ca-1/approve');
  expect(self.status).toBe(403);
  expect(((await self.json()) as { reason: string }).reason).toMatch(/another admin must approve it/);
  expect((await line9.admin('/api/incidents/inc-ca-1/approve', { method: 'POST' }, SECOND_ADMIN)).status).toBe(200);
  const incident = await line9.waitFor('inc-ca-1', 'contained');
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
  for (const id of LINE9_IDS)
    expect(await line9.stack.services.hubs.hub(hubOf.get(id) as string).getDevice(id)).toBeUndefined();
  expect((await line9.stack.services.enrollments.getGroup('fabrikam-line-9'))?.provisioningStatus).toBe('disabled');
  await expect(line9.register('line9-a')).rejects.toThrow();
  expect(await line9.stack.services.enrollments.getRegistrationState('line9-a')).toMatchObject({ status: 'disabled' });
  const explain = await line9.admin('/api/allocate/explain', {
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
  const audit = await line9.stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.actor = @a', { '@a': 'incident:inc-ca-1' });
  expect(audit.items.filter((a) => a.action === 'deleteDevice')).toHaveLength(4);
  expect(audit.items.find((a) => a.action === 'disableEnrollmentGroup')).toMatchObject({
    before: { provisioningStatus: 'enabled' },
    after: { provisioningStatus: 'disabled' },
  });
  // The same records are in the immutable trail (append blobs), and the audit container takes no rewrite.
  const trail = BlobServiceClient.fromConnectionString(line9.stack.env.AzureWebJobsStorage).getContainerClient(
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
  const auditContainer = line9.stack.services.store.container(CONTAINERS.audit.name);
  await expect(auditContainer.replace({ ...audit.items[0], action: 'rewritten' })).rejects.toThrow(/append-only/);
  await expect(auditContainer.delete(audit.items[0].id, audit.items[0].day as string)).rejects.toThrow(/append-only/);
  // The CA refused by its thumbprints (a group's signer) and its subject (the issuer of what it signed).
  const ca = new X509Certificate(line9.intermediate.certPem);
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
    ...repositories({ store: async () => line9.stack.services.store }),
    store: async () => line9.stack.services.store,
    hubs: async () => line9.stack.services.hubs,
    events: async () => line9.stack.services.events,
  };
  expect((await auditRevokedStillRegistered(auditDeps)).raised).toEqual([]);
  await line9.stack.services.hubs
    .hub(hubOf.get('line9-b') as string)
    .putDevice({ deviceId: 'line9-b', authentication: { type: 'certificateAuthority' } });
  expect(await auditRevokedStillRegistered(auditDeps)).toMatchObject({ raised: ['line9-b'] });
  expect((await auditRevokedStillRegistered(auditDeps)).raised).toEqual([]); // raised once
  await line9.stack.services.hubs.hub(hubOf.get('line9-b') as string).deleteDevice('line9-b');

  // A re-delivered alert changes nothing; the same id with another scope is a conflict.
  expect((await line9.post('/api/incidents', submitted)).status).toBe(200);
  expect(
    (
      await line9.admin('/api/incidents', {
        method: 'POST',
        body: JSON.stringify({ id: 'inc-ca-1', reason: 'other', mode: 'contain', scope: { enrollmentGroupId: 'x' } }),
      })
    ).status,
  ).toBe(409);

  const released = await line9.post('/api/incidents/inc-ca-1/release');
  expect(released.status).toBe(200);
  expect(await released.json()).toMatchObject({ status: 'releasing', releasedBy: 'local admin' });
  await line9.waitFor('inc-ca-1', 'released');
  expect((await line9.stack.services.enrollments.getGroup('fabrikam-line-9'))?.provisioningStatus).toBe('enabled');
  // Nothing left to re-drive: the route says why (steps that gave up on an outage: containment-outages.test.ts).
  const redrive = await line9.post('/api/incidents/inc-ca-1/redrive');
  expect(redrive.status).toBe(409);
  expect(await redrive.json()).toMatchObject({ reason: expect.stringMatching(/is released: only a failed incident/) });
  const back = await line9.register('line9-a');
  expect(await line9.stack.services.hubs.hub(back.assignedHub).getDevice('line9-a')).toBeDefined();
});
