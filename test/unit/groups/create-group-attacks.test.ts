/**
 * Creating a group, from the attacker's side and through the dependencies' failures (review findings 4 and 9b): a
 * group made beforehand passes for the backend's under no tag; one changed or made again since the backend wrote it
 * is not answered as its own; two requests through the backend never both write an ID; what containment writes cannot
 * be named; DPS or ADR refusing is a 400 or a 503 naming which and why, never a 500, and a refusal leaves the ID free.
 * A lost answer still ends with the request's own group, audited once. Over a fake DPS that behaves as DPS does (a put
 * without an etag over an existing group answers 409) and the memory store.
 */
import type { DeviceRegistryPort } from '../../../shared/certificates';
import { CONTAINERS } from '../../../shared/containers';
import type { EnrollmentGroup } from '../../../shared/dps-types';
import {
  AccessDeniedError,
  ConflictError,
  ServiceError,
  TransientError,
  UnavailableError,
  ValidationError,
} from '../../../shared/errors';
import { createGroup, type GroupDeps, type GroupRequest, parseGroupRequest } from '../../../shared/groups';
import { STALE_CLAIM_MS } from '../../../shared/groups/claim';
import {
  groupOf,
  notGroupOf,
  REQUEST_TAG,
  requestDigest,
  RESERVED_GROUP_PREFIX,
} from '../../../shared/groups/rules/group';
import { CosmosGroupClaimRepository } from '../../../shared/groups/store/cosmos-group-claims';
import { disallowGroupId } from '../../../shared/incidents/rules/target-actions';
import type { EnrollmentsPort } from '../../../shared/ports';
import { manualClock } from '../../support/manual-clock';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const WEBHOOK = 'https://backend.example/api/allocate?code=k';

type Fault = (op: 'get' | 'put', group?: EnrollmentGroup) => Error | 'applyThenLose' | undefined;

function setup(options: { fault?: Fault; policy?: () => Promise<unknown> } = {}) {
  const groups = new Map<string, EnrollmentGroup>();
  const store = new MemoryStore(partitionKeys);
  const clock = manualClock(Date.parse('2026-11-25T10:00:00Z'));
  let etags = 0;
  const puts: string[] = [];
  const deps: GroupDeps = {
    enrollments: async () =>
      ({
        getGroup: async (id: string) => {
          const f = options.fault?.('get');
          if (f instanceof Error) throw f;
          return groups.get(id);
        },
        putGroup: async (g: EnrollmentGroup) => {
          puts.push(g.enrollmentGroupId);
          const f = options.fault?.('put', g);
          if (f instanceof Error) throw f;
          if (groups.has(g.enrollmentGroupId) && !g.etag)
            throw new ConflictError(`Enrollment group ${g.enrollmentGroupId} already exists. (HTTP 409, 409201)`, 409);
          const stored = { ...g, etag: `"${++etags}"` };
          groups.set(g.enrollmentGroupId, stored);
          if (f === 'applyThenLose') throw new TransientError('connection lost: socket hang up', undefined);
          return stored;
        },
      }) as unknown as EnrollmentsPort,
    store: async () => store,
    groupClaims: async () => new CosmosGroupClaimRepository(store),
    webhookUrl: WEBHOOK,
    now: clock.now,
    deviceRegistry: async () =>
      ({
        certificatePolicy: options.policy ?? (async () => ({ validityPeriodInDays: 30 })),
      }) as unknown as DeviceRegistryPort,
    adrNamespace: 'fleet-ns',
  };
  const audits = async () => (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items;
  return { groups, deps, audits, clock, puts };
}

function request(id: string, body: object = { attestation: { type: 'symmetricKey' } }): GroupRequest {
  const parsed = parseGroupRequest(id, body);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

/** A group an attacker with DPS write made first: their keys, their webhook or ours, and a tag of their choosing. */
const planted = (id: string, tag: string, webhookUrl = WEBHOOK): EnrollmentGroup => ({
  enrollmentGroupId: id,
  attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: 'attacker', secondaryKey: 'attacker' } },
  provisioningStatus: 'enabled',
  allocationPolicy: 'custom',
  customAllocationDefinition: { webhookUrl, apiVersion: '2021-10-01' },
  initialTwin: { tags: { [REQUEST_TAG]: tag } },
});

