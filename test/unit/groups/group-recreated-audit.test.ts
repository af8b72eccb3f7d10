/**
 * A group's creation record is filed under its claim's day with an
 * id from the request alone (`group.<id>.<digest>`). The claim outlives the group: when the group is deleted in DPS
 * (portal, CLI, another tool) and the same request is sent again — by another admin, days later — the claim is taken
 * as this request's own (same digest), the group is written to DPS again, and its record meets the first one's id in
 * the first one's partition (409): swallowed as a duplicate. A real change to DPS, by a different principal, is
 * nowhere in the audit. (Before the filing-day change a later day got its own record; the same day already lost it.)
 */
import { CONTAINERS } from '../../../shared/containers';
import type { EnrollmentGroup } from '../../../shared/dps-types';
import { createGroup, type GroupDeps, parseGroupRequest } from '../../../shared/groups';
import { CosmosGroupClaimRepository } from '../../../shared/groups/store/cosmos-group-claims';
import type { EnrollmentsPort } from '../../../shared/ports';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const DAY1 = Date.parse('2026-11-25T10:00:00Z');

test('a group deleted in DPS and created again through the API (another admin, days later) is audited again', async () => {
  const store = new MemoryStore(partitionKeys);
  const groups = new Map<string, EnrollmentGroup>();
  let etag = 0;
  let now = DAY1;
  const deps: GroupDeps = {
    enrollments: async () =>
      ({
        getGroup: async (id: string) => groups.get(id),
        putGroup: async (g: EnrollmentGroup) => {
          const written = { ...g, etag: `"e${++etag}"` };
          groups.set(g.enrollmentGroupId, written);
          return written;
        },
      }) as unknown as EnrollmentsPort,
    store: async () => store,
    groupClaims: async () => new CosmosGroupClaimRepository(store),
    webhookUrl: 'https://backend.example/api/allocate?code=k',
    now: () => new Date(now),
  };
  const parsed = parseGroupRequest('line-r', { attestation: { type: 'symmetricKey' } });
  if (!parsed.ok) throw new Error(parsed.reason);

  expect((await createGroup(deps, parsed.value, 'admin-a')).kind).toBe('created');
  groups.delete('line-r'); // deleted in DPS outside the backend
  now += 3 * 86_400_000;
  expect((await createGroup(deps, parsed.value, 'admin-b')).kind).toBe('created');
  expect(groups.get('line-r')?.etag).toBe('"e2"'); // DPS was written a second time

  const records = (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items as unknown as Array<{
    actor: string;
    action: string;
  }>;
  const creations = records.filter((r) => r.action === 'createEnrollmentGroup');
  // Each write to DPS is on record, with who made it.
  expect(creations.map((r) => r.actor).sort()).toEqual(['admin-a', 'admin-b']);
});
