/**
 * The ADR adapter (shared/azure/device-registry.ts) against the local ADR, built by the composition root as in the
 * app: it reads the demo namespace's CAs and policy, switches a registry device off and on, and follows
 * revokeAndRotate — an ARM async operation — to its end, after which the intermediate has a new certificate. Every
 * exchange is checked against the ADR 2026-11-01 contract by the test stack.
 */
import { adrPaths, armCall, DEMO_ADR, seedAdrDemo } from '../../../dev/seed-certificates';
import type { DeviceRegistryPort } from '../../../shared/certificates/device-registry';
import { deviceRegistryFor } from '../../../shared/composition';
import { NotFoundError } from '../../../shared/errors';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let adr: DeviceRegistryPort;
const policyRef = {
  namespaceName: DEMO_ADR.namespace,
  certificateAuthorityName: DEMO_ADR.ica,
  certificatePolicyName: DEMO_ADR.policy,
};

beforeAll(async () => {
  stack = await startTestStack();
  await seedAdrDemo(stack.env);
  adr = await deviceRegistryFor(stack.env);
});
afterAll(async () => {
  await stack?.close();
});

test('reads the namespace’s CAs and the policy’s validity; a missing one is undefined, not an error', async () => {
  const cas = await adr.certificateAuthorities(DEMO_ADR.namespace);
  expect(cas.map((c) => [c.name, c.type]).sort()).toEqual([
    [DEMO_ADR.ica, 'ICA'],
    [DEMO_ADR.root, 'Root'],
  ]);
  expect(await adr.certificatePolicy(policyRef)).toMatchObject({
    ...policyRef,
    validityPeriodInDays: DEMO_ADR.validityPeriodInDays,
    provisioningState: 'Succeeded',
  });
  expect(await adr.certificatePolicies(DEMO_ADR.namespace, DEMO_ADR.ica)).toHaveLength(1);
  expect(await adr.certificatePolicy({ ...policyRef, certificatePolicyName: 'no-such-policy' })).toBeUndefined();
  expect(await adr.certificateAuthority(DEMO_ADR.namespace, 'no-such-ca')).toBeUndefined();
});

test('switches a registry device off and on', async () => {
  const path = `${adrPaths().namespace}/registryDevices/adapter-device-1`;
  expect(
    (await armCall(stack.env, 'PUT', path, { location: 'local', properties: { enablementState: 'Enabled' } })).status,
  ).toBe(201);
  await adr.setDeviceEnablement(DEMO_ADR.namespace, 'adapter-device-1', 'Disabled');
  expect((await armCall(stack.env, 'GET', path)).body).toMatchObject({ properties: { enablementState: 'Disabled' } });
  await adr.setDeviceEnablement(DEMO_ADR.namespace, 'adapter-device-1', 'Enabled');
  expect((await armCall(stack.env, 'GET', path)).body).toMatchObject({ properties: { enablementState: 'Enabled' } });
});

test('revokeAndRotate is followed to Succeeded: the intermediate has a new certificate; a root is refused', async () => {
  const before = stack.simulator.adr.ca(DEMO_ADR.namespace, DEMO_ADR.ica).properties.certificatePem;
  await adr.revokeAndRotate(DEMO_ADR.namespace, DEMO_ADR.ica);
  const after = await adr.certificateAuthority(DEMO_ADR.namespace, DEMO_ADR.ica);
  expect(after?.provisioningState).toBe('Succeeded');
  expect(stack.simulator.adr.ca(DEMO_ADR.namespace, DEMO_ADR.ica).properties.certificatePem).not.toBe(before);
  await expect(adr.revokeAndRotate(DEMO_ADR.namespace, DEMO_ADR.root)).rejects.toMatchObject({ status: 400 });
  await expect(adr.revokeAndRotate(DEMO_ADR.namespace, 'no-such-ca')).rejects.toBeInstanceOf(NotFoundError);
});
