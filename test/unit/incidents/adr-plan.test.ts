/**
 * An incident's reach into Azure Device Registry, pure and at submission: the `certificatePolicy` scope parsed, the
 * plan's ADR steps (the rotation before the registry devices, both before the hubs), the rotation always waiting for
 * another admin and said irreversible, and a policy this backend does not administer refused as bad input.
 */
import { registryDeviceName as simulatorName } from '../../../dev/sim/adr';
import type { DeviceRegistryPort, RegistryCertificateAuthority } from '../../../shared/certificates';
import { registryDeviceName } from '../../../shared/certificates';
import { ValidationError } from '../../../shared/errors';
import { checkPolicyScope } from '../../../shared/incidents/adr-scope';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import { approvalFor } from '../../../shared/incidents/rules/approval';
import { type IncidentRequest, parseIncident } from '../../../shared/incidents/rules/incident';
import { foundNothing, planIncident } from '../../../shared/incidents/rules/plan';
import type { Target } from '../../../shared/incidents/rules/resolution';

const base = { id: 'inc-p', reason: 'issuing CA key leaked', mode: 'quarantine' };
const policy = { namespaceName: 'fleet-ns', certificateAuthorityName: 'ica-1', certificatePolicyName: 'policy-1' };
const rules = { maxDevices: 10, fourEyes: true };

test('scope.certificatePolicy is namespace/authority/policy; anything else is refused with the reason', () => {
  expect(parseIncident({ ...base, scope: { certificatePolicy: 'fleet-ns/ica-1/policy-1' } })).toEqual({
    ok: true,
    value: { ...base, scope: { certificatePolicy: policy } },
  });
  for (const [value, reason] of [
    ['fleet-ns/ica-1', /must be namespace\/certificateAuthority\/policy/],
    ['none', /names no policy/],
    ['Fleet_NS/ica-1/policy-1', /namespaceName "Fleet_NS" is not a valid name/],
    [{ namespaceName: 'fleet-ns' }, /must be "namespace\/certificateAuthority\/policy"/],
    ['a/'.repeat(200), /must be "namespace\/certificateAuthority\/policy"/],
  ] as const)
    expect(parseIncident({ ...base, scope: { certificatePolicy: value } })).toEqual({
      ok: false,
      reason: expect.stringMatching(reason),
    });
});

test('a policy incident plans an irreversible rotation that waits for another admin, and is never "nothing found"', () => {
  const request = parseIncident({ ...base, scope: { certificatePolicy: 'fleet-ns/ica-1/policy-1' } });
  if (!request.ok) throw new Error(request.reason);
  const { plan, steps } = planIncident(request.value, [], [], 1000, { source: 'http', adrNamespace: 'fleet-ns' });
  expect(plan.adr?.revokeAndRotate).toEqual({
    certificatePolicy: 'fleet-ns/ica-1/policy-1',
    certificateAuthorityName: 'ica-1',
    irreversible: true,
    warning: expect.stringMatching(/^IRREVERSIBLE: .*does not undo it\.$/),
  });
  expect(steps.map((s) => s.kind)).toEqual(['adrRotate']);
  expect(foundNothing(plan)).toBe(false);
  // No devices, no group: it would run at once if the rotation did not make it wide.
  expect(approvalFor(plan, 'http', rules)).toEqual({
    auto: false,
    otherAdmin: true,
    why: expect.stringMatching(/revokes and rotates ADR certificate authority ica-1 \(irreversible\)/),
  });
});

test('where a namespace is administered, every device is checked in ADR — the rotation before the hubs, devices after', () => {
  const request: IncidentRequest = {
    id: 'inc-d',
    reason: 'r',
    mode: 'contain',
    scope: { deviceIds: ['d-1', 'd-2'], certificatePolicy: policy },
  };
  const targets: Target[] = [
    { registrationId: 'd-1', deviceId: 'd-1', hub: 'hub-1', via: 'individual' },
    { registrationId: 'd-2', deviceId: 'd-2', via: 'none' },
  ];
  const { plan, steps } = planIncident(request, [], [targets], 1000, { adrNamespace: 'fleet-ns' });
  expect(steps.map((s) => s.kind)).toEqual(['dps', 'adrRotate', 'hub', 'adrDevices', 'registrations']);
  expect(steps.find((s) => s.kind === 'adrDevices')).toMatchObject({ namespaceName: 'fleet-ns', total: 2 });
  expect(plan.adr).toMatchObject({ namespaceName: 'fleet-ns', devicesToCheck: 2 });
  // Without an administered namespace, no ADR step at all for devices.
  const without = planIncident({ ...request, scope: { deviceIds: ['d-1'] } }, [], [targets], 1000, {});
  expect(without.steps.map((s) => s.kind)).not.toContain('adrDevices');
  expect(without.plan.adr).toBeUndefined();
});

test('the registry device names the backend looks up are the ones the local ADR makes', () => {
  for (const id of ['dev-1', 'Device.With:Colons', '-lead', 'a', 'x'.repeat(80), 'ümlaut?#'])
    expect(registryDeviceName(id)).toBe(simulatorName(id));
});

function registryWith(ca: Partial<RegistryCertificateAuthority> | undefined, policyFound = true) {
  return {
    certificateAuthority: async () => ca && { namespaceName: 'fleet-ns', name: 'ica-1', type: 'ICA', ...ca },
    certificatePolicy: async () => (policyFound ? { ...policy, validityPeriodInDays: 30 } : undefined),
  } as unknown as DeviceRegistryPort;
}

test('a policy this backend does not administer, or that ADR does not hold, is bad input', async () => {
  const deps = (registry?: DeviceRegistryPort, adrNamespace = 'fleet-ns') =>
    ({ deviceRegistry: registry && (async () => registry), adrNamespace }) as unknown as IncidentDeps;
  const request = (p = policy): IncidentRequest => ({
    id: 'i',
    reason: 'r',
    mode: 'quarantine',
    scope: { certificatePolicy: p },
  });
  const refused = (d: IncidentDeps, r = request()) => checkPolicyScope(d, r).catch((e: unknown) => e);

  await expect(checkPolicyScope(deps(registryWith({})), request())).resolves.toBeUndefined();
  const another = await refused(deps(registryWith({})), request({ ...policy, namespaceName: 'someone-else' }));
  expect(another).toBeInstanceOf(ValidationError);
  expect((another as Error).message).toMatch(
    /policy of namespace someone-else: this backend administers only fleet-ns/,
  );
  expect(String(await refused(deps(undefined)))).toMatch(/administers no Azure Device Registry namespace/);
  expect(String(await refused(deps(registryWith(undefined))))).toMatch(/has no certificate authority ica-1/);
  expect(String(await refused(deps(registryWith({ type: 'Root' }))))).toMatch(
    /is a Root CA; revokeAndRotate applies to intermediates/,
  );
  expect(String(await refused(deps(registryWith({}, false))))).toMatch(/has no policy policy-1/);
});
