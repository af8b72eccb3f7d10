/**
 * Groups an operator creates: parsed strictly, written with DPS 2026-11-01's three names when a policy is named (and
 * the webhook told under 2026-11-01), the policy checked against the administered namespace and ADR first; the same
 * request again answers the group it made, another group under the ID is a conflict; audited once.
 */
import { issue } from '../../../dev/pki';
import type { DeviceRegistryPort } from '../../../shared/certificates';
import { CONTAINERS } from '../../../shared/containers';
import type { EnrollmentGroup } from '../../../shared/dps-types';
import { ValidationError } from '../../../shared/errors';
import { createGroup, type GroupDeps, parseGroupRequest } from '../../../shared/groups';
import { groupOf } from '../../../shared/groups/rules/group';
import { CosmosGroupClaimRepository } from '../../../shared/groups/store/cosmos-group-claims';
import type { EnrollmentsPort } from '../../../shared/ports';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const WEBHOOK = 'https://backend.example/api/allocate?code=k';

test('the body is read strictly, with the reason', async () => {
  const ca = await issue({ subject: 'CN=Line CA', isCa: true });
  const leaf = await issue({ subject: 'CN=dev', issuer: ca });
  const refused = (id: string, body: unknown) => {
    const parsed = parseGroupRequest(id, body);
    return parsed.ok ? 'accepted' : parsed.reason;
  };
  expect(refused('Line-9', { attestation: { type: 'symmetricKey' } })).toMatch(/lower-case/);
  expect(refused('line-9', { attestation: { type: 'tpm' } })).toMatch(/attestation must be/);
  expect(refused('line-9', { attestation: { type: 'symmetricKey' }, webhookUrl: 'x' })).toMatch(
    /unknown fields: webhookUrl/,
  );
  expect(refused('line-9', { attestation: { type: 'x509', caCertificate: leaf.certPem } })).toMatch(/not a CA/);
  expect(refused('line-9', { attestation: { type: 'x509', caCertificate: ca.certPem + ca.certPem } })).toMatch(
    /several/,
  );
  expect(refused('line-9', { attestation: { type: 'symmetricKey' }, certificatePolicy: 'ns/ca' })).toMatch(
    /namespace\/certificateAuthority\/policy/,
  );
  expect(refused('line-9', { attestation: { type: 'symmetricKey' }, tags: { createdByRequest: 'x' } })).toMatch(
    /not allowed/,
  );
  expect(refused('line-9', { attestation: { type: 'x509', caCertificate: ca.certPem }, tags: { site: 'a' } })).toBe(
    'accepted',
  );
});

test('a policy is written as the three names, and the webhook is told under 2026-11-01', () => {
  const parsed = parseGroupRequest('line-9', {
    attestation: { type: 'symmetricKey' },
    certificatePolicy: 'fleet-ns/ica-1/policy-1',
  });
  if (!parsed.ok) throw new Error(parsed.reason);
  expect(groupOf(parsed.value, WEBHOOK, 'marker-1')).toMatchObject({
    namespaceName: 'fleet-ns',
    certificateAuthorityName: 'ica-1',
    certificatePolicyName: 'policy-1',
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: WEBHOOK, apiVersion: '2026-11-01' },
    initialTwin: { tags: { createdByRequest: 'marker-1' } },
  });
  const plain = parseGroupRequest('line-8', { attestation: { type: 'symmetricKey' } });
  if (!plain.ok) throw new Error(plain.reason);
  const group = groupOf(plain.value, WEBHOOK, 'marker-2');
  expect(group.customAllocationDefinition?.apiVersion).toBe('2021-10-01');
  expect(group).not.toHaveProperty('namespaceName');
});

function setup(policyExists = true) {
  const groups = new Map<string, EnrollmentGroup>();
  const store = new MemoryStore(partitionKeys);
  const deps: GroupDeps = {
    enrollments: async () =>
      ({
        getGroup: async (id: string) => groups.get(id),
        putGroup: async (g: EnrollmentGroup) => (groups.set(g.enrollmentGroupId, g), g),
      }) as unknown as EnrollmentsPort,
    store: async () => store,
    groupClaims: async () => new CosmosGroupClaimRepository(store),
    webhookUrl: WEBHOOK,
    deviceRegistry: async () =>
      ({
        certificatePolicy: async () => (policyExists ? { validityPeriodInDays: 30 } : undefined),
      }) as unknown as DeviceRegistryPort,
    adrNamespace: 'fleet-ns',
  };
  const audits = async () => (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items;
  return { groups, deps, audits };
}

const request = (id: string, certificatePolicy = 'fleet-ns/ica-1/policy-1') => {
  const parsed = parseGroupRequest(id, { attestation: { type: 'symmetricKey' }, certificatePolicy });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
};

test('created once; the same request again answers it (audited once); another group under the ID is a conflict', async () => {
  const { groups, deps, audits } = setup();
  const first = await createGroup(deps, request('line-9'), 'admin-oid');
  expect(first).toEqual({
    kind: 'created',
    group: {
      enrollmentGroupId: 'line-9',
      attestation: 'symmetricKey',
      certificatePolicy: 'fleet-ns/ica-1/policy-1',
      webhookApiVersion: '2026-11-01',
      provisioningStatus: 'enabled',
    },
  });
  expect(JSON.stringify(first)).not.toContain('code=k'); // the webhook's key never goes back
  expect((await createGroup(deps, request('line-9'), 'admin-oid')).kind).toBe('unchanged');
  expect(await audits()).toHaveLength(1);
  groups.set('taken', { enrollmentGroupId: 'taken', attestation: { type: 'symmetricKey' } });
  expect(await createGroup(deps, request('taken'), 'admin-oid')).toMatchObject({ kind: 'conflict' });
});

test('a policy of another namespace, or one ADR does not hold, is refused before DPS is written', async () => {
  const other = setup();
  const refusal = await createGroup(other.deps, request('line-7', 'other-ns/ica-1/policy-1'), 'a').catch((e) => e);
  expect(refusal).toBeInstanceOf(ValidationError);
  expect(refusal.message).toMatch(/policy of namespace other-ns: DPS is linked to fleet-ns/);
  const missing = setup(false);
  await expect(createGroup(missing.deps, request('line-7'), 'a')).rejects.toThrow(
    /does not exist in Azure Device Registry/,
  );
  expect([...other.groups.keys(), ...missing.groups.keys()]).toEqual([]);
});
