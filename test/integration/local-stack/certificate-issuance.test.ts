/**
 * Certificates the local DPS issues as DPS 2026-11-01 and Azure Device Registry do: devices onboarding with a symmetric
 * key, an X.509 certificate or a TPM (swtpm) send a CSR and get a chain from the policy their enrollment names, checked
 * on the device (root, CN, the policy's days); each refusal the spec and docs give; the three-names rule of the service
 * API; revokeAndRotate as an ARM async operation. Every exchange (DPS, hubs, ADR) is checked against the published
 * contracts by the test stack, which fails this file at close if one was broken.
 */
import 'reflect-metadata';

import { webcrypto, X509Certificate } from 'node:crypto';

import * as x509 from '@peculiar/x509';

import {
  checkIssuedChain,
  deriveDeviceKey,
  registerSymmetricKeyDeviceWithCsr,
  registerTpmDeviceWithCsr,
  registerX509DeviceWithCsr,
} from '../../../dev/device';
import { deviceCall, newCsr } from '../../../dev/device-csr';
import { issue } from '../../../dev/pki';
import {
  adrPaths,
  armCall,
  DEMO_ADR,
  dpsServiceCall,
  seedAdrDemo,
  seedCertificatesGroup,
} from '../../../dev/seed-certificates';
import { findSwtpm, type RunningTpm, startSwtpm, SWTPM_INSTALL } from '../../../dev/swtpm';
import { deviceApi, deviceSas, OUTSIDE_CONTRACT } from '../../support/device-api';
import { eventually } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';
import { tpmClient } from '../../support/tpm';

const swtpm = findSwtpm();
if (!swtpm && process.env.CI === 'true') throw new Error(`CI needs swtpm for the TPM tests: ${SWTPM_INSTALL}`);

let stack: TestStack;
let groupKey: string;
const paths = adrPaths();
const days = DEMO_ADR.validityPeriodInDays;
const names = {
  namespaceName: DEMO_ADR.namespace,
  certificateAuthorityName: DEMO_ADR.ica,
  certificatePolicyName: DEMO_ADR.policy,
};
/** The namespace's root, which devices are given out of band to check their chains against. */
const rootDer = () => {
  const root = stack.simulator.adr.ca(DEMO_ADR.namespace, DEMO_ADR.root);
  return Buffer.from(new X509Certificate(root.properties.certificatePem as string).raw);
};
const chainOf = (b64: string[]) => b64.map((c) => Buffer.from(c, 'base64'));

beforeAll(async () => {
  stack = await startTestStack();
  await seedAdrDemo(stack.env);
  groupKey = (await seedCertificatesGroup(stack.env)).primaryKey;
});
afterAll(async () => {
  await stack?.close();
});

test('a symmetric-key device gets a chain from the policy: leaf → intermediate → root, the policy’s days; on its hub by CA', async () => {
  const id = 'cert-sk-1';
  const issued = await registerSymmetricKeyDeviceWithCsr(stack.env, id, deriveDeviceKey(groupKey, id));
  const [leaf, ica, root] = checkIssuedChain(issued, { rootDer: rootDer(), validityDays: days });
  expect([leaf.subject, ica.subject, root.subject]).toEqual([`CN=${id}`, 'CN=demo-ica', 'CN=demo-root']);
  expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');

  // On the hub: authenticated by the issuing CA (no pinned thumbprint), and the hub trusts the chain.
  const device = await stack.services.hubs.hub(issued.assignedHub).getDevice(issued.deviceId);
  expect(device?.authentication?.type).toBe('certificateAuthority');
  expect(stack.simulator.adr.hubTrusts(chainOf(issued.issuedCertificateChain))).toBe(true);
  // Registered in the namespace as a registry device, enabled.
  const registry = await armCall(stack.env, 'GET', `${paths.namespace}/registryDevices/${id}`);
  expect(registry).toMatchObject({ status: 200, body: { properties: { enablementState: 'Enabled' } } });

  // The status lookup never returns the chain.
  const sas = deviceSas(stack.env, id, deriveDeviceKey(groupKey, id));
  const lookup = await deviceCall(stack.env, 'POST', `/registrations/${id}`, { sas }, { registrationId: id });
  expect(lookup.status).toBe(200);
  expect(lookup.body).toMatchObject({ registrationId: id, status: 'assigned' });
  expect(lookup.body).not.toHaveProperty('issuedCertificateChain');
});

