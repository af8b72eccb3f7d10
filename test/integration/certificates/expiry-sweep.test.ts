/**
 * Expiry sweeps end to end: X.509 enrollments in the local DPS with certificates expiring in 5, 60 and 400 days give
 * exactly the right findings, once; a staged secondary is promoted when its primary is inside the last horizon; the
 * inventory is built by the checkpointed reconciliation pass through the DPS service SDK.
 */
import { X509Certificate } from 'node:crypto';

import type { RunningHost } from '../../../dev/host/host';
import { issue, type Issued } from '../../../dev/pki';
import { type FindingDocument, sweepExpiries } from '../../../shared/certificates/expiry-sweep';
import { RECONCILE_CHECKPOINT, reconcileInventory } from '../../../shared/certificates/inventory';
import { DEFAULT_HORIZONS } from '../../../shared/certificates/rules/horizons';
import { CosmosCertificateRepository } from '../../../shared/certificates/store/cosmos-certificates';
import { CONTAINERS } from '../../../shared/containers';
import { startAppHost } from '../../support/app-host';
import { startTestStack, type TestStack } from '../../support/stack';

const DAY = 86_400_000;
let stack: TestStack;
let host: RunningHost;
const now = new Date();
const certs: Record<string, Issued> = {};
const thumb = (c: Issued) => new X509Certificate(c.certPem).fingerprint256.replace(/:/g, '');

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true }); // audit records also go to the blob trail
  Object.assign(process.env, stack.env);
  const functions = await import('../../../functions/index');
  host = await startAppHost({
    registrations: functions.registeredFunctions(),
    env: process.env,
    driveQueues: false,
  });
  const root = await issue({
    subject: 'CN=Expiry Test Root',
    isCa: true,
    notAfter: new Date(now.getTime() + 3650 * DAY),
  });
  const leaf = (name: string, days: number) =>
    issue({
      subject: `CN=${name}`,
      issuer: root,
      notBefore: new Date(now.getTime() - 30 * DAY),
      notAfter: new Date(now.getTime() + days * DAY),
    });
  Object.assign(certs, {
    d5: await leaf('dev-5', 5),
    d60: await leaf('dev-60', 60),
    d400: await leaf('dev-400', 400),
    old: await leaf('dev-roll', 3),
    staged: await leaf('dev-roll', 400),
    cloned: await leaf('cloned', 500),
  });
  const enroll = (id: string, primary: Issued, secondary?: Issued) =>
    stack.services.enrollments.putEnrollment({
      registrationId: id,
      attestation: {
        type: 'x509',
        x509: {
          clientCertificates: {
            primary: { certificate: primary.certPem },
            ...(secondary ? { secondary: { certificate: secondary.certPem } } : {}),
          },
        },
      },
    });
  await enroll('dev-5', certs.d5);
  await enroll('dev-60', certs.d60);
  await enroll('dev-400', certs.d400);
  await enroll('dev-roll', certs.old, certs.staged);
  await stack.services.enrollments.putEnrollment({
    registrationId: 'tpm-device',
    attestation: { type: 'symmetricKey' },
  });
  // One TPM endorsement key behind two enrollments (an audit finding).
  const ek = (await import('../../../dev/ek-factory')).randomEk().toString('base64');
  for (const id of ['tpm-a', 'tpm-b'])
    await stack.services.enrollments.putEnrollment({
      registrationId: id,
      attestation: { type: 'tpm', tpm: { endorsementKey: ek } },
    });
  // Two enrollments that provision one device ID (an audit finding).
  await stack.services.enrollments.putEnrollment({
    registrationId: 'meter-17-new',
    deviceId: 'meter-17',
    attestation: { type: 'symmetricKey' },
  });
  await stack.services.enrollments.putEnrollment({ registrationId: 'meter-17', attestation: { type: 'symmetricKey' } });
  // One certificate behind two enrollments: an identity cloned (an audit finding).
  await enroll('clone-a', certs.cloned);
  await enroll('clone-b', certs.cloned);
});
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

test('the reconciliation pass builds the inventory page by page, its continuation token checkpointed', async () => {
  const first = await reconcileInventory(
    {
      store: async () => stack.services.store,
      certificates: async () => new CosmosCertificateRepository(stack.services.store),
      enrollments: async () => stack.services.enrollments,
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
      store: async () => stack.services.store,
      certificates: async () => new CosmosCertificateRepository(stack.services.store),
      enrollments: async () => stack.services.enrollments,
    },
    { pageSize: 2 },
  );
  expect(rest).toMatchObject({ passes: 1, lastPassSeen: 11, phase: 'enrollments' });
  expect(
    await stack.services.store.container(CONTAINERS.checkpoints.name).read(RECONCILE_CHECKPOINT, RECONCILE_CHECKPOINT),
  ).toMatchObject({ passes: 1 });
  const stored = await stack.services.store
    .container(CONTAINERS.certificates.name)
    .read(thumb(certs.d60), new Date(now.getTime() + 60 * DAY).toISOString().slice(0, 7));
  expect(stored).toMatchObject({
    subject: 'CN=dev-60',
    usages: [{ kind: 'enrollment', id: 'dev-60', slot: 'primary' }],
    settled: false,
  });
});