test('a group made beforehand is a conflict whatever its tag — the request digest, another group’s marker, anything', async () => {
  const { groups, deps, audits, puts } = setup();
  // The marker of a group the backend made is readable in DPS: planting it on another ID gets nothing.
  await createGroup(deps, request('line-1'), 'admin');
  const seen = groups.get('line-1')!.initialTwin!.tags![REQUEST_TAG] as string;
  for (const [id, tag] of [
    ['line-2', requestDigest(request('line-2'))],
    ['line-3', seen],
    ['line-4', 'x'],
  ]) {
    groups.set(id, planted(id, tag));
    expect(await createGroup(deps, request(id), 'admin')).toMatchObject({
      kind: 'conflict',
      reason: expect.stringContaining('not made by this request'),
    });
    expect(groups.get(id)!.attestation.symmetricKey?.primaryKey).toBe('attacker');
  }
  expect(puts).toEqual(['line-1']);
  expect(await audits()).toHaveLength(1); // line-1's alone
});

test('a lost answer: the same request again answers the group it made, audited once', async () => {
  let lose = true;
  const { groups, deps, audits } = setup({
    fault: (op) => (op === 'put' && lose ? ((lose = false), 'applyThenLose') : undefined),
  });
  const first = await createGroup(deps, request('line-5'), 'admin').catch((e: unknown) => e);
  expect(first).toBeInstanceOf(UnavailableError); // 503: DPS may or may not have applied it
  expect((first as Error).message).toMatch(/DPS is unavailable while writing enrollment group line-5/);
  expect(groups.has('line-5')).toBe(true);
  expect(await createGroup(deps, request('line-5'), 'admin')).toMatchObject({ kind: 'unchanged' });
  expect(await audits()).toHaveLength(1);
});

test('our group changed, or deleted and made again with our marker (read in DPS), is not answered as ours', async () => {
  const { groups, deps } = setup();
  expect((await createGroup(deps, request('line-6'), 'admin')).kind).toBe('created');
  const ours = groups.get('line-6')!;
  // Made again by someone with DPS write: their keys, our marker and webhook — a new etag.
  groups.set('line-6', {
    ...planted('line-6', ours.initialTwin!.tags![REQUEST_TAG] as string),
    customAllocationDefinition: ours.customAllocationDefinition,
    etag: '"attacker"',
  });
  expect(await createGroup(deps, request('line-6'), 'admin')).toMatchObject({
    kind: 'conflict',
    reason: expect.stringContaining('written since'),
  });
});

