/**
 * Expiry sweeps end to end: X.509 enrollments in the local DPS with certificates expiring in 5, 60 and 400 days give
 * exactly the right findings, once, read the same through the command line and the API; a staged secondary is
 * promoted when its primary is inside the last horizon; the inventory is built by the checkpointed reconciliation pass
 * through the DPS service SDK, and repairs its drift. The fleet is test/support/expiry-fleet.ts.
 */
import { X509Certificate } from 'node:crypto';

import { issue, type Issued } from '../../../dev/pki';
import { type FindingDocument, sweepExpiries } from '../../../shared/certificates/expiry-sweep';
import { RECONCILE_CHECKPOINT, reconcileInventory } from '../../../shared/certificates/inventory';
import { DEFAULT_HORIZONS } from '../../../shared/certificates/rules/horizons';
import { CosmosCertificateRepository } from '../../../shared/certificates/store/cosmos-certificates';
import { repositories } from '../../../shared/composition/services';
import { CONTAINERS } from '../../../shared/containers';
import { DAY, type ExpiryFleet, startExpiryFleet, thumb } from '../../support/expiry-fleet';

let fleet: ExpiryFleet;
beforeAll(async () => {
  fleet = await startExpiryFleet();
});
afterAll(() => fleet?.close());

test('the reconciliation pass builds the inventory page by page, its continuation token checkpointed', async () => {
  const first = await reconcileInventory(
    {
      ...repositories({ store: async () => fleet.stack.services.store }),
      store: async () => fleet.stack.services.store,
      certificates: async () => new CosmosCertificateRepository(fleet.stack.services.store),
      enrollments: async () => fleet.stack.services.enrollments,
    },
    { pageSize: 2, budgetMs: 0 },
  );
  expect(first).toMatchObject({
    pagesThisRun: 1,
    phase: 'enrollments',
    continuationToken: expect.any(String),
    seenThisPass: 2,
  });
  const rest = await reconcileInventory(
    {
      ...repositories({ store: async () => fleet.stack.services.store }),
      store: async () => fleet.stack.services.store,
      certificates: async () => new CosmosCertificateRepository(fleet.stack.services.store),
      enrollments: async () => fleet.stack.services.enrollments,
    },
    { pageSize: 2 },
  );
  expect(rest).toMatchObject({ passes: 1, lastPassSeen: 11, phase: 'enrollments' });
  expect(
    await fleet.stack.services.store
      .container(CONTAINERS.checkpoints.name)
      .read(RECONCILE_CHECKPOINT, RECONCILE_CHECKPOINT),
  ).toMatchObject({ passes: 1 });
  const stored = await fleet.stack.services.store
    .container(CONTAINERS.certificates.name)
    .read(thumb(fleet.certs.d60), new Date(fleet.now.getTime() + 60 * DAY).toISOString().slice(0, 7));
  expect(stored).toMatchObject({
    subject: 'CN=dev-60',
    usages: [{ kind: 'enrollment', id: 'dev-60', slot: 'primary' }],
    settled: false,
  });
});

