/**
 * The webhook reads the device certificate in every shape DPS may send — the registration-state `certificateInfo`,
 * flat details, a raw `clientCertificate` (PEM or base64 DER) — the same way, and never takes a shape it cannot read
 * for "no certificate": while certificates are revoked, such a device is refused.
 */
import { X509Certificate } from 'node:crypto';

import { issue, type Issued } from '../../../dev/pki';
import { parseAllocationRequest } from '../../../shared/allocation/rules/contract';
import { deniedBy, snapshotOf } from '../../../shared/allocation/rules/deny-list';
import { infoOf, readX509Context } from '../../../shared/allocation/rules/x509-context';

let ca: Issued;
let device: Issued;
beforeAll(async () => {
  ca = await issue({ subject: 'CN=Line 9 CA', isCa: true });
  device = await issue({ subject: 'CN=dev-9', issuer: ca });
});

const request = (x509: unknown) => ({
  enrollmentGroup: { enrollmentGroupId: 'line-9', attestation: { type: 'x509' } },
  deviceRuntimeContext: { registrationId: 'dev-9', x509 },
  linkedHubs: ['hub-1.azure-devices.net'],
});

test('every shape gives the same certificate facts', () => {
  const info = infoOf(new X509Certificate(device.certPem));
  const der = new X509Certificate(device.certPem).raw.toString('base64');
  const shapes = {
    certificateInfo: { certificateInfo: info, enrollmentGroupId: 'line-9' },
    details: info,
    clientCertificate: { clientCertificate: der },
  };
  for (const [shape, x509] of Object.entries(shapes)) {
    const read = readX509Context(x509);
    expect(read).toMatchObject({ kind: 'read', shape });
    const facts = read.kind === 'read' ? read.info : {};
    expect(facts).toMatchObject({
      subjectName: 'CN=dev-9',
      issuerName: 'CN=Line 9 CA',
      sha256Thumbprint: info.sha256Thumbprint,
      notAfterUtc: info.notAfterUtc,
    });
  }
  expect(readX509Context({ clientCertificate: device.certPem })).toMatchObject({
    kind: 'read',
    info: { sha1Thumbprint: info.sha1Thumbprint },
  });
});

test('an unparsable certificate or an unknown shape is unreadable, not absent', () => {
  expect(readX509Context(undefined)).toEqual({ kind: 'absent' });
  expect(readX509Context({ clientCertificate: 'bm90IGEgY2VydA==' })).toMatchObject({
    kind: 'unreadable',
    reason: expect.stringMatching(/not an X.509/),
  });
  expect(readX509Context({ thumbprint: 'AB' })).toMatchObject({
    kind: 'unreadable',
    reason: expect.stringMatching(/fields: thumbprint/),
  });
  expect(readX509Context('x')).toMatchObject({ kind: 'unreadable' });
});

test('a revoked CA refuses its devices whatever shape their certificate comes in', () => {
  const revoked = snapshotOf(
    [{ kind: 'issuer', value: 'CN=Line 9 CA', reason: 'CA key leaked', incidentId: 'inc-1' }],
    Date.now(),
  );
  const der = new X509Certificate(device.certPem).raw.toString('base64');
  const info = infoOf(new X509Certificate(device.certPem));
  for (const x509 of [{ clientCertificate: der }, { certificateInfo: info }, info]) {
    const parsed = parseAllocationRequest(request(x509));
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(deniedBy(revoked, parsed.value)).toMatchObject({ reason: 'CA key leaked' });
  }
});

test('a certificate that cannot be read is refused while certificates are revoked, and only then', () => {
  const parsed = parseAllocationRequest(request({ somethingNew: { cert: 'x' } }));
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(parsed.value.deviceRuntimeContext.x509Unreadable).toMatch(/none of the certificate shapes/);
  const withCertificates = snapshotOf([{ kind: 'thumbprint', value: 'AA'.repeat(32), reason: 'stolen' }], Date.now());
  expect(deniedBy(withCertificates, parsed.value)).toMatchObject({
    reason: expect.stringMatching(/cannot be checked/),
  });
  const onlyIds = snapshotOf([{ kind: 'registrationId', value: 'someone-else', reason: 'stolen' }], Date.now());
  expect(deniedBy(onlyIds, parsed.value)).toBeUndefined();
});
