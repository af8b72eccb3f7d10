/**
 * Certificate renewal through the hub (concept-certificate-renewal; the wire in dev/sim/hub-credentials.ts): a device
 * that DPS issued a certificate (CSR under the demo ADR policy) connects with it through the official device SDK,
 * renews over `$iothub/credentials/…` on its live session, and is answered from its policy by the local ADR; one
 * operation in flight, malformed requests and bad CSRs refused with the service's codes; after revokeAndRotate, a
 * certificate of the revoked intermediate is refused at CONNECT.
 */
import { X509Certificate } from 'node:crypto';

import { deriveDeviceKey, type IssuedDevice, registerSymmetricKeyDeviceWithCsr } from '../../../dev/device';
import { chainPem, newCsr } from '../../../dev/device-csr';
import { type ConnectedDevice, connectHubDevice } from '../../../dev/hub-device';
import { renewCertificate, sendCredentialRequest } from '../../../dev/hub-renew';
import { adrPaths, armCall, DEMO_ADR, seedAdrDemo, seedCertificatesGroup } from '../../../dev/seed-certificates';
import { eventually } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let groupKey: string;
const days = DEMO_ADR.validityPeriodInDays;
const rootDer = () =>
  new X509Certificate(stack.simulator.adr.ca(DEMO_ADR.namespace, DEMO_ADR.root).properties.certificatePem as string)
    .raw;
const open: ConnectedDevice[] = [];

beforeAll(async () => {
  stack = await startTestStack();
  await seedAdrDemo(stack.env);
  groupKey = (await seedCertificatesGroup(stack.env)).primaryKey;
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close().catch(() => undefined)));
});
afterAll(async () => {
  await stack?.close();
});

async function provision(id: string): Promise<IssuedDevice> {
  return registerSymmetricKeyDeviceWithCsr(stack.env, id, deriveDeviceKey(groupKey, id));
}

async function connect(
  issued: IssuedDevice,
  certPem = chainPem(issued.issuedCertificateChain),
  keyPem = issued.keyPem,
) {
  const device = await connectHubDevice(stack.env, issued.assignedHub, issued.deviceId, {
    type: 'x509',
    certPem,
    keyPem,
  });
  open.push(device);
  return device;
}

test('renewal accepted: 202 then 200 with a new chain to the namespace root, the policy’s days, a new key; the old certificate keeps working', async () => {
  const issued = await provision('renew-ok-1');
  const device = await connect(issued);
  const oldLeaf = new X509Certificate(Buffer.from(issued.issuedCertificateChain[0], 'base64'));

  const renewed = await renewCertificate(device, issued.deviceId, { rootDer: rootDer(), validityDays: days });
  expect(renewed.accepted.body).toEqual({ correlationId: expect.any(String), operationExpires: expect.any(String) });
  expect(new Date(String(renewed.accepted.body.operationExpires)).getTime()).toBeGreaterThan(Date.now());
  const [leaf, ica] = renewed.chain;
  expect(leaf.serialNumber).not.toBe(oldLeaf.serialNumber);
  expect(leaf.publicKey.equals(oldLeaf.publicKey)).toBe(false);
  expect(new Date(leaf.validTo).getTime()).toBeGreaterThanOrEqual(new Date(oldLeaf.validTo).getTime());
  expect(ica.raw.equals(Buffer.from(issued.issuedCertificateChain[1], 'base64'))).toBe(true); // the policy's current ICA

  // The live session was not torn down by the renewal.
  await device.send({ after: 'renewal' });
  expect(stack.simulator.hubDevices.received(issued.assignedHub, issued.deviceId)).toHaveLength(1);
  await device.close();
  // The next connection uses the new certificate; the old one is still accepted until it expires (no pinned thumbprint).
  await (await connect(issued, renewed.certPem, renewed.keyPem)).close();
  await connect(issued);
  expect(stack.simulator.hubDevices.connected(issued.assignedHub)).toContain(issued.deviceId);
});

