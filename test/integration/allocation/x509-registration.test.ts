/**
 * X.509 devices through the official device SDK (`azure-iot-security-x509`): an individual enrollment by the device
 * certificate, a group by its root CA with the device presenting its intermediate, and the documented way to shut
 * one device of a group out (a disabled individual enrollment under its registration ID).
 */
import { X509Certificate } from 'node:crypto';

import { registerX509Device } from '../../../dev/device';
import { issue, type Issued } from '../../../dev/pki';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let root: Issued;
let intermediate: Issued;
const device = (cn: string, issuer: Issued) => issue({ subject: `CN=${cn}`, issuer });

beforeAll(async () => {
  stack = await startTestStack();
  root = await issue({ subject: 'CN=Contoso Root CA', isCa: true });
  intermediate = await issue({ subject: 'CN=Contoso Line 7 Intermediate', isCa: true, issuer: root });
});
afterAll(async () => {
  await stack.close();
});

test('an individual X.509 enrollment admits the device holding that certificate, and no other', async () => {
  const cert = await device('x509-single-1', root);
  await stack.services.enrollments.putEnrollment({
    registrationId: 'x509-single-1',
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: cert.certPem } } } },
    allocationPolicy: 'static',
    iotHubHostName: 'hub-eu-2.azure-devices.net',
  });
  const stored = await stack.services.enrollments.getEnrollment('x509-single-1');
  expect(stored?.attestation.x509?.clientCertificates?.primary?.info?.subjectName).toBe('CN=x509-single-1');
  expect(stored?.attestation.x509?.clientCertificates?.primary?.certificate).toBeUndefined(); // DPS answers with info only

  const result = await registerX509Device(stack.env, 'x509-single-1', cert.certPem, cert.keyPem);
  expect(result.assignedHub).toBe('hub-eu-2.azure-devices.net');
  const hubDevice = await stack.services.hubs.hub(result.assignedHub).getDevice('x509-single-1');
  expect(hubDevice?.authentication?.type).toBe('selfSigned');

  const impostor = await device('x509-single-1', root); // same name, another key
  await expect(registerX509Device(stack.env, 'x509-single-1', impostor.certPem, impostor.keyPem)).rejects.toThrow();
});

test('a group by root CA admits a device presenting its intermediate; a disabled individual enrollment shuts one device out', async () => {
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'contoso-line-7',
    attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: root.certPem } } } },
  });
  const a = await device('line7-a', intermediate);
  const b = await device('line7-b', intermediate);
  const chain = (c: Issued) => `${c.certPem.trim()}\n${intermediate.certPem.trim()}\n`;

  const ra = await registerX509Device(stack.env, 'line7-a', chain(a), a.keyPem);
  // As users of real DPS see it: a group's device is created selfSigned with its certificate's SHA-256 thumbprint.
  const thumbprint = new X509Certificate(a.certPem).fingerprint256.replace(/:/g, '');
  expect((await stack.services.hubs.hub(ra.assignedHub).getDevice('line7-a'))?.authentication).toMatchObject({
    type: 'selfSigned',
    x509Thumbprint: { primaryThumbprint: thumbprint, secondaryThumbprint: thumbprint },
  });
  await expect(registerX509Device(stack.env, 'line7-a', a.certPem, a.keyPem)).rejects.toThrow(); // without the intermediate the chain is broken

  await stack.services.enrollments.putEnrollment({
    registrationId: 'line7-b',
    provisioningStatus: 'disabled',
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: b.certPem } } } },
  });
  await expect(registerX509Device(stack.env, 'line7-b', chain(b), b.keyPem)).rejects.toThrow();
  expect(await stack.services.enrollments.getRegistrationState('line7-b')).toMatchObject({ status: 'disabled' });
  await registerX509Device(stack.env, 'line7-a', chain(a), a.keyPem); // the rest of the group is untouched

  const members = await stack.services.enrollments.queryGroupRegistrations('contoso-line-7', 10);
  expect(members.items.map((m) => [m.registrationId, m.status]).sort()).toEqual([['line7-a', 'assigned']]);
});
