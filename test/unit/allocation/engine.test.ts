/** The policy engine on DPS's exact request shapes: rules, pools, stickiness, capacity, templates, the deny list. */
import { type AllocationRequest, parseAllocationRequest } from '../../../shared/allocation/rules/contract';
import { type DenyEntry, snapshotOf } from '../../../shared/allocation/rules/deny-list';
import { decide, type Snapshots } from '../../../shared/allocation/rules/engine';
import { compilePolicy, PolicyError } from '../../../shared/allocation/rules/policy';
import { fixture } from './contract.test';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const policy = compilePolicy(fixture('allocation-policy.example.json'));
const fresh = (entries: DenyEntry[] = [], load: Array<[string, number]> = []): Snapshots => ({
  deny: snapshotOf(entries, NOW - 1000),
  hubLoad: new Map(load),
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests edit arbitrary fixture JSON in place
function request(file: string, edit: (r: Record<string, any>) => void = () => undefined): AllocationRequest {
  const body = fixture(file);
  edit(body);
  const parsed = parseAllocationRequest(body);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

test('a TPM device of the maker’s EU lot goes to the EU pool by rule, with its twin and payload rendered and merged', () => {
  const outcome = decide(request('allocation-request.tpm-individual.json'), policy, fresh(), NOW);
  if (outcome.kind !== 'allocate') throw new Error(outcome.reason);
  expect(outcome.rule).toBe('acme-gateways-eu');
  expect(['hub-eu-1.azure-devices.net', 'hub-eu-2.azure-devices.net']).toContain(outcome.response.iotHubHostName);
  expect(outcome.response.initialTwin).toEqual({
    tags: { manufacturer: 'acme-tpm', lot: 'L2023-47', model: 'dtmi:acme:gw400;2', tenant: 'acme' },
    properties: { desired: { firmwareChannel: 'stable' } },
  });
  expect(outcome.response.payload).toEqual({
    welcome: '3xqbpd7z4jnpgdyytgmmp4tl4bfmq6cqhpdmxskd2hs7ygvgudka',
    telemetryEndpoint: 'eu',
  });
  expect(outcome.candidates.find((c) => c.hostName === 'hub-us-1.azure-devices.net')).toBeUndefined();
});

test('re-provisioning is sticky under a sticky rule, and moves when its hub leaves the pool', () => {
  const sticky = decide(request('allocation-request.x509-group.reprovision.json'), policy, fresh(), NOW);
  expect(sticky).toMatchObject({
    kind: 'allocate',
    rule: 'contoso-line-7',
    response: { iotHubHostName: 'hub-eu-2.azure-devices.net' },
    reason: expect.stringMatching(/sticky/),
  });
  const moved = decide(
    request('allocation-request.x509-group.reprovision.json', (r) => {
      r.deviceRuntimeContext.currentIotHubHostName = 'hub-us-1.azure-devices.net';
    }),
    policy,
    fresh(),
    NOW,
  );
  expect(moved).toMatchObject({ kind: 'allocate', response: { iotHubHostName: expect.stringMatching(/hub-eu-/) } });
});

test('a full hub takes no new devices but keeps its own; a hub out of rotation takes none', () => {
  const doc = fixture('allocation-policy.example.json');
  doc.pools.eu.hubs = [
    { hostName: 'hub-eu-1.azure-devices.net', enabled: false },
    { hostName: 'hub-eu-2.azure-devices.net', capacity: 10 },
  ];
  const p = compilePolicy(doc);
  const full = fresh([], [['hub-eu-2.azure-devices.net', 10]]);
  const fresh1 = decide(request('allocation-request.tpm-individual.json'), p, full, NOW, true);
  expect(fresh1).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/no hub that can take/) });
  if (fresh1.kind === 'invalid')
    expect(fresh1.candidates?.map((c) => c.skipped)).toEqual([
      'out of rotation (enabled: false)',
      'full (10 of 10 devices)',
    ]);
  const staying = decide(request('allocation-request.x509-group.reprovision.json'), p, full, NOW);
  expect(staying).toMatchObject({ kind: 'allocate', response: { iotHubHostName: 'hub-eu-2.azure-devices.net' } });
});

test('a rule whose pool holds no linked hub is a 400 with the reason', () => {
  const outcome = decide(
    request('allocation-request.symmetric-key-group.json', (r) => {
      r.deviceRuntimeContext.payload = { region: 'us' };
    }),
    policy,
    fresh(),
    NOW,
  );
  expect(outcome).toMatchObject({
    kind: 'invalid',
    reason: 'rule everything-us names only hubs that are not linked (hub-us-1.azure-devices.net)',
  });
});

test('with no policy, devices spread over every linked hub', () => {
  const outcome = decide(request('allocation-request.symmetric-key-group.json'), undefined, fresh(), NOW);
  expect(outcome).toMatchObject({ kind: 'allocate', rule: 'default' });
});

test.each<[string, DenyEntry]>([
  ['registration ID', { kind: 'registrationId', value: 'LINE7-SENSOR-0042', reason: 'stolen', incidentId: 'inc-1' }],
  [
    'certificate thumbprint',
    { kind: 'thumbprint', value: '8c:0d:4b:1f:2a:3e:5c:6d:7e:8f:9a:0b:1c:2d:3e:4f:5a:6b:7c:8d', reason: 'key leaked' },
  ],
  ['issuer', { kind: 'issuer', value: 'cn=Contoso Line 7 Intermediate,o=Contoso', reason: 'CA compromised' }],
  ['enrollment group', { kind: 'enrollmentGroupId', value: 'contoso-line-7', reason: 'lot recalled' }],
])('a device revoked by %s is denied with the reason', (_label, entry) => {
  const outcome = decide(request('allocation-request.x509-group.reprovision.json'), policy, fresh([entry]), NOW);
  expect(outcome).toMatchObject({ kind: 'deny', entry });
  expect(outcome.reason).toContain(entry.reason);
});