test('one request in flight: a second is 409 (409004) naming the first; `replace` with an unknown request ID is 412 (412001)', async () => {
  const issued = await provision('renew-busy-1');
  const device = await connect(issued);
  const release = stack.simulator.hubDevices.holdRenewals();
  const first = await sendCredentialRequest(device, { id: issued.deviceId, csr: (await newCsr(issued.deviceId)).csr });
  try {
    expect((await first.next()).status).toBe(202);
    const second = await sendCredentialRequest(device, {
      id: issued.deviceId,
      csr: (await newCsr(issued.deviceId)).csr,
    });
    expect(await second.next()).toMatchObject({
      status: 409,
      body: { errorCode: 409004, info: { requestId: first.rid, correlationId: expect.any(String) } },
    });
    second.close();
  } finally {
    release();
  }
  expect(await first.next()).toMatchObject({ status: 200, body: { certificates: expect.any(Array) } });
  first.close();

  const stale = await sendCredentialRequest(device, {
    id: issued.deviceId,
    csr: (await newCsr(issued.deviceId)).csr,
    replace: 'db8c0f73-ac73-4b90-bba4-8a26ae2fcb27',
  });
  expect(await stale.next()).toMatchObject({ status: 412, body: { errorCode: 412001 } });
  stale.close();
});

test('bad requests refused: a CSR that is not base64, another device’s ID, JSON that does not parse (at once); a CSR for another CN (after the 202)', async () => {
  const issued = await provision('renew-bad-1');
  const device = await connect(issued);
  const answerTo = async (body: unknown) => {
    const request = await sendCredentialRequest(device, body);
    const answers = [await request.next()];
    if (answers[0].status === 202) answers.push(await request.next());
    request.close();
    return answers;
  };
  expect(await answerTo({ id: issued.deviceId, csr: 'not-valid-base64!!' })).toMatchObject([
    { status: 400, body: { errorCode: 400004 } },
  ]);
  expect(await answerTo({ id: 'someone-else', csr: (await newCsr('someone-else')).csr })).toMatchObject([
    { status: 400, body: { errorCode: 400004 } },
  ]);
  expect(await answerTo('{"id": "renew-bad-1", "csr":')).toMatchObject([{ status: 400, body: { errorCode: 400006 } }]);
  const [accepted, refused] = await answerTo({ id: issued.deviceId, csr: (await newCsr('renew-bad-2')).csr });
  expect(accepted.status).toBe(202);
  expect(refused).toMatchObject({
    status: 400,
    body: { errorCode: 400037, info: { credentialMessage: expect.stringMatching(/CN/) } },
  });
  // Nothing refused kept an operation active: a good request goes through.
  await renewCertificate(device, issued.deviceId, { rootDer: rootDer(), validityDays: days });
});

test('after revokeAndRotate, a certificate of the revoked intermediate is refused at CONNECT and cannot renew; DPS issues one that connects', async () => {
  const before = await provision('renew-revoked-1');
  const live = await connect(before);
  const paths = adrPaths();
  const started = await armCall(stack.env, 'POST', `${paths.ica}/revokeAndRotate`);
  expect(started.status).toBe(202);
  const location = new URL(String(started.headers.location)).pathname;
  const status = await eventually(async () => {
    const polled = String((await armCall(stack.env, 'GET', location)).body.status);
    return polled !== 'InProgress' && polled;
  }, 'the revokeAndRotate operation ending');
  expect(status).toBe('Succeeded');

  await expect(connect(before)).rejects.toThrow(/Not authorized/);
  await expect(renewCertificate(live, before.deviceId, { rootDer: rootDer(), validityDays: days })).rejects.toThrow(
    /400037/,
  );
  // As the docs say of revocation: the device provisions again through DPS, and the new certificate connects.
  const after = await provision('renew-revoked-1');
  expect(after.issuedCertificateChain[1]).not.toBe(before.issuedCertificateChain[1]);
  await connect(after);
  expect(stack.simulator.hubDevices.connected(after.assignedHub)).toContain(after.deviceId);
});
