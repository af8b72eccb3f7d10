/**
 * REVIEW (medium): PUT /api/enrollment-groups/{id}.
 *  1. The request tag is a bare sha256 of the request: anyone who can write DPS and can guess the request (a
 *     symmetric-key group is just its ID) pre-creates the group with *their* keys / webhook / no policy and the tag;
 *     the backend answers 200 "unchanged", describes the group it was asked for, and audits createEnrollmentGroup.
 *  2. get → put without an etag: a group written between the two (here: the containment's disabled
 *     `disallow-ca-<sha256>` group) is overwritten with an *enabled* group; the route also lets an admin name IDs of
 *     the reserved `disallow-ca-` prefix at all.
 *
 * The reviewer's test (session 7), kept asserting the attacks fail. Adapted: the fake DPS answers a put without an
 * etag that names an existing group 409, as DPS does (see shared/groups/create.ts) — the race of case 3 is then closed
 * by the put itself, not by reading twice; and each case also checks that nothing was audited as the backend's.
 */
import { CONTAINERS } from '../../../shared/containers';
import type { EnrollmentGroup } from '../../../shared/dps-types';
import { ConflictError } from '../../../shared/errors';
import { createGroup, type GroupDeps, parseGroupRequest } from '../../../shared/groups';
import { REQUEST_TAG, requestDigest } from '../../../shared/groups/rules/group';
import { CosmosGroupClaimRepository } from '../../../shared/groups/store/cosmos-group-claims';
import type { EnrollmentsPort } from '../../../shared/ports';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const WEBHOOK = 'https://backend.example/api/allocate?code=k';

const stores = new Map<GroupDeps, MemoryStore>();
const audits = async (d: GroupDeps) =>
  (await stores.get(d)!.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items;

function deps(groups: Map<string, EnrollmentGroup>, onGet?: (id: string) => void): GroupDeps {
  const store = new MemoryStore(partitionKeys);
  const made: GroupDeps = {
    enrollments: async () =>
      ({
        getGroup: async (id: string) => {
          const g = groups.get(id);
          onGet?.(id);
          return g;
        },
        // DPS: a put without If-Match over an existing group is refused, 409 "already exists".
        putGroup: async (g: EnrollmentGroup) => {
          if (groups.has(g.enrollmentGroupId) && !g.etag)
            throw new ConflictError(`Enrollment group ${g.enrollmentGroupId} already exists. (HTTP 409, 409201)`, 409);
          groups.set(g.enrollmentGroupId, { ...g, etag: '"1"' });
          return groups.get(g.enrollmentGroupId)!;
        },
      }) as unknown as EnrollmentsPort,
    store: async () => store,
    groupClaims: async () => new CosmosGroupClaimRepository(store),
    webhookUrl: WEBHOOK,
  };
  stores.set(made, store);
  return made;
}

test('a group someone else made with a guessed request tag is not taken as the one this request made', async () => {
  const parsed = parseGroupRequest('line-7', { attestation: { type: 'symmetricKey' } });
  if (!parsed.ok) throw new Error(parsed.reason);
  const groups = new Map<string, EnrollmentGroup>();
  // The attacker (DPS write, outside the backend) computes the tag — it is sha256 of public facts.
  groups.set('line-7', {
    enrollmentGroupId: 'line-7',
    attestation: {
      type: 'symmetricKey',
      symmetricKey: { primaryKey: 'attacker-known', secondaryKey: 'attacker-known' },
    },
    provisioningStatus: 'enabled',
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: 'https://attacker.example/allocate', apiVersion: '2021-10-01' },
    initialTwin: { tags: { [REQUEST_TAG]: requestDigest(parsed.value) } },
  } as unknown as EnrollmentGroup);
  const d = deps(groups);
  const result = await createGroup(d, parsed.value, 'admin-oid');
  // Failed before the fix: 'unchanged' (200), audited as created by the backend, though its webhook and keys are the attacker's.
  expect(result.kind).toBe('conflict');
  expect(groups.get('line-7')?.customAllocationDefinition?.webhookUrl).toBe('https://attacker.example/allocate');
  expect(await audits(d)).toEqual([]);
});

test('the reserved disallow-ca- prefix is refused, and a group written between the read and the put is not overwritten', async () => {
  const sha = 'A'.repeat(64);
  const id = `disallow-ca-${sha.toLowerCase()}`;
  const parsed = parseGroupRequest(id, { attestation: { type: 'symmetricKey' } });
  // Fails today: accepted.
  expect(parsed.ok).toBe(false);
  if (!parsed.ok) return;
  const groups = new Map<string, EnrollmentGroup>();
  // Containment writes its disabled disallow group right after the route's read.
  const race = (gid: string) =>
    groups.set(gid, {
      enrollmentGroupId: gid,
      provisioningStatus: 'disabled',
      attestation: { type: 'x509' },
      initialTwin: { tags: { disallowedByIncident: 'inc-1' } },
    } as unknown as EnrollmentGroup);
  const result = await createGroup(deps(groups, race), parsed.value, 'admin-oid');
  expect(result.kind).toBe('conflict');
  expect(groups.get(id)?.provisioningStatus).toBe('disabled');
});

test('a group another writer made between the read and the put is not overwritten (get → put has no etag)', async () => {
  const parsed = parseGroupRequest('line-5', { attestation: { type: 'symmetricKey' } });
  if (!parsed.ok) throw new Error(parsed.reason);
  const groups = new Map<string, EnrollmentGroup>();
  let raced = false;
  const race = (gid: string) => {
    if (raced) return;
    raced = true;
    groups.set(gid, { enrollmentGroupId: gid, provisioningStatus: 'disabled' } as unknown as EnrollmentGroup);
  };
  const d = deps(groups, race);
  const result = await createGroup(d, parsed.value, 'admin-oid');
  // Failed before the fix: 'created', the other writer's (disabled) group replaced by an enabled one.
  expect(result.kind).toBe('conflict');
  expect(groups.get('line-5')?.provisioningStatus).toBe('disabled');
  expect(await audits(d)).toEqual([]);
});