test('each certificate is raised once for the tightest horizon it reached; a staged secondary is promoted', async () => {
  const deps = {
    store: async () => fleet.stack.services.store,
    certificates: async () => new CosmosCertificateRepository(fleet.stack.services.store),
    enrollments: async () => fleet.stack.services.enrollments,
    events: async () => fleet.stack.services.events,
  };
  const first = await sweepExpiries(deps, { now: fleet.now, horizons: DEFAULT_HORIZONS });
  expect(first.raised.sort((a, b) => a.code.localeCompare(b.code))).toEqual([
    { thumbprint: thumb(fleet.certs.d5), code: 'CERT_EXPIRES_WITHIN_7D' },
    { thumbprint: thumb(fleet.certs.d60), code: 'CERT_EXPIRES_WITHIN_90D' },
  ]);
  expect(first.rolled).toEqual([{ kind: 'enrollment', id: 'dev-roll', reason: 'the primary expires within 7 days' }]);
  expect(first.notRolled).toEqual([
    {
      kind: 'enrollment',
      id: 'dev-5',
      reason: 'no valid secondary is staged: the primary is the only certificate and stays',
    },
  ]);
  const rolled = await fleet.stack.services.enrollments.getEnrollment('dev-roll');
  expect(rolled?.attestation.x509?.clientCertificates?.primary?.info?.sha256Thumbprint).toBe(thumb(fleet.certs.staged));
  expect(rolled?.attestation.x509?.clientCertificates?.secondary).toBeUndefined();
  expect(
    (await fleet.stack.services.enrollments.getEnrollment('dev-5'))?.attestation.x509?.clientCertificates?.primary?.info
      ?.sha256Thumbprint,
  ).toBe(thumb(fleet.certs.d5));

  // Again at the same time: nothing new. Cost: only the open certificates inside 90 days are read.
  const again = await sweepExpiries(deps, { now: fleet.now, horizons: DEFAULT_HORIZONS });
  expect(again).toMatchObject({ raised: [], rolled: [] });
  expect(again.documentsRead).toBe(2); // dev-5's and dev-60's: not dev-400's, the staged one's, nor the rolled-out primary (serving nowhere)

  // 35 days on: the 60-day certificate reaches 30 days, the 5-day one has expired.
  const later = await sweepExpiries(deps, {
    now: new Date(fleet.now.getTime() + 35 * DAY),
    horizons: DEFAULT_HORIZONS,
  });
  expect(later.raised.map((r) => r.code).sort()).toEqual(['CERT_EXPIRED', 'CERT_EXPIRES_WITHIN_30D']);

  const findings = await fleet.stack.services.store
    .container<FindingDocument>(CONTAINERS.findings.name)
    .query('SELECT * FROM c WHERE c.kind = "expiry"', {}, { partitionKey: 'expiry' });
  expect(findings.items.map((f) => `${f.certificate.subject} ${f.code}`).sort()).toEqual([
    'CN=dev-5 CERT_EXPIRED',
    'CN=dev-5 CERT_EXPIRES_WITHIN_7D',
    'CN=dev-60 CERT_EXPIRES_WITHIN_30D',
    'CN=dev-60 CERT_EXPIRES_WITHIN_90D',
  ]);
  const audit = await fleet.stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.action = "certificate.rolled"', {});
  expect(audit.items).toHaveLength(1);
});

test('the command line shows the same: certificates expiring, and findings', async () => {
  const { buildProgram } = await import('../../../cli/program');
  Object.assign(process.env, {
    DPS_LIFECYCLE_URL: fleet.host.baseUrl,
    DPS_LIFECYCLE_FUNCTION_KEY: 'fk',
    DPS_LIFECYCLE_TOKEN: 'dev-admin-secret-not-a-secret',
    DPS_LIFECYCLE_ADMIN_TOKEN: 'dev-admin-secret-not-a-secret',
  });
  const printed: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
  try {
    await buildProgram().parseAsync(['node', 'dps-lifecycle', 'certificates', 'expiring', '--within', '90d']);
    await buildProgram().parseAsync(['node', 'dps-lifecycle', 'findings', 'list', '--kind', 'expiry']);
  } finally {
    log.mockRestore();
  }
  const out = printed.join('\n');
  expect(out).toMatch(/^2 certificates end before /m);
  expect(out).toMatch(/CN=dev-5 .* enrollment dev-5 \(primary\)/);
  expect(out).toMatch(/CN=dev-60 .* enrollment dev-60 \(primary\)/);
  expect(out).toMatch(/^4 expiry findings:/m);
  expect(out).toMatch(/CERT_EXPIRES_WITHIN_7D\s+expiry\./);
});

const ADMIN = { 'x-functions-key': 'fk', authorization: 'Bearer dev-admin-secret-not-a-secret' };