test('an X.509 device onboards with its certificate and gets an operational one for a new key of its own', async () => {
  const id = 'cert-x509-1';
  const maker = await issue({ subject: 'CN=Maker Root', isCa: true });
  const onboarding = await issue({ subject: `CN=${id}`, issuer: maker });
  const put = await dpsServiceCall(stack.env, 'PUT', `/enrollments/${id}`, {
    registrationId: id,
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: onboarding.certPem } } } },
    ...names,
  });
  expect(put).toMatchObject({ status: 200, body: names });
  const issued = await registerX509DeviceWithCsr(stack.env, id, onboarding.certPem, onboarding.keyPem);
  const [leaf] = checkIssuedChain(issued, { rootDer: rootDer(), validityDays: days });
  expect(leaf.fingerprint256).not.toBe(new X509Certificate(onboarding.certPem).fingerprint256);
  expect(issued.keyPem).not.toBe(onboarding.keyPem);
  const device = await stack.services.hubs.hub(issued.assignedHub).getDevice(issued.deviceId);
  expect(device?.authentication?.type).toBe('certificateAuthority');
});

(swtpm ? describe : describe.skip)(`a TPM device (swtpm)${swtpm ? '' : ` — skipped: ${SWTPM_INSTALL}`}`, () => {
  let tpm: RunningTpm;
  beforeAll(async () => {
    tpm = await startSwtpm();
  });
  afterAll(async () => {
    await tpm?.stop();
  });

  test('answers the challenge in its TPM, sends its CSR, and gets its chain beside the TPM’s hub-key blob', async () => {
    const client = await tpmClient(tpm.address);
    const [ek, id] = [await client.endorsementKey(), await client.registrationId()];
    client.close();
    const put = await dpsServiceCall(stack.env, 'PUT', `/enrollments/${id}`, {
      registrationId: id,
      attestation: { type: 'tpm', tpm: { endorsementKey: ek.toString('base64') } },
      ...names,
    });
    expect(put.status).toBe(200);
    const issued = await registerTpmDeviceWithCsr(stack.env, tpm.address);
    expect(issued.registrationId).toBe(id);
    checkIssuedChain(issued, { rootDer: rootDer(), validityDays: days });
    // DPS's TPM answer still carries the activation blob the official client imports (registerTpmDeviceWithCsr did).
    expect(issued.answer.body.registrationState).toHaveProperty('tpm.authenticationKey');
    const device = await stack.services.hubs.hub(issued.assignedHub).getDevice(issued.deviceId);
    expect(device?.authentication?.type).toBe('certificateAuthority');
  });
});