test('a second, different request for an ID another holds is a conflict; a claim left by a dead request expires', async () => {
  let die = true;
  const { groups, deps, clock } = setup({
    fault: (op) =>
      op === 'put' && die ? ((die = false), new TransientError('connection lost', undefined)) : undefined,
  });
  // The first request claims the ID and dies before DPS took anything.
  await expect(createGroup(deps, request('line-8'), 'admin-a')).rejects.toBeInstanceOf(UnavailableError);
  expect(groups.has('line-8')).toBe(false);
  const other = request('line-8', { attestation: { type: 'symmetricKey' }, tags: { site: 'b' } });
  expect(await createGroup(deps, other, 'admin-b')).toMatchObject({
    kind: 'conflict',
    reason: expect.stringMatching(/being created by another request \(by admin-a/),
  });
  clock.advance(STALE_CLAIM_MS + 1);
  expect(await createGroup(deps, other, 'admin-b')).toMatchObject({ kind: 'created' });
  expect(groups.get('line-8')!.initialTwin!.tags).toMatchObject({ site: 'b' });
  // The first request, sent again now, finds another's group: a conflict, not an overwrite.
  expect((await createGroup(deps, request('line-8'), 'admin-a')).kind).toBe('conflict');
  expect(groups.get('line-8')!.initialTwin!.tags).toMatchObject({ site: 'b' });
});

test('DPS refusing the group is a 400 naming DPS and its reason, and leaves the ID free for a corrected request', async () => {
  let refuse = true;
  const { groups, deps } = setup({
    fault: (op) =>
      op === 'put' && refuse
        ? ((refuse = false),
          new ServiceError('The maximum number of enrollment groups was reached. (HTTP 400, 400004)', 400, 400004))
        : undefined,
  });
  const refusal = await createGroup(deps, request('line-9'), 'admin').catch((e: unknown) => e);
  expect(refusal).toBeInstanceOf(ValidationError);
  expect((refusal as Error).message).toBe(
    'DPS refused writing enrollment group line-9: The maximum number of enrollment groups was reached. (HTTP 400, 400004)',
  );
  const corrected = request('line-9', { attestation: { type: 'symmetricKey' }, tags: { retry: '1' } });
  expect((await createGroup(deps, corrected, 'admin')).kind).toBe('created');
  expect(groups.get('line-9')!.initialTwin!.tags).toMatchObject({ retry: '1' });
});

test.each([
  [
    'DPS refusing our identity',
    { fault: () => new AccessDeniedError('Unauthorized (HTTP 401, 401002)', 401) },
    503,
    /DPS refused this backend's identity while reading enrollment group line-10/,
  ],
  [
    'ADR refusing our identity',
    { policy: () => Promise.reject(new AccessDeniedError('GET …: AuthorizationFailed', 403, 'AuthorizationFailed')) },
    503,
    /Azure Device Registry refused this backend's identity while reading certificate policy fleet-ns\/ica-1\/p-1 \(HTTP 403\)/,
  ],
  [
    'ADR down after its retries',
    { policy: () => Promise.reject(new ServiceError('GET …: InternalServerError', 500)) },
    503,
    /Azure Device Registry is unavailable while reading certificate policy/,
  ],
  [
    'ADR refusing the names',
    { policy: () => Promise.reject(new ServiceError('GET …: InvalidResourceName', 400, 'InvalidResourceName')) },
    400,
    /Azure Device Registry refused reading certificate policy fleet-ns\/ica-1\/p-1: GET …: InvalidResourceName/,
  ],
])('%s is answered %s naming it, and nothing is written', async (_what, options, status, reason) => {
  const { deps, puts } = setup(options as Parameters<typeof setup>[0]);
  const body = { attestation: { type: 'symmetricKey' }, certificatePolicy: 'fleet-ns/ica-1/p-1' };
  const err = await createGroup(deps, request('line-10', body), 'admin').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(status === 503 ? UnavailableError : ValidationError);
  expect((err as Error).message).toMatch(reason);
  expect(puts).toEqual([]);
});

test('what containment writes cannot be named: its disallow groups’ prefix and its marker tags, in any case', () => {
  expect(disallowGroupId('AB'.repeat(32)).startsWith(RESERVED_GROUP_PREFIX)).toBe(true);
  const refused = (id: string, body: object) => {
    const parsed = parseGroupRequest(id, body);
    return parsed.ok ? 'accepted' : parsed.reason;
  };
  expect(refused(disallowGroupId('ab'.repeat(32)), { attestation: { type: 'symmetricKey' } })).toMatch(
    /are containment's/,
  );
  for (const tag of [
    'disallowedByIncident',
    'blockedByIncident',
    'disallowedCa',
    'DisallowedByIncident',
    'createdbyrequest',
  ])
    expect(refused('line-11', { attestation: { type: 'symmetricKey' }, tags: { [tag]: 'inc-1' } })).toMatch(
      /not allowed: the backend writes it/,
    );
  expect(refused('disallow-ca-line-1', { attestation: { type: 'symmetricKey' } })).toMatch(/containment's/);
  expect(refused('line-disallow-ca-1', { attestation: { type: 'symmetricKey' } })).toBe('accepted');
});

test('a group carrying our marker but not as written (another webhook, another tag) is not ours', () => {
  const asked = request('line-12', { attestation: { type: 'symmetricKey' }, tags: { site: 'a' } });
  const written = groupOf(asked, WEBHOOK, 'm-1');
  expect(notGroupOf(written, asked, WEBHOOK, 'm-1')).toBeUndefined();
  expect(notGroupOf(written, asked, WEBHOOK, 'm-2')).toBe('it was not made by this request');
  const elsewhere = {
    ...written,
    customAllocationDefinition: { webhookUrl: 'https://attacker.example/a', apiVersion: '2021-10-01' },
  };
  expect(notGroupOf(elsewhere, asked, WEBHOOK, 'm-1')).toMatch(/not allocated by this backend/);
  const retagged = { ...written, initialTwin: { tags: { ...written.initialTwin!.tags, site: 'b' } } };
  expect(notGroupOf(retagged, asked, WEBHOOK, 'm-1')).toBe('its tag site differs');
});

test('a request that failed before writing anything holds no claim: another request for the ID goes ahead at once', async () => {
  let refuse = true;
  const { deps } = setup({
    fault: (op) => (op === 'get' && refuse ? new AccessDeniedError('Unauthorized (HTTP 401, 401002)', 401) : undefined),
  });
  await expect(createGroup(deps, request('line-13'), 'admin-a')).rejects.toBeInstanceOf(UnavailableError);
  refuse = false;
  const other = request('line-13', { attestation: { type: 'symmetricKey' }, tags: { site: 'b' } });
  expect((await createGroup(deps, other, 'admin-b')).kind).toBe('created');
});
