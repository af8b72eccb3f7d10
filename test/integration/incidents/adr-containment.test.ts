/**
 * Containment that reaches Azure Device Registry, proven where it counts: devices that DPS issued a certificate — in a
 * group an operator created through the backend, naming the local ADR's demo policy — connect to their hubs with it
 * through the official device SDK (MQTT over TLS). An incident containing one disconnects it, disables its registry
 * device (it cannot provision again) and its hub refuses it; the incident's view says how many of its devices were
 * connected when it started and how many still are; release enables it again and it comes back. An incident naming
 * the compromised policy revokes and rotates its intermediate (an irreversible step only another admin approves):
 * every certificate of the old intermediate is refused at CONNECT, and a device that provisions again gets one of the
 * new intermediate and connects. From the attacker's side: a policy of another namespace, a malformed one, a maker.
 */
import { X509Certificate } from 'node:crypto';

import { errors } from 'azure-iot-common';

import {
  checkIssuedChain,
  deriveDeviceKey,
  type IssuedDevice,
  registerSymmetricKeyDeviceWithCsr,
} from '../../../dev/device';
import { chainPem } from '../../../dev/device-csr';
import type { RunningHost } from '../../../dev/host/host';
import { type ConnectedDevice, connectHubDevice } from '../../../dev/hub-device';
import { adrPaths, armCall, DEMO_ADR, dpsServiceCall, seedAdrDemo } from '../../../dev/seed-certificates';
import { CONTAINERS } from '../../../shared/containers';
import { startFunctionApp } from '../../support/app-host';
import { incidentReaches } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let host: RunningHost;
const GROUP = 'adr-line-1';
const POLICY = `${DEMO_ADR.namespace}/${DEMO_ADR.ica}/${DEMO_ADR.policy}`;
const ADMIN = 'Bearer dev-admin-secret-not-a-secret';
const SECOND_ADMIN = 'Bearer dev-admin2-secret-not-a-secret';
const MAKER = 'Bearer dev-globex-secret-not-a-secret';
let groupKey: string;
const open: ConnectedDevice[] = [];