describe('refusals', () => {
  const id = 'cert-refused-1';
  const sas = () => ({ sas: deviceSas(stack.env, id, deriveDeviceKey(groupKey, id)) });
  const register = (csr: unknown) =>
    deviceCall(stack.env, 'PUT', `/registrations/${id}/register`, sas(), { registrationId: id, csr });
  const refused = (answer: { status: number; headers: Record<string, unknown>; body: Record<string, unknown> }) => {
    expect(answer.status).toBe(400);
    expect(answer.body.errorCode).toBe(400004);
    expect(answer.headers['x-ms-error-code']).toBe('400004');
  };

  test('a CSR whose CN is not the registration ID, a P-256 key, PEM armour, a broken signature, garbage: 400', async () => {
    refused(await register((await newCsr('someone-else')).csr));
    const p256 = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const weak = await x509.Pkcs10CertificateRequestGenerator.create({
      name: [{ CN: [id] }],
      keys: p256,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    refused(await register(Buffer.from(weak.rawData).toString('base64')));
    const good = (await newCsr(id)).csr;
    refused(await register(`-----BEGIN CERTIFICATE REQUEST-----\n${good}\n-----END CERTIFICATE REQUEST-----`));
    const broken = Buffer.from(good, 'base64');
    broken[broken.length - 3] ^= 0x01; // inside the signature
    refused(await register(broken.toString('base64')));
    refused(await register('bm90IGEgY3Ny'));
    // The same device with a good CSR is issued: nothing above was refused for another reason.
    const ok = await register(good);
    expect(ok.status).toBe(202);
  });

  test('a CSR on an enrollment that names no ADR policy: 400', async () => {
    const key = Buffer.from('plain-group-key-0123456789abcdef').toString('base64');
    const put = await dpsServiceCall(stack.env, 'PUT', '/enrollmentGroups/plain-keys', {
      enrollmentGroupId: 'plain-keys',
      attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key, secondaryKey: key } },
    });
    expect(put.status).toBe(200);
    const plain = 'plain-device-1';
    const auth = { sas: deviceSas(stack.env, plain, deriveDeviceKey(key, plain)) };
    const body = { registrationId: plain, csr: (await newCsr(plain)).csr };
    refused(await deviceCall(stack.env, 'PUT', `/registrations/${plain}/register`, auth, body));
    // Without the CSR the same device registers as before.
    const { csr: _csr, ...withoutCsr } = body;
    expect((await deviceCall(stack.env, 'PUT', `/registrations/${plain}/register`, auth, withoutCsr)).status).toBe(202);
  });

  test('a CSR on the status lookup (spec: "a bad request"), and a CSR under an api-version without issuance: 400', async () => {
    refused(await deviceCall(stack.env, 'POST', `/registrations/${id}`, sas(), { registrationId: id, csr: 'AAAA' }));
    const old = await deviceApi(
      stack.env,
      'PUT',
      `/registrations/${id}/register?api-version=2021-10-01`,
      sas().sas,
      { registrationId: id, csr: (await newCsr(id)).csr },
      OUTSIDE_CONTRACT,
    );
    expect(old).toMatchObject({ status: 400, body: { errorCode: 400004 } });
    // 2021-10-01 keeps its error answers as they were: no x-ms-error-code.
    expect(old.headers['x-ms-error-code']).toBeUndefined();
  });

  test('a registry device disabled in ADR is not provisioned again', async () => {
    const dev = 'cert-disabled-1';
    const key = deriveDeviceKey(groupKey, dev);
    await registerSymmetricKeyDeviceWithCsr(stack.env, dev, key);
    const patch = await armCall(stack.env, 'PATCH', `${paths.namespace}/registryDevices/${dev}`, {
      properties: { enablementState: 'Disabled' },
    });
    expect(patch).toMatchObject({ status: 200, body: { properties: { enablementState: 'Disabled' } } });
    await expect(registerSymmetricKeyDeviceWithCsr(stack.env, dev, key)).rejects.toMatchObject({
      answer: { body: { registrationState: { status: 'disabled' } } },
    });
  });
});

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
    const answer = await dpsServiceCall(stack.env, 'PUT', '/enrollmentGroups/names-rule', group(partial));
    expect(answer).toMatchObject({ status: 400, body: { errorCode: 400004 } });
  }
  // The spec's patterns: a namespace name is lower case.
  const upper = await dpsServiceCall(
    stack.env,
    'PUT',
    '/enrollmentGroups/names-rule',
    group({ ...names, namespaceName: 'Demo' }),
    undefined,
    OUTSIDE_CONTRACT,
  );
  expect(upper.status).toBe(400);
  const made = await dpsServiceCall(stack.env, 'PUT', '/enrollmentGroups/names-rule', group(names));
  expect(made).toMatchObject({ status: 200, body: names });

  // The production adapter speaks 2021-10-01: it sees no names, and its read-modify-write does not erase them.
  const seen = await stack.services.enrollments.getGroup('names-rule');
  expect(seen).toBeDefined();
  expect(seen).not.toHaveProperty('namespaceName');
  await stack.services.enrollments.putGroup({ ...(seen as NonNullable<typeof seen>), provisioningStatus: 'disabled' });
  const after = await dpsServiceCall(stack.env, 'GET', '/enrollmentGroups/names-rule');
  expect(after).toMatchObject({ status: 200, body: { ...names, provisioningStatus: 'disabled' } });
});