test('each certificate is raised once for the tightest horizon it reached; a staged secondary is promoted', async () => {
  const deps = {
    store: async () => stack.services.store,
    certificates: async () => new CosmosCertificateRepository(stack.services.store),
    enrollments: async () => stack.services.enrollments,
    events: async () => stack.services.events,
  };
  const first = await sweepExpiries(deps, { now, horizons: DEFAULT_HORIZONS });
  expect(first.raised.sort((a, b) => a.code.localeCompare(b.code))).toEqual([
    { thumbprint: thumb(certs.d5), code: 'CERT_EXPIRES_WITHIN_7D' },
    { thumbprint: thumb(certs.d60), code: 'CERT_EXPIRES_WITHIN_90D' },
  ]);
  expect(first.rolled).toEqual([{ kind: 'enrollment', id: 'dev-roll', reason: 'the primary expires within 7 days' }]);
  expect(first.notRolled).toEqual([
    {
      kind: 'enrollment',
      id: 'dev-5',
      reason: 'no valid secondary is staged: the primary is the only certificate and stays',
    },
  ]);
  const rolled = await stack.services.enrollments.getEnrollment('dev-roll');
  expect(rolled?.attestation.x509?.clientCertificates?.primary?.info?.sha256Thumbprint).toBe(thumb(certs.staged));
  expect(rolled?.attestation.x509?.clientCertificates?.secondary).toBeUndefined();
  expect(
    (await stack.services.enrollments.getEnrollment('dev-5'))?.attestation.x509?.clientCertificates?.primary?.info
      ?.sha256Thumbprint,
  ).toBe(thumb(certs.d5));

  // Again at the same time: nothing new. Cost: only the open certificates inside 90 days are read.
  const again = await sweepExpiries(deps, { now, horizons: DEFAULT_HORIZONS });
  expect(again).toMatchObject({ raised: [], rolled: [] });
  expect(again.documentsRead).toBe(2); // dev-5's and dev-60's: not dev-400's, the staged one's, nor the rolled-out primary (serving nowhere)

  // 35 days on: the 60-day certificate reaches 30 days, the 5-day one has expired.
  const later = await sweepExpiries(deps, { now: new Date(now.getTime() + 35 * DAY), horizons: DEFAULT_HORIZONS });
  expect(later.raised.map((r) => r.code).sort()).toEqual(['CERT_EXPIRED', 'CERT_EXPIRES_WITHIN_30D']);

  const findings = await stack.services.store
    .container<FindingDocument>(CONTAINERS.findings.name)
    .query('SELECT * FROM c WHERE c.kind = "expiry"', {}, { partitionKey: 'expiry' });
  expect(findings.items.map((f) => `${f.certificate.subject} ${f.code}`).sort()).toEqual([
    'CN=dev-5 CERT_EXPIRED',
    'CN=dev-5 CERT_EXPIRES_WITHIN_7D',
    'CN=dev-60 CERT_EXPIRES_WITHIN_30D',
    'CN=dev-60 CERT_EXPIRES_WITHIN_90D',
  ]);
  const audit = await stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.action = "certificate.rolled"', {});
  expect(audit.items).toHaveLength(1);
});