test('GET /api/certificates/expiring answers with what expires within the window', async () => {
  const get = async (within: string) =>
    (await (
      await fetch(`${fleet.host.baseUrl}/api/certificates/expiring?within=${within}`, { headers: ADMIN })
    ).json()) as {
      certificates: Array<{ subject: string }>;
    };
  expect((await get('30d')).certificates.map((c) => c.subject)).toEqual(['CN=dev-5']);
  expect((await get('90d')).certificates.map((c) => c.subject)).toEqual(['CN=dev-5', 'CN=dev-60']);
  expect((await fetch(`${fleet.host.baseUrl}/api/certificates/expiring?within=soon`, { headers: ADMIN })).status).toBe(
    400,
  );
  expect((await fetch(`${fleet.host.baseUrl}/api/certificates/expiring?within=30d`)).status).toBe(401);
  // Fleet-wide reads are for admins: a maker's identity, or a function key alone, is refused.
  for (const path of ['/api/certificates/expiring?within=30d', '/api/findings?kind=audit']) {
    const maker = await fetch(`${fleet.host.baseUrl}${path}`, {
      headers: { 'x-functions-key': 'fk', authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
    });
    expect(maker.status).toBe(403);
    expect((await fetch(`${fleet.host.baseUrl}${path}`, { headers: { 'x-functions-key': 'fk' } })).status).toBe(401);
  }
});

test('drift is repaired: a certificate replaced outside the backend, or an enrollment deleted, loses its usage', async () => {
  const deps = {
    ...repositories({ store: async () => fleet.stack.services.store }),
    store: async () => fleet.stack.services.store,
    certificates: async () => new CosmosCertificateRepository(fleet.stack.services.store),
    enrollments: async () => fleet.stack.services.enrollments,
  };
  const inventory = fleet.stack.services.store.container(CONTAINERS.certificates.name);
  const month = (c: Issued) => new Date(new X509Certificate(c.certPem).validTo).toISOString().slice(0, 7);
  const replacement = await issue({ subject: 'CN=dev-400', notAfter: new Date(fleet.now.getTime() + 700 * DAY) });
  // An update, as another tool makes it: it names what it replaces (DPS refuses a put without If-Match on it, 409).
  await fleet.stack.services.enrollments.putEnrollment({
    registrationId: 'dev-400',
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: replacement.certPem } } } },
    etag: (await fleet.stack.services.enrollments.getEnrollment('dev-400'))?.etag,
  });
  await fleet.stack.services.enrollments.deleteEnrollment('dev-60');
  const pass = await reconcileInventory(deps, { pageSize: 50 });
  expect(pass.passes).toBeGreaterThanOrEqual(2);
  expect(await inventory.read(thumb(fleet.certs.d400), month(fleet.certs.d400))).toMatchObject({ usages: [] });
  expect(await inventory.read(thumb(fleet.certs.d60), month(fleet.certs.d60))).toMatchObject({ usages: [] });
  expect(await inventory.read(thumb(replacement), month(replacement))).toMatchObject({
    usages: [{ kind: 'enrollment', id: 'dev-400', slot: 'primary' }],
  });
  expect(await inventory.read(thumb(fleet.certs.d5), month(fleet.certs.d5))).toMatchObject({
    usages: [{ kind: 'enrollment', id: 'dev-5' }],
  });
  // Serving nowhere, the 60-day certificate is read once more, put aside, and then no longer read nor reported
  // (the 5-day one was settled when its expiry was raised).
  const sweep = await sweepExpiries(
    { ...deps, events: async () => fleet.stack.services.events },
    { now: fleet.now, horizons: DEFAULT_HORIZONS },
  );
  expect(sweep).toMatchObject({ raised: [], documentsRead: 1 });
  expect(
    (
      await sweepExpiries(
        { ...deps, events: async () => fleet.stack.services.events },
        { now: fleet.now, horizons: DEFAULT_HORIZONS },
      )
    ).documentsRead,
  ).toBe(0);
});
