/**
 * Certificate issuance from the service's side: the three-names rule of the DPS service API (2026-11-01 only; older
 * versions keep the names), revokeAndRotate as an ARM async operation (the old intermediate no longer trusted, the
 * new one issues), and ARM's errors and the namespace's limits. Every exchange (DPS, hubs, ADR) is checked against the
 * published contracts by the test stack, which fails this file at close if one was broken.
 */
import { checkIssuedChain, deriveDeviceKey, registerSymmetricKeyDeviceWithCsr } from '../../../dev/device';
import { armCall, DEMO_ADR, dpsServiceCall } from '../../../dev/seed-certificates';
import { type AdrDemo, chainOf, days, names, paths, startAdrDemo } from '../../support/adr-demo';
import { OUTSIDE_CONTRACT } from '../../support/device-api';
import { eventually } from '../../support/eventually';

let demo: AdrDemo;
beforeAll(async () => {
  demo = await startAdrDemo();
});
afterAll(() => demo?.close());

test('the service API takes and returns the three names together, under 2026-11-01 only; older versions keep them', async () => {
  const group = (extra: object) => ({
    enrollmentGroupId: 'names-rule',
    attestation: { type: 'symmetricKey' },
    ...extra,
  });
  for (const partial of [
    { namespaceName: DEMO_ADR.namespace },
    { namespaceName: DEMO_ADR.namespace, certificateAuthorityName: DEMO_ADR.ica },
    { certificatePolicyName: DEMO_ADR.policy },
  ]) {
    const answer = await dpsServiceCall(demo.stack.env, 'PUT', '/enrollmentGroups/names-rule', group(partial));
    expect(answer).toMatchObject({ status: 400, body: { errorCode: 400004 } });
  }
  // The spec's patterns: a namespace name is lower case.
  const upper = await dpsServiceCall(
    demo.stack.env,
    'PUT',
    '/enrollmentGroups/names-rule',
    group({ ...names, namespaceName: 'Demo' }),
    undefined,
    OUTSIDE_CONTRACT,
  );
  expect(upper.status).toBe(400);
  const made = await dpsServiceCall(demo.stack.env, 'PUT', '/enrollmentGroups/names-rule', group(names));
  expect(made).toMatchObject({ status: 200, body: names });

  // The production adapter speaks 2021-10-01: it sees no names, and its read-modify-write does not erase them.
  const seen = await demo.stack.services.enrollments.getGroup('names-rule');
  expect(seen).toBeDefined();
  expect(seen).not.toHaveProperty('namespaceName');
  await demo.stack.services.enrollments.putGroup({
    ...(seen as NonNullable<typeof seen>),
    provisioningStatus: 'disabled',
  });
  const after = await dpsServiceCall(demo.stack.env, 'GET', '/enrollmentGroups/names-rule');
  expect(after).toMatchObject({ status: 200, body: { ...names, provisioningStatus: 'disabled' } });
});

test('revokeAndRotate: 202 with Location, polled to Succeeded; the old intermediate is no longer trusted, the new one issues', async () => {
  const before = await registerSymmetricKeyDeviceWithCsr(
    demo.stack.env,
    'cert-rotate-1',
    deriveDeviceKey(demo.groupKey, 'cert-rotate-1'),
  );
  expect(demo.stack.simulator.adr.hubTrusts(chainOf(before.issuedCertificateChain))).toBe(true);

  // Only an intermediate can be revoked.
  expect(await armCall(demo.stack.env, 'POST', `${paths.root}/revokeAndRotate`)).toMatchObject({
    status: 400,
    body: { error: { code: 'InvalidRequestContent' } },
  });
  const started = await armCall(demo.stack.env, 'POST', `${paths.ica}/revokeAndRotate`);
  expect(started.status).toBe(202);
  const location = new URL(String(started.headers.location));
  expect(location.pathname).toMatch(
    /\/providers\/Microsoft\.DeviceRegistry\/locations\/[^/]+\/operationStatuses\/[^/]+$/,
  );
  expect(started.headers['azure-asyncoperation']).toBe(started.headers.location);
  const status = await eventually(async () => {
    const poll = await armCall(demo.stack.env, 'GET', `${location.pathname}`);
    expect(poll.status).toBe(200);
    return poll.body.status !== 'InProgress' && String(poll.body.status);
  }, 'the revokeAndRotate operation ending');
  expect(status).toBe('Succeeded');

  // Certificates of the revoked intermediate are refused by the hub; a new registration gets the new intermediate.
  expect(demo.stack.simulator.adr.hubTrusts(chainOf(before.issuedCertificateChain))).toBe(false);
  const after = await registerSymmetricKeyDeviceWithCsr(
    demo.stack.env,
    'cert-rotate-1',
    deriveDeviceKey(demo.groupKey, 'cert-rotate-1'),
  );
  checkIssuedChain(after, { rootDer: demo.rootDer(), validityDays: days });
  expect(after.issuedCertificateChain[1]).not.toBe(before.issuedCertificateChain[1]);
  expect(after.issuedCertificateChain[2]).toBe(before.issuedCertificateChain[2]);
  expect(demo.stack.simulator.adr.hubTrusts(chainOf(after.issuedCertificateChain))).toBe(true);
  const ca = await armCall(demo.stack.env, 'GET', paths.ica);
  expect(ca).toMatchObject({
    status: 200,
    body: { properties: { provisioningState: 'Succeeded', subject: 'CN=demo-ica' } },
  });
  expect(ca.body.properties).not.toHaveProperty('certificatePem');
});

test('ADR: ARM errors without a token or with another api-version; limits of the namespace (one root, three intermediates, 7–90 days)', async () => {
  // The first api-version in the query is the one read: one ADR does not serve.
  expect(await armCall(demo.stack.env, 'GET', `${paths.namespace}?api-version=2025-10-01`)).toMatchObject({
    status: 400,
    body: { error: { code: 'InvalidApiVersionParameter' } },
  });
  expect(await armCall(demo.stack.env, 'GET', paths.namespace, undefined, '')).toMatchObject({
    status: 401,
    body: { error: { code: 'AuthenticationFailed' } },
  });
  const ica = (name: string) =>
    armCall(demo.stack.env, 'PUT', `${paths.namespace}/certificateAuthorities/${name}`, {
      location: 'local',
      properties: {
        certificateAuthorityType: 'ICA',
        keyType: 'ECC',
        issuer: { issuerType: 'Microsoft', certificateAuthorityResourceId: paths.root },
      },
    });
  expect((await ica('extra-ica-2')).status).toBe(201);
  expect((await ica('extra-ica-3')).status).toBe(201);
  expect(await ica('extra-ica-4')).toMatchObject({ status: 400, body: { error: { code: 'InvalidRequestContent' } } });
  const secondRoot = await armCall(demo.stack.env, 'PUT', `${paths.namespace}/certificateAuthorities/root-2`, {
    location: 'local',
    properties: { certificateAuthorityType: 'Root', keyType: 'ECC' },
  });
  expect(secondRoot.status).toBe(400);
  for (const bad of [6, 91]) {
    const policy = await armCall(
      demo.stack.env,
      'PUT',
      `${paths.namespace}/certificateAuthorities/extra-ica-2/certificatePolicies/too-long-or-short`,
      {
        properties: { certificate: { validityPeriodInDays: bad } },
      },
    );
    expect(policy.status).toBe(400);
  }
  const list = await armCall(demo.stack.env, 'GET', `${paths.namespace}/certificateAuthorities`);
  expect((list.body.value as unknown[]).length).toBe(4);
});