test('revokeAndRotate: 202 with Location, polled to Succeeded; the old intermediate is no longer trusted, the new one issues', async () => {
  const before = await registerSymmetricKeyDeviceWithCsr(
    stack.env,
    'cert-rotate-1',
    deriveDeviceKey(groupKey, 'cert-rotate-1'),
  );
  expect(stack.simulator.adr.hubTrusts(chainOf(before.issuedCertificateChain))).toBe(true);

  // Only an intermediate can be revoked.
  expect(await armCall(stack.env, 'POST', `${paths.root}/revokeAndRotate`)).toMatchObject({
    status: 400,
    body: { error: { code: 'InvalidRequestContent' } },
  });
  const started = await armCall(stack.env, 'POST', `${paths.ica}/revokeAndRotate`);
  expect(started.status).toBe(202);
  const location = new URL(String(started.headers.location));
  expect(location.pathname).toMatch(
    /\/providers\/Microsoft\.DeviceRegistry\/locations\/[^/]+\/operationStatuses\/[^/]+$/,
  );
  expect(started.headers['azure-asyncoperation']).toBe(started.headers.location);
  const status = await eventually(async () => {
    const poll = await armCall(stack.env, 'GET', `${location.pathname}`);
    expect(poll.status).toBe(200);
    return poll.body.status !== 'InProgress' && String(poll.body.status);
  }, 'the revokeAndRotate operation ending');
  expect(status).toBe('Succeeded');

  // Certificates of the revoked intermediate are refused by the hub; a new registration gets the new intermediate.
  expect(stack.simulator.adr.hubTrusts(chainOf(before.issuedCertificateChain))).toBe(false);
  const after = await registerSymmetricKeyDeviceWithCsr(
    stack.env,
    'cert-rotate-1',
    deriveDeviceKey(groupKey, 'cert-rotate-1'),
  );
  checkIssuedChain(after, { rootDer: rootDer(), validityDays: days });
  expect(after.issuedCertificateChain[1]).not.toBe(before.issuedCertificateChain[1]);
  expect(after.issuedCertificateChain[2]).toBe(before.issuedCertificateChain[2]);
  expect(stack.simulator.adr.hubTrusts(chainOf(after.issuedCertificateChain))).toBe(true);
  const ca = await armCall(stack.env, 'GET', paths.ica);
  expect(ca).toMatchObject({
    status: 200,
    body: { properties: { provisioningState: 'Succeeded', subject: 'CN=demo-ica' } },
  });
  expect(ca.body.properties).not.toHaveProperty('certificatePem');
});

test('ADR: ARM errors without a token or with another api-version; limits of the namespace (one root, three intermediates, 7–90 days)', async () => {
  // The first api-version in the query is the one read: one ADR does not serve.
  expect(await armCall(stack.env, 'GET', `${paths.namespace}?api-version=2025-10-01`)).toMatchObject({
    status: 400,
    body: { error: { code: 'InvalidApiVersionParameter' } },
  });
  expect(await armCall(stack.env, 'GET', paths.namespace, undefined, '')).toMatchObject({
    status: 401,
    body: { error: { code: 'AuthenticationFailed' } },
  });
  const ica = (name: string) =>
    armCall(stack.env, 'PUT', `${paths.namespace}/certificateAuthorities/${name}`, {
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
  const secondRoot = await armCall(stack.env, 'PUT', `${paths.namespace}/certificateAuthorities/root-2`, {
    location: 'local',
    properties: { certificateAuthorityType: 'Root', keyType: 'ECC' },
  });
  expect(secondRoot.status).toBe(400);
  for (const bad of [6, 91]) {
    const policy = await armCall(
      stack.env,
      'PUT',
      `${paths.namespace}/certificateAuthorities/extra-ica-2/certificatePolicies/too-long-or-short`,
      {
        properties: { certificate: { validityPeriodInDays: bad } },
      },
    );
    expect(policy.status).toBe(400);
  }
  const list = await armCall(stack.env, 'GET', `${paths.namespace}/certificateAuthorities`);
  expect((list.body.value as unknown[]).length).toBe(4);
});