test('the command line shows the same: certificates expiring, and findings', async () => {
  const { buildProgram } = await import('../../../cli/program');
  Object.assign(process.env, {
    DPS_LIFECYCLE_URL: host.baseUrl,
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
    (await (await fetch(`${host.baseUrl}/api/certificates/expiring?within=${within}`, { headers: ADMIN })).json()) as {
      certificates: Array<{ subject: string }>;
    };
  expect((await get('30d')).certificates.map((c) => c.subject)).toEqual(['CN=dev-5']);
  expect((await get('90d')).certificates.map((c) => c.subject)).toEqual(['CN=dev-5', 'CN=dev-60']);
  expect((await fetch(`${host.baseUrl}/api/certificates/expiring?within=soon`, { headers: ADMIN })).status).toBe(400);
  expect((await fetch(`${host.baseUrl}/api/certificates/expiring?within=30d`)).status).toBe(401);
  // Fleet-wide reads are for admins: a maker's identity, or a function key alone, is refused.
  for (const path of ['/api/certificates/expiring?within=30d', '/api/findings?kind=audit']) {
    const maker = await fetch(`${host.baseUrl}${path}`, {
      headers: { 'x-functions-key': 'fk', authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' },
    });
    expect(maker.status).toBe(403);
    expect((await fetch(`${host.baseUrl}${path}`, { headers: { 'x-functions-key': 'fk' } })).status).toBe(401);
  }
});

test('audit findings: a certificate behind two enrollments is raised once; an operator suppresses it with a reason, audited', async () => {
  /** Calls as the admin unless `admin: false`. */
  const call = (path: string, init: RequestInit & { admin?: boolean } = {}) =>
    fetch(`${host.baseUrl}${path}`, {
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
      id: `audit.CERT_SHARED.${thumb(certs.cloned)}`,
      code: 'CERT_SHARED',
      reason: expect.stringMatching(
        /2 individual enrollments: clone-a, clone-b|2 individual enrollments: clone-b, clone-a/,
      ),
    }),
  ]);
  // A second pass raises nothing new.
  await reconcileInventory(
    {
      store: async () => stack.services.store,
      certificates: async () => new CosmosCertificateRepository(stack.services.store),
      enrollments: async () => stack.services.enrollments,
      events: async () => stack.services.events,
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
  const trail = await stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.action = "finding.suppressed"', {});
  expect(trail.items).toHaveLength(1);
});

test('the pass reads the configured DPS CA certificates whole (key, algorithm, weak keys) and audits age', async () => {
  const { webcrypto } = await import('node:crypto');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as never);
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 1024,
  };
  const keys = (await webcrypto.subtle.generateKey(alg, true, [
    'sign',
    'verify',
  ])) as import('node:crypto').webcrypto.CryptoKeyPair;
  const weakCa = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '02',
    name: 'CN=Legacy Root',
    notBefore: new Date(),
    notAfter: new Date(now.getTime() + 900 * DAY),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  await reconcileInventory(
    {
      store: async () => stack.services.store,
      certificates: async () => new CosmosCertificateRepository(stack.services.store),
      enrollments: async () => stack.services.enrollments,
      events: async () => stack.services.events,
      caCertificates: async () => [{ name: 'legacy-root', pem: weakCa.toString('pem') }],
      audit: { maxAgeDays: 25 },
    },
    { pageSize: 50 },
  );
  const ca = await stack.services.store.container(CONTAINERS.certificates.name).read(
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
  const audits = await stack.services.store
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

test('drift is repaired: a certificate replaced outside the backend, or an enrollment deleted, loses its usage', async () => {
  const deps = {
    store: async () => stack.services.store,
    certificates: async () => new CosmosCertificateRepository(stack.services.store),
    enrollments: async () => stack.services.enrollments,
  };
  const inventory = stack.services.store.container(CONTAINERS.certificates.name);
  const month = (c: Issued) => new Date(new X509Certificate(c.certPem).validTo).toISOString().slice(0, 7);
  const replacement = await issue({ subject: 'CN=dev-400', notAfter: new Date(now.getTime() + 700 * DAY) });
  await stack.services.enrollments.putEnrollment({
    registrationId: 'dev-400',
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: replacement.certPem } } } },
  });
  await stack.services.enrollments.deleteEnrollment('dev-60');
  const pass = await reconcileInventory(deps, { pageSize: 50 });
  expect(pass.passes).toBeGreaterThanOrEqual(2);
  expect(await inventory.read(thumb(certs.d400), month(certs.d400))).toMatchObject({ usages: [] });
  expect(await inventory.read(thumb(certs.d60), month(certs.d60))).toMatchObject({ usages: [] });
  expect(await inventory.read(thumb(replacement), month(replacement))).toMatchObject({
    usages: [{ kind: 'enrollment', id: 'dev-400', slot: 'primary' }],
  });
  expect(await inventory.read(thumb(certs.d5), month(certs.d5))).toMatchObject({
    usages: [{ kind: 'enrollment', id: 'dev-5' }],
  });
  // Serving nowhere, the 60-day certificate is read once more, put aside, and then no longer read nor reported
  // (the 5-day one was settled when its expiry was raised).
  const sweep = await sweepExpiries(
    { ...deps, events: async () => stack.services.events },
    { now, horizons: DEFAULT_HORIZONS },
  );
  expect(sweep).toMatchObject({ raised: [], documentsRead: 1 });
  expect(
    (await sweepExpiries({ ...deps, events: async () => stack.services.events }, { now, horizons: DEFAULT_HORIZONS }))
      .documentsRead,
  ).toBe(0);
});
