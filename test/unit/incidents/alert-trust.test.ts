/**
 * Review findings 5 and 9a, from the attacker's side: a security alert may not ask for an irreversible ADR rotation
 * (its submitter is a machine, so four eyes would be one human), while an admin's HTTP report still may; and ADR
 * failing while an incident's policy is checked is a 400 (ADR refused the names) or a 503 naming ADR (it refused our
 * identity, or stayed down through the retries), never a bare error that is a 500 over HTTP and ends an alert batch.
 */
import type { DeviceRegistryPort } from '../../../shared/certificates';
import {
  AccessDeniedError,
  ServiceError,
  ThrottledError,
  TransientError,
  UnavailableError,
  ValidationError,
} from '../../../shared/errors';
import { checkPolicyScope } from '../../../shared/incidents/adr-scope';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import { approvalFor } from '../../../shared/incidents/rules/approval';
import { alertRefusal, type IncidentRequest, parseIncident } from '../../../shared/incidents/rules/incident';

const policy = { namespaceName: 'fleet-ns', certificateAuthorityName: 'ica-1', certificatePolicyName: 'policy-1' };

test('an alert naming a certificate policy is refused with the reason; the same body from an admin is taken', () => {
  const body = {
    id: 'a-1',
    reason: 'leak',
    mode: 'quarantine',
    scope: { certificatePolicy: 'fleet-ns/ica-1/policy-1' },
  };
  const parsed = parseIncident(body);
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(alertRefusal(parsed.value)).toMatch(
    /^scope.certificatePolicy: a security alert may not ask for an ADR certificate policy to be revoked and rotated \(irreversible\); an admin reports it with POST \/api\/incidents/,
  );
  // Alongside anything else, still refused: the rotation would ride along.
  const mixed = parseIncident({ ...body, scope: { ...body.scope, registrationIds: ['d-1'] } });
  expect(mixed.ok && alertRefusal(mixed.value)).toMatch(/may not ask/);
  const plain = parseIncident({ ...body, scope: { registrationIds: ['d-1'], lot: { manufacturer: 'm', lot: 'l' } } });
  expect(plain.ok && alertRefusal(plain.value)).toBeUndefined();
  // Over HTTP the rotation waits for an admin other than its submitter: two humans.
  const approval = approvalFor(
    {
      devices: 0,
      notFound: { count: 0, sample: [] },
      groupsToDisable: [],
      adr: { revokeAndRotate: { ...policy } },
    } as never,
    'http',
    { maxDevices: 100, fourEyes: true },
  );
  expect(approval).toMatchObject({ auto: false, otherAdmin: true });
});

function registryFailing(err: Error) {
  return {
    certificateAuthority: async () => {
      throw err;
    },
    certificatePolicy: async () => ({ ...policy, validityPeriodInDays: 30 }),
  } as unknown as DeviceRegistryPort;
}

const deps = (registry: DeviceRegistryPort) =>
  ({
    deviceRegistry: async () => registry,
    adrNamespace: 'fleet-ns',
    retry: { sleep: async () => undefined },
  }) as unknown as IncidentDeps;

const request: IncidentRequest = { id: 'i', reason: 'r', mode: 'quarantine', scope: { certificatePolicy: policy } };

test.each([
  [
    'ADR refusing our identity (403)',
    new AccessDeniedError('GET …/certificateAuthorities/ica-1: AuthorizationFailed', 403, 'AuthorizationFailed'),
    UnavailableError,
    /^Azure Device Registry refused this backend's identity while reading scope.certificatePolicy fleet-ns\/ica-1\/policy-1 \(HTTP 403\)/,
  ],
  [
    'ADR refusing the names (400)',
    new ServiceError('GET …: InvalidResourceName the name is not valid', 400, 'InvalidResourceName'),
    ValidationError,
    /^Azure Device Registry refused reading scope.certificatePolicy fleet-ns\/ica-1\/policy-1: GET …: InvalidResourceName/,
  ],
  [
    'ADR down through the retries (5xx)',
    new ServiceError('GET …: InternalServerError', 500),
    UnavailableError,
    /^Azure Device Registry is unavailable while reading scope.certificatePolicy/,
  ],
  [
    'ADR’s connection lost every try',
    new TransientError('connection lost: socket hang up', undefined),
    UnavailableError,
    /^Azure Device Registry is unavailable while reading/,
  ],
])('%s is told as %p with the reason', async (_what, err, kind, reason) => {
  const refused = await checkPolicyScope(deps(registryFailing(err)), request).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(kind);
  expect((refused as Error).message).toMatch(reason);
});

test('ADR throttling through every retry stays a ThrottledError (a 503 with Retry-After at the edge)', async () => {
  const refused = await checkPolicyScope(deps(registryFailing(new ThrottledError('429', 2000))), request).catch(
    (e: unknown) => e,
  );
  expect(refused).toBeInstanceOf(ThrottledError);
});