const call = (method: string, path: string, body?: unknown, as = ADMIN) =>
  fetch(`${host.baseUrl}${path}`, {
    method,
    headers: { 'x-functions-key': 'fk', authorization: as, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, any> }); // eslint-disable-line @typescript-eslint/no-explicit-any

const waitFor = (id: string, status: string) =>
  incidentReaches(async () => (await json(await call('GET', `/api/incidents/${id}`))).body, id, status);

const rootDer = () =>
  new X509Certificate(stack.simulator.adr.ca(DEMO_ADR.namespace, DEMO_ADR.root).properties.certificatePem as string)
    .raw;
const provision = (id: string) => registerSymmetricKeyDeviceWithCsr(stack.env, id, deriveDeviceKey(groupKey, id));

async function connect(issued: IssuedDevice) {
  const device = await connectHubDevice(stack.env, issued.assignedHub, issued.deviceId, {
    type: 'x509',
    certPem: chainPem(issued.issuedCertificateChain),
    keyPem: issued.keyPem,
  });
  open.push(device);
  return device;
}

/** Connects and closes again: whether the hub takes the device's certificate at CONNECT. */
const tryConnect = (issued: IssuedDevice) =>
  connectHubDevice(stack.env, issued.assignedHub, issued.deviceId, {
    type: 'x509',
    certPem: chainPem(issued.issuedCertificateChain),
    keyPem: issued.keyPem,
  }).then(
    async (d) => (await d.close(), 'accepted'),
    (err: unknown) => (err instanceof errors.UnauthorizedError ? 'refused' : String(err)),
  );

const registryDevice = async (deviceId: string) =>
  (await armCall(stack.env, 'GET', `${adrPaths().namespace}/registryDevices/${deviceId}`)).body as {
    properties: { enablementState: string };
  };

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  host = await startFunctionApp();
  await seedAdrDemo(stack.env);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close().catch(() => undefined)));
});
afterAll(async () => {
  const { allocationRuntime } = await import('../../../functions/edge/allocation-runtime');
  await allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

test('an operator creates a group naming the policy: DPS holds the three names and tells the webhook under 2026-11-01', async () => {
  const put = (body: unknown, as = ADMIN, id = GROUP) => call('PUT', `/api/enrollment-groups/${id}`, body, as);
  const body = { attestation: { type: 'symmetricKey' }, certificatePolicy: POLICY, tags: { line: '1' } };
  expect(await json(await put(body))).toEqual({
    status: 201,
    body: {
      enrollmentGroupId: GROUP,
      attestation: 'symmetricKey',
      certificatePolicy: POLICY,
      webhookApiVersion: '2026-11-01',
      provisioningStatus: 'enabled',
    },
  });
  expect((await put(body)).status).toBe(200); // the same request again: the group it made
  expect((await put({ ...body, tags: { line: '2' } })).status).toBe(409); // another request for the same ID
  expect((await put(body, MAKER, 'adr-line-x')).status).toBe(403);
  const foreign = await json(
    await put({ ...body, certificatePolicy: `other-ns/${DEMO_ADR.ica}/${DEMO_ADR.policy}` }, ADMIN, 'adr-line-x'),
  );
  expect(foreign).toMatchObject({
    status: 400,
    body: { reason: expect.stringMatching(/policy of namespace other-ns/) },
  });
  const missing = await json(
    await put({ ...body, certificatePolicy: `${DEMO_ADR.namespace}/${DEMO_ADR.ica}/no-such` }, ADMIN, 'adr-line-x'),
  );
  expect(missing).toMatchObject({
    status: 400,
    body: { reason: expect.stringMatching(/does not exist in Azure Device Registry/) },
  });

  const stored = await dpsServiceCall(stack.env, 'GET', `/enrollmentGroups/${GROUP}`);
  expect(stored.body).toMatchObject({
    namespaceName: DEMO_ADR.namespace,
    certificateAuthorityName: DEMO_ADR.ica,
    certificatePolicyName: DEMO_ADR.policy,
    allocationPolicy: 'custom',
    customAllocationDefinition: { apiVersion: '2026-11-01' },
  });
  groupKey = (stored.body.attestation as { symmetricKey: { primaryKey: string } }).symmetricKey.primaryKey;
  // Its devices get certificates of the policy, allocated by the webhook.
  const issued = await provision('adr-probe-1');
  checkIssuedChain(issued, { rootDer: rootDer(), validityDays: DEMO_ADR.validityPeriodInDays });
});

test('contained: disconnected, its registry device disabled, refused at CONNECT and at DPS; released: back', async () => {
  const [target, bystander] = [await provision('adr-dev-1'), await provision('adr-dev-2')];
  const device = await connect(target);
  const disconnected = new Promise((resolve) => device.client.once('disconnect', resolve));
  await connect(bystander);
  expect(stack.simulator.hubDevices.connected(target.assignedHub)).toContain(target.deviceId);

  const posted = await call('POST', '/api/incidents', {
    id: 'inc-adr-dev',
    reason: 'device key extracted',
    mode: 'contain',
    scope: { deviceIds: [target.deviceId] },
  });
  expect(posted.status).toBe(202);
  const contained = await waitFor('inc-adr-dev', 'contained');
  expect(contained.plan.adr).toEqual({ namespaceName: DEMO_ADR.namespace, devicesToCheck: 1 });
  expect(contained.steps.find((s: { kind: string }) => s.kind === 'adrDevices')).toMatchObject({ state: 'done' });

  await disconnected;
  expect(stack.simulator.hubDevices.connected(target.assignedHub)).not.toContain(target.deviceId);
  expect(stack.simulator.hubDevices.connected(bystander.assignedHub)).toContain(bystander.deviceId);
  expect((await registryDevice(target.deviceId)).properties.enablementState).toBe('Disabled');
  expect((await registryDevice(bystander.deviceId)).properties.enablementState).toBe('Enabled');
  expect(await tryConnect(target)).toBe('refused');
  await expect(provision(target.registrationId)).rejects.toThrow(/DPS issued no certificate.*"status":"disabled"/);

  // Then and now, per hub: the hubs' service API read for the incident's own devices.
  const connected = await json(await call('GET', '/api/incidents/inc-adr-dev/connected'));
  expect(connected.body.atStart.perHub[target.assignedHub]).toEqual({ targeted: 1, read: 1, connected: 1 });
  expect(connected.body.now.perHub[target.assignedHub]).toEqual({ targeted: 1, read: 1, connected: 0 });

  const audit = await stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.action = @a', { '@a': 'disableRegistryDevice' });
  expect(audit.items.map((a) => a.target)).toEqual([
    { kind: 'registryDevice', id: `${DEMO_ADR.namespace}/${target.deviceId}` },
  ]);

  expect((await call('POST', '/api/incidents/inc-adr-dev/release', {})).status).toBe(200);
  await waitFor('inc-adr-dev', 'released');
  expect((await registryDevice(target.deviceId)).properties.enablementState).toBe('Enabled');
  // Its hub registration was deleted (contain): it provisions again — with a new certificate — and connects.
  const back = await provision(target.registrationId);
  await connect(back);
  expect(stack.simulator.hubDevices.connected(back.assignedHub)).toContain(back.deviceId);
});

test('from the attacker’s side: a policy of another namespace or malformed is a 400; a maker cannot submit one', async () => {
  const incident = (certificatePolicy: unknown) => ({
    id: 'inc-adr-bad',
    reason: 'r',
    mode: 'quarantine',
    scope: { certificatePolicy },
  });
  const foreign = await json(
    await call('POST', '/api/incidents', incident(`someone-else/${DEMO_ADR.ica}/${DEMO_ADR.policy}`)),
  );
  expect(foreign).toMatchObject({
    status: 400,
    body: {
      reason: expect.stringMatching(
        /policy of namespace someone-else: this backend administers only dps-lifecycle-demo/,
      ),
    },
  });
  for (const bad of ['dps-lifecycle-demo/demo-ica', 'none', 'Bad Name/x/y', 42])
    expect((await call('POST', '/api/incidents', incident(bad))).status).toBe(400);
  const root = await json(
    await call('POST', '/api/incidents', incident(`${DEMO_ADR.namespace}/${DEMO_ADR.root}/${DEMO_ADR.policy}`)),
  );
  expect(root).toMatchObject({ status: 400 });
  expect((await call('POST', '/api/incidents', incident(POLICY), MAKER)).status).toBe(403);
  expect((await call('GET', '/api/incidents/inc-adr-bad')).status).toBe(404); // nothing was recorded
});

test('a compromised policy: its intermediate revoked and rotated (irreversible, four eyes); old certificates refused, new ones accepted', async () => {
  const [a, b] = [await provision('adr-pol-1'), await provision('adr-pol-2')];
  await connect(a);
  expect(await tryConnect(b)).toBe('accepted');
  const oldIntermediate = a.issuedCertificateChain[1];

  expect(
    (
      await call('POST', '/api/incidents', {
        id: 'inc-adr-pol',
        reason: 'ICA key leaked',
        mode: 'quarantine',
        scope: { certificatePolicy: POLICY },
      })
    ).status,
  ).toBe(202);
  const waiting = await waitFor('inc-adr-pol', 'awaitingApproval');
  expect(waiting.plan.adr.revokeAndRotate).toMatchObject({
    certificatePolicy: POLICY,
    irreversible: true,
    warning: expect.stringMatching(/^IRREVERSIBLE: /),
  });
  expect(waiting.approval).toMatchObject({ auto: false, otherAdmin: true });
  expect((await call('POST', '/api/incidents/inc-adr-pol/approve', {})).status).toBe(403); // its submitter
  expect((await call('POST', '/api/incidents/inc-adr-pol/approve', {}, SECOND_ADMIN)).status).toBe(200);
  const done = await waitFor('inc-adr-pol', 'quarantined');
  expect(done.steps).toEqual([
    expect.objectContaining({ kind: 'adrRotate', state: 'done', rotatedAt: expect.any(String) }),
  ]);

  // Every certificate of the old intermediate is refused at CONNECT (a live session is not dropped by a rotation).
  await Promise.all(open.splice(0).map((d) => d.close()));
  expect(await tryConnect(a)).toBe('refused');
  expect(await tryConnect(b)).toBe('refused');
  // Provisioned again, b gets a certificate of the new intermediate, chained to the same root, and connects.
  const renewed = await provision(b.registrationId);
  expect(renewed.issuedCertificateChain[1]).not.toBe(oldIntermediate);
  checkIssuedChain(renewed, { rootDer: rootDer(), validityDays: DEMO_ADR.validityPeriodInDays });
  expect(await tryConnect(renewed)).toBe('accepted');

  // Released: nothing is put back — ADR cannot undo a rotation — and the incident and the audit say so.
  expect((await call('POST', '/api/incidents/inc-adr-pol/release', {})).status).toBe(200);
  const released = await waitFor('inc-adr-pol', 'released');
  expect(released.notes).toContainEqual(expect.stringMatching(/revokeAndRotate cannot be undone/));
  expect(await tryConnect(a)).toBe('refused');
  const audit = await stack.services.store
    .container(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.target.kind = @k', { '@k': 'certificateAuthority' });
  expect(audit.items.map((r) => r.action).sort()).toEqual(['revokeAndRotate', 'revokeAndRotateNotUndone']);
});
