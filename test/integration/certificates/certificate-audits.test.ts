/**
 * The inventory's audits end to end: a certificate, an endorsement key or a device ID behind two enrollments is
 * raised once and an operator suppresses it with a reason, audited; the configured DPS CA certificates are read whole
 * (key, algorithm, weak keys) and every certificate's age is audited. The fleet is test/support/expiry-fleet.ts.
 */
import { type FindingDocument, sweepExpiries } from '../../../shared/certificates/expiry-sweep';
import { reconcileInventory } from '../../../shared/certificates/inventory';
import { DEFAULT_HORIZONS } from '../../../shared/certificates/rules/horizons';
import { CosmosCertificateRepository } from '../../../shared/certificates/store/cosmos-certificates';
import { repositories } from '../../../shared/composition/services';
import { CONTAINERS } from '../../../shared/containers';
import { DAY, type ExpiryFleet, startExpiryFleet, thumb } from '../../support/expiry-fleet';
import { rsa1024SelfSigned } from '../../support/test-certificates';

let fleet: ExpiryFleet;
beforeAll(async () => {
  fleet = await startExpiryFleet();
  // The fleet as a reconciliation pass and a sweep leave it: the audits raised once, dev-roll's staged secondary
  // promoted (the age audit judges the certificates DPS holds).
  await reconcileInventory(fleet.inventoryDeps(), { pageSize: 50 });
  await sweepExpiries(fleet.inventoryDeps(), { now: fleet.now, horizons: DEFAULT_HORIZONS });
});
afterAll(() => fleet?.close());

test('audit findings: a certificate behind two enrollments is raised once; an operator suppresses it with a reason, audited', async () => {
  /** Calls as the admin unless `admin: false`. */
  const call = (path: string, init: RequestInit & { admin?: boolean } = {}) =>
    fetch(`${fleet.host.baseUrl}${path}`, {
      ...init,
      headers: {
        'x-functions-key': 'fk',
        'content-type': 'application/json',
        ...(init.admin !== false ? { authorization: 'Bearer dev-admin-secret-not-a-secret' } : {}),
      },
    });
  const all = (await (await call('/api/findings?kind=audit')).json()) as {
    findings: Array<{ id: string; code: string; reason: string }>;
  };
  expect(all.findings.find((f) => f.code === 'DEVICE_ID_SHARED')).toMatchObject({
    id: 'audit.DEVICE_ID_SHARED.meter-17',
    reason: 'enrollments meter-17-new, meter-17 all provision device ID meter-17',
  });
  expect(all.findings.find((f) => f.code === 'EK_SHARED')).toMatchObject({
    reason: 'one TPM endorsement key is enrolled as tpm-a and tpm-b',
  });
  const open = { findings: all.findings.filter((f) => f.code === 'CERT_SHARED') };
  expect(open.findings).toEqual([
    expect.objectContaining({
      id: `audit.CERT_SHARED.${thumb(fleet.certs.cloned)}`,
      code: 'CERT_SHARED',
      reason: expect.stringMatching(
        /2 individual enrollments: clone-a, clone-b|2 individual enrollments: clone-b, clone-a/,
      ),
    }),
  ]);
  // A second pass raises nothing new.
  await reconcileInventory(
    {
      ...repositories({ store: async () => fleet.stack.services.store }),
      store: async () => fleet.stack.services.store,
      certificates: async () => new CosmosCertificateRepository(fleet.stack.services.store),
      enrollments: async () => fleet.stack.services.enrollments,
      events: async () => fleet.stack.services.events,
    },
    { pageSize: 50 },
  );
  expect(((await (await call('/api/findings?kind=audit')).json()) as { findings: unknown[] }).findings).toHaveLength(3);

  const path = `/api/findings/audit/${open.findings[0].id}/suppress`;
  expect(
    (await call(path, { method: 'POST', admin: false, body: JSON.stringify({ reason: 'lab units' }) })).status,
  ).toBe(401);
  expect((await call(path, { method: 'POST', admin: true, body: JSON.stringify({}) })).status).toBe(400);
  expect(
    (
      await call(path, {
        method: 'POST',
        admin: true,
        body: JSON.stringify({ reason: 'two lab units share a test certificate' }),
      })
    ).status,
  ).toBe(200);
  expect(
    ((await (await call('/api/findings?kind=audit')).json()) as { findings: Array<{ code: string }> }).findings
      .map((f) => f.code)
      .sort(),
  ).toEqual(['DEVICE_ID_SHARED', 'EK_SHARED']);
  expect(
    (
      (await (await call('/api/findings?kind=audit&suppressed=true')).json()) as {
        findings: Array<{ suppressed: { reason: string } }>;
      }
    ).findings[0].suppressed.reason,
  ).toBe('two lab units share a test certificate');
  const trail = await fleet.stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.action = "finding.suppressed"', {});
  expect(trail.items).toHaveLength(1);
});

test('the pass reads the configured DPS CA certificates whole (key, algorithm, weak keys) and audits age', async () => {
  const weakCa = await rsa1024SelfSigned({
    subject: 'CN=Legacy Root',
    serial: '02',
    notAfter: new Date(fleet.now.getTime() + 900 * DAY),
    ca: true,
  });
  await reconcileInventory(
    {
      ...repositories({ store: async () => fleet.stack.services.store }),
      store: async () => fleet.stack.services.store,
      certificates: async () => new CosmosCertificateRepository(fleet.stack.services.store),
      enrollments: async () => fleet.stack.services.enrollments,
      events: async () => fleet.stack.services.events,
      caCertificates: async () => [{ name: 'legacy-root', pem: weakCa.toString('pem') }],
      audit: { maxAgeDays: 25 },
    },
    { pageSize: 50 },
  );
  const ca = await fleet.stack.services.store.container(CONTAINERS.certificates.name).read(
    Buffer.from(await weakCa.getThumbprint('SHA-256'))
      .toString('hex')
      .toUpperCase(),
    weakCa.notAfter.toISOString().slice(0, 7),
  );
  expect(ca).toMatchObject({
    keyType: 'RSA',
    keySize: 1024,
    weaknesses: ['RSA-1024 key (below 2048 bits)'],
    usages: [{ kind: 'dpsCa', id: 'legacy-root' }],
  });
  const audits = await fleet.stack.services.store
    .container<FindingDocument>(CONTAINERS.findings.name)
    .query('SELECT * FROM c WHERE c.kind = "audit"', {}, { partitionKey: 'audit' });
  const codes = audits.items
    .filter((f) => f.certificate)
    .map((f) => `${f.code} ${f.certificate.subject}`)
    .sort();
  // Issued 30 days ago, allowed 25: every certificate DPS still holds for an enrollment.
  expect(codes).toEqual([
    'CERT_SHARED CN=cloned',
    'CERT_TOO_OLD CN=cloned',
    'CERT_TOO_OLD CN=dev-400',
    'CERT_TOO_OLD CN=dev-5',
    'CERT_TOO_OLD CN=dev-60',
    'CERT_TOO_OLD CN=dev-roll',
    'CERT_WEAK_KEY CN=Legacy Root',
  ]);
});