test('a revoked endorsement key is denied', () => {
  const ek = fixture('allocation-request.tpm-individual.json').deviceRuntimeContext.tpm.endorsementKey;
  expect(
    decide(
      request('allocation-request.tpm-individual.json'),
      policy,
      fresh([{ kind: 'endorsementKey', value: ek, reason: 'lot recalled' }]),
      NOW,
    ).kind,
  ).toBe('deny');
});

test('a deny list older than the bound fails closed (503), or open when so configured', () => {
  const stale: Snapshots = { deny: snapshotOf([], NOW - 301_000), hubLoad: new Map() };
  expect(decide(request('allocation-request.tpm-individual.json'), policy, stale, NOW)).toMatchObject({
    kind: 'unavailable',
    reason: expect.stringMatching(/301 s old/),
  });
  const open = compilePolicy({
    ...fixture('allocation-policy.example.json'),
    denyList: { maxAgeSeconds: 300, failClosed: false },
  });
  expect(decide(request('allocation-request.tpm-individual.json'), open, stale, NOW).kind).toBe('allocate');
  const atTheBound: Snapshots = { deny: snapshotOf([], NOW - 300_000), hubLoad: new Map() };
  expect(decide(request('allocation-request.tpm-individual.json'), policy, atTheBound, NOW).kind).toBe('allocate');
});

test('a stale deny list still refuses what it names (403) and what no hub could take (400): only hubs wait (503)', () => {
  const entry: DenyEntry = {
    kind: 'registrationId',
    value: 'LINE7-SENSOR-0042',
    reason: 'stolen',
    incidentId: 'inc-1',
  };
  const stale: Snapshots = { deny: snapshotOf([entry], NOW - 3_600_000), hubLoad: new Map() };
  expect(decide(request('allocation-request.x509-group.reprovision.json'), policy, stale, NOW)).toMatchObject({
    kind: 'deny',
    entry,
  });
  const unlinked = request('allocation-request.symmetric-key-group.json', (r) => {
    r.deviceRuntimeContext.payload = { region: 'us' };
  });
  expect(decide(unlinked, policy, stale, NOW)).toMatchObject({
    kind: 'invalid',
    reason: expect.stringMatching(/names only hubs that are not linked/),
  });
  expect(decide(request('allocation-request.tpm-individual.json'), policy, stale, NOW)).toMatchObject({
    kind: 'unavailable',
    reason: 'deny list snapshot is 3600 s old (bound 300 s): failing closed, DPS will retry',
  });
  // An instance that never reached the store says so, rather than an age counted from 1970.
  const never: Snapshots = { deny: snapshotOf([], 0), hubLoad: new Map() };
  expect(decide(request('allocation-request.tpm-individual.json'), policy, never, NOW)).toMatchObject({
    kind: 'unavailable',
    reason: expect.stringMatching(/^no deny list snapshot has been loaded yet/),
  });
});

test('an invalid policy is refused at load with every problem and where it is', () => {
  const doc = fixture('allocation-policy.example.json');
  doc.rules[0].pool = 'asia';
  doc.rules[1].match.registrationIdPattern = '([';
  doc.pools.eu.hubs[0].weight = 5000;
  expect(() => compilePolicy(doc)).toThrow(PolicyError);
  try {
    compilePolicy(doc);
  } catch (err) {
    const problems = (err as PolicyError).problems.join('\n');
    expect(problems).toMatch(/\/pools\/eu\/hubs\/0\/weight must be <= 1000/);
    expect(problems).toMatch(/\/rules\/1\/match\/registrationIdPattern is not a regular expression/);
  }
  const unknownPool = fixture('allocation-policy.example.json');
  unknownPool.rules[0].pool = 'asia';
  expect(() => compilePolicy(unknownPool)).toThrow(/\/rules\/0 names pool "asia", which is not defined/);
});

test('a rule can route on the ADR certificate policy the enrollment names (DPS 2026-11-01), compared without case', () => {
  const doc = fixture('allocation-policy.example.json');
  doc.rules.unshift({
    name: 'issued-certs-us',
    match: { certificatePolicyName: ['Demo-Policy', 'lab-7d'] },
    pool: 'us',
  });
  const p = compilePolicy(doc);
  const named = (name?: string) =>
    request('allocation-request.tpm-individual.json', (r) => {
      if (name)
        Object.assign(r.individualEnrollment, {
          namespaceName: 'ns-1',
          certificateAuthorityName: 'ica',
          certificatePolicyName: name,
        });
    });
  expect(decide(named('demo-policy'), p, fresh(), NOW)).toMatchObject({
    kind: 'allocate',
    rule: 'issued-certs-us',
    response: { iotHubHostName: 'hub-us-1.azure-devices.net' },
  });
  // Another policy, or none (an older api-version shows none): the next rules decide as before.
  expect(decide(named('other-policy'), p, fresh(), NOW)).toMatchObject({ rule: 'acme-gateways-eu' });
  expect(decide(named(), p, fresh(), NOW)).toMatchObject({ rule: 'acme-gateways-eu' });
  // The request schema caps the name like every field the rules read.
  expect(
    parseAllocationRequest({
      ...fixture('allocation-request.tpm-individual.json'),
      individualEnrollment: { registrationId: 'x', certificatePolicyName: 'p'.repeat(64) },
    }),
  ).toMatchObject({ ok: false, reason: expect.stringMatching(/certificatePolicyName/) });
});
