/**
 * Certificates the local DPS issues as DPS 2026-11-01 and Azure Device Registry do: devices onboarding with a symmetric
 * key, an X.509 certificate or a TPM (swtpm) send a CSR and get a chain from the policy their enrollment names, checked
 * on the device (root, CN, the policy's days); each refusal the spec and docs give. The service API's side and ARM's
 * are certificate-issuance-adr.test.ts. Every exchange (DPS, hubs, ADR) is checked against the published contracts by
 * the test stack, which fails this file at close if one was broken.
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
import { armCall, dpsServiceCall } from '../../../dev/seed-certificates';
import { findSwtpm, type RunningTpm, startSwtpm, SWTPM_INSTALL } from '../../../dev/swtpm';
import { type AdrDemo, chainOf, days, names, paths, startAdrDemo } from '../../support/adr-demo';
import { deviceApi, deviceSas, OUTSIDE_CONTRACT } from '../../support/device-api';
import { tpmClient } from '../../support/tpm';

const swtpm = findSwtpm();
if (!swtpm && process.env.CI === 'true') throw new Error(`CI needs swtpm for the TPM tests: ${SWTPM_INSTALL}`);

let demo: AdrDemo;
beforeAll(async () => {
  demo = await startAdrDemo();
});
afterAll(() => demo?.close());

test('a symmetric-key device gets a chain from the policy: leaf → intermediate → root, the policy’s days; on its hub by CA', async () => {
  const id = 'cert-sk-1';
  const issued = await registerSymmetricKeyDeviceWithCsr(demo.stack.env, id, deriveDeviceKey(demo.groupKey, id));
  const [leaf, ica, root] = checkIssuedChain(issued, { rootDer: demo.rootDer(), validityDays: days });
  expect([leaf.subject, ica.subject, root.subject]).toEqual([`CN=${id}`, 'CN=demo-ica', 'CN=demo-root']);
  expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');

  // On the hub: authenticated by the issuing CA (no pinned thumbprint), and the hub trusts the chain.
  const device = await demo.stack.services.hubs.hub(issued.assignedHub).getDevice(issued.deviceId);
  expect(device?.authentication?.type).toBe('certificateAuthority');
  expect(demo.stack.simulator.adr.hubTrusts(chainOf(issued.issuedCertificateChain))).toBe(true);
  // Registered in the namespace as a registry device, enabled.
  const registry = await armCall(demo.stack.env, 'GET', `${paths.namespace}/registryDevices/${id}`);
  expect(registry).toMatchObject({ status: 200, body: { properties: { enablementState: 'Enabled' } } });

  // The status lookup never returns the chain.
  const sas = deviceSas(demo.stack.env, id, deriveDeviceKey(demo.groupKey, id));
  const lookup = await deviceCall(demo.stack.env, 'POST', `/registrations/${id}`, { sas }, { registrationId: id });
  expect(lookup.status).toBe(200);
  expect(lookup.body).toMatchObject({ registrationId: id, status: 'assigned' });
  expect(lookup.body).not.toHaveProperty('issuedCertificateChain');
});

test('an X.509 device onboards with its certificate and gets an operational one for a new key of its own', async () => {
  const id = 'cert-x509-1';
  const maker = await issue({ subject: 'CN=Maker Root', isCa: true });
  const onboarding = await issue({ subject: `CN=${id}`, issuer: maker });
  const put = await dpsServiceCall(demo.stack.env, 'PUT', `/enrollments/${id}`, {
    registrationId: id,
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: onboarding.certPem } } } },
    ...names,
  });
  expect(put).toMatchObject({ status: 200, body: names });
  const issued = await registerX509DeviceWithCsr(demo.stack.env, id, onboarding.certPem, onboarding.keyPem);
  const [leaf] = checkIssuedChain(issued, { rootDer: demo.rootDer(), validityDays: days });
  expect(leaf.fingerprint256).not.toBe(new X509Certificate(onboarding.certPem).fingerprint256);
  expect(issued.keyPem).not.toBe(onboarding.keyPem);
  const device = await demo.stack.services.hubs.hub(issued.assignedHub).getDevice(issued.deviceId);
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
    const put = await dpsServiceCall(demo.stack.env, 'PUT', `/enrollments/${id}`, {
      registrationId: id,
      attestation: { type: 'tpm', tpm: { endorsementKey: ek.toString('base64') } },
      ...names,
    });
    expect(put.status).toBe(200);
    const issued = await registerTpmDeviceWithCsr(demo.stack.env, tpm.address);
    expect(issued.registrationId).toBe(id);
    checkIssuedChain(issued, { rootDer: demo.rootDer(), validityDays: days });
    // DPS's TPM answer still carries the activation blob the official client imports (registerTpmDeviceWithCsr did).
    expect(issued.answer.body.registrationState).toHaveProperty('tpm.authenticationKey');
    const device = await demo.stack.services.hubs.hub(issued.assignedHub).getDevice(issued.deviceId);
    expect(device?.authentication?.type).toBe('certificateAuthority');
  });
});

describe('refusals', () => {
  const id = 'cert-refused-1';
  const sas = () => ({ sas: deviceSas(demo.stack.env, id, deriveDeviceKey(demo.groupKey, id)) });
  const register = (csr: unknown) =>
    deviceCall(demo.stack.env, 'PUT', `/registrations/${id}/register`, sas(), { registrationId: id, csr });
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
    const put = await dpsServiceCall(demo.stack.env, 'PUT', '/enrollmentGroups/plain-keys', {
      enrollmentGroupId: 'plain-keys',
      attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key, secondaryKey: key } },
    });
    expect(put.status).toBe(200);
    const plain = 'plain-device-1';
    const auth = { sas: deviceSas(demo.stack.env, plain, deriveDeviceKey(key, plain)) };
    const body = { registrationId: plain, csr: (await newCsr(plain)).csr };
    refused(await deviceCall(demo.stack.env, 'PUT', `/registrations/${plain}/register`, auth, body));
    // Without the CSR the same device registers as before.
    const { csr: _csr, ...withoutCsr } = body;
    expect((await deviceCall(demo.stack.env, 'PUT', `/registrations/${plain}/register`, auth, withoutCsr)).status).toBe(
      202,
    );
  });

  test('a CSR on the status lookup (spec: "a bad request"), and a CSR under an api-version without issuance: 400', async () => {
    refused(
      await deviceCall(demo.stack.env, 'POST', `/registrations/${id}`, sas(), { registrationId: id, csr: 'AAAA' }),
    );
    const old = await deviceApi(
      demo.stack.env,
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
    const key = deriveDeviceKey(demo.groupKey, dev);
    await registerSymmetricKeyDeviceWithCsr(demo.stack.env, dev, key);
    const patch = await armCall(demo.stack.env, 'PATCH', `${paths.namespace}/registryDevices/${dev}`, {
      properties: { enablementState: 'Disabled' },
    });
    expect(patch).toMatchObject({ status: 200, body: { properties: { enablementState: 'Disabled' } } });
    await expect(registerSymmetricKeyDeviceWithCsr(demo.stack.env, dev, key)).rejects.toMatchObject({
      answer: { body: { registrationState: { status: 'disabled' } } },
    });
  });
});
