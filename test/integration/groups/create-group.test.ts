/**
 * Creating a group against the local stack through the production DPS adapter (the official service SDK) and
 * Cosmos, from the attacker's side and through DPS's failures (review findings 4a and 9b): a group someone with DPS
 * write made first, tagged with the request's digest, is a conflict and stays as it was; DPS refusing the group is a
 * ValidationError (400 at the edge) naming DPS's own reason, and the ID stays free; DPS refusing our identity is an
 * UnavailableError (503); a lost answer ends, on the same request again, with the group it made, audited once.
 */
import { NO_FAULTS } from '../../../dev/faults/plan';
import { issue } from '../../../dev/pki';
import { CONTAINERS } from '../../../shared/containers';
import type { EnrollmentGroup } from '../../../shared/dps-types';
import { UnavailableError, ValidationError } from '../../../shared/errors';
import { createGroup, type GroupDeps, type GroupRequest, parseGroupRequest } from '../../../shared/groups';
import { REQUEST_TAG, requestDigest } from '../../../shared/groups/rules/group';
import { CosmosGroupClaimRepository } from '../../../shared/groups/store/cosmos-group-claims';
import { dpsSdk } from '../../support/sdk-clients';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let deps: GroupDeps;
const WEBHOOK = 'https://backend.example/api/allocate?code=k';

beforeAll(async () => {
  // With storage: the audit record also goes to the blob trail, as in Azure.
  stack = await startTestStack({ faults: NO_FAULTS, withStorage: true });
  deps = {
    enrollments: async () => stack.services.enrollments,
    store: async () => stack.services.store,
    groupClaims: async () => new CosmosGroupClaimRepository(stack.services.store),
    webhookUrl: WEBHOOK,
  };
});
afterEach(() => {
  stack.faults?.set(NO_FAULTS);
  stack.faults?.resetCounts();
});
afterAll(async () => {
  await stack.close();
});

const faults = () => stack.faults as NonNullable<TestStack['faults']>;
const dpsFault = (fault: object) =>
  faults().set({ rules: [{ service: 'dps', operation: 'putGroup', calls: [1], fault } as never] });

function request(id: string, tags?: Record<string, string>): GroupRequest {
  const parsed = parseGroupRequest(id, { attestation: { type: 'symmetricKey' }, ...(tags ? { tags } : {}) });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

const audits = async (id: string) =>
  (
    await stack.services.store
      .container(CONTAINERS.audit.name)
      .query('SELECT * FROM c WHERE c.target.id = @id', { '@id': id })
  ).items;

test('a group made first in DPS with the request’s digest as its tag is a conflict, and stays the attacker’s', async () => {
  const asked = request('int-line-1');
  // The attacker has DPS write (not the backend's store): their keys, their webhook, the tag computed from the request.
  await dpsSdk(stack).createOrUpdateEnrollmentGroup({
    enrollmentGroupId: 'int-line-1',
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY, secondaryKey: KEY } },
    provisioningStatus: 'enabled',
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: 'https://attacker.example/allocate', apiVersion: '2021-10-01' },
    initialTwin: { tags: { [REQUEST_TAG]: requestDigest(asked) } },
  } as never);
  expect(await createGroup(deps, asked, 'admin')).toMatchObject({ kind: 'conflict' });
  const held = (await stack.services.enrollments.getGroup('int-line-1')) as EnrollmentGroup;
  expect(held.customAllocationDefinition?.webhookUrl).toBe('https://attacker.example/allocate');
  expect(held.attestation.symmetricKey?.primaryKey).toBe(KEY);
  expect(await audits('int-line-1')).toEqual([]);
});
const KEY = Buffer.alloc(32, 7).toString('base64');

test('DPS refusing a well-formed group is a 400 naming DPS’s reason; the ID stays free for the next request', async () => {
  dpsFault({ kind: 'status', status: 400, code: 400004 });
  const refusal = await createGroup(deps, request('int-line-2'), 'admin').catch((e: unknown) => e);
  expect(refusal).toBeInstanceOf(ValidationError);
  expect((refusal as Error).message).toMatch(
    /^DPS refused writing enrollment group int-line-2: Injected by the local stack \(fault plan\)\. \(HTTP 400, 400004\)$/,
  );
  expect(await stack.services.enrollments.getGroup('int-line-2')).toBeUndefined();
  // Another request for the ID (the operator corrected it) is not held off by the refused one.
  expect((await createGroup(deps, request('int-line-2', { site: 'b' }), 'admin')).kind).toBe('created');
});

test('DPS refusing the backend’s identity is a 503 naming DPS, never a 500', async () => {
  dpsFault({ kind: 'status', status: 403, code: 403002 });
  const refusal = await createGroup(deps, request('int-line-3'), 'admin').catch((e: unknown) => e);
  expect(refusal).toBeInstanceOf(UnavailableError);
  expect((refusal as Error).message).toMatch(/^DPS refused this backend's identity while writing enrollment group/);
  expect(await stack.services.enrollments.getGroup('int-line-3')).toBeUndefined();
});

test('a lost answer to the put: the same request again answers the group it made, audited once', async () => {
  dpsFault({ kind: 'resetAfterApply' });
  const lost = await createGroup(deps, request('int-line-4'), 'admin').catch((e: unknown) => e);
  expect(lost).toBeInstanceOf(UnavailableError);
  expect(faults().counts().byService.dps).toEqual({ resetAfterApply: 1 });
  expect(await createGroup(deps, request('int-line-4'), 'admin')).toMatchObject({
    kind: 'unchanged',
    group: { enrollmentGroupId: 'int-line-4', provisioningStatus: 'enabled' },
  });
  expect(await audits('int-line-4')).toHaveLength(1);
});

test('an X.509 group made, then the same request again: recognised by the CA DPS shows (its thumbprint), audited once', async () => {
  const ca = await issue({ subject: 'CN=Int Line CA', isCa: true });
  const parsed = parseGroupRequest('int-line-5', { attestation: { type: 'x509', caCertificate: ca.certPem } });
  if (!parsed.ok) throw new Error(parsed.reason);
  expect((await createGroup(deps, parsed.value, 'admin')).kind).toBe('created');
  // DPS answers the group with the certificate's info, not the certificate: the thumbprint is what is compared.
  const held = (await stack.services.enrollments.getGroup('int-line-5')) as EnrollmentGroup;
  expect(held.attestation.x509?.signingCertificates?.primary?.info?.sha256Thumbprint).toBeDefined();
  expect((await createGroup(deps, parsed.value, 'admin')).kind).toBe('unchanged');
  // Another CA under the same ID is another request: a conflict.
  const other = await issue({ subject: 'CN=Another CA', isCa: true });
  const second = parseGroupRequest('int-line-5', { attestation: { type: 'x509', caCertificate: other.certPem } });
  if (!second.ok) throw new Error(second.reason);
  expect((await createGroup(deps, second.value, 'admin')).kind).toBe('conflict');
  expect(await audits('int-line-5')).toHaveLength(1);
});
