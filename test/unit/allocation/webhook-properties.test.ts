/**
 * The webhook under random and mutated DPS requests (fast-check): DPS retries every answer ≥ 429 ten times, so
 * whatever arrives — the fixtures' exact shapes, mutated at any path, keys in another case, or garbage — the answer is a
 * 200 naming one of the request's linked hubs, a 4xx below 429 with a reason, or the deliberate 503; never another 5xx,
 * never a throw.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import fc from 'fast-check';

import { AllocationRuntime } from '../../../shared/allocation/runtime';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', name), 'utf8')) as Record<string, unknown>;
const FIXTURES = [
  'allocation-request.tpm-individual.json',
  'allocation-request.symmetric-key-group.json',
  'allocation-request.x509-group.reprovision.json',
].map(fixture);
const POLICY = fixture('allocation-policy.example.json');

let runtime: AllocationRuntime;
beforeAll(async () => {
  runtime = new AllocationRuntime({
    loadPolicy: async () => ({ doc: POLICY, version: 'test' }),
    denyList: async () => ({
      loadAll: async () => ({ entries: [{ kind: 'issuer', value: 'CN=Revoked CA', reason: 'leaked' }], position: 0 }),
      changesSince: async () => ({ present: [], absent: [], changed: [], position: 0 }),
    }),
    loadHubLoad: async () => new Map(),
    events: async () => ({ publish: async () => undefined, close: async () => undefined }),
  });
  await runtime.start();
});
afterAll(async () => {
  await runtime.stop();
});

/** Replaces the value at a random path of a request with a random JSON value. */
function mutate(request: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || typeof request !== 'object' || request === null) return value;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(request) ? [...request] : { ...(request as object) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return value;
  const key = keys[path[0] % keys.length];
  (copy as Record<string, unknown>)[key] = mutate((copy as Record<string, unknown>)[key], path.slice(1), value);
  return copy;
}

/** The key's letters flipped where the mask says so (`enrollmentGroup` → `EnrollmentGroup`). */
function flipCase(key: string, mask: boolean[]): string {
  const flip = (c: string) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase());
  return [...key].map((c, i) => (mask[i % mask.length] ? flip(c) : c)).join('');
}

/** Names the webhook reads, at any level: their other-case twins are what a case-insensitive reader would pick up. */
const READ_NAMES = [
  'individualEnrollment',
  'enrollmentGroup',
  'deviceRuntimeContext',
  'linkedHubs',
  'registrationId',
  'enrollmentGroupId',
  'currentIotHubHostName',
  'currentDeviceId',
  'initialTwin',
  'attestation',
  'tpm',
  'endorsementKey',
  'x509',
  'clientCertificate',
  'certificateInfo',
];

type Recase = { rename: true } | { rename: false; name: string; value: unknown };

/**
 * At a random path, an object's key in another case: an existing key renamed, or a read name's other-case twin added
 * beside whatever is there, holding a random value (JSON may carry both spellings).
 */
function recase(request: unknown, path: number[], mask: boolean[], change: Recase): unknown {
  if (typeof request !== 'object' || request === null) return request;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(request) ? [...request] : { ...(request as object) };
  const record = copy as Record<string, unknown>;
  const keys = Object.keys(copy);
  const key = path.length > 0 && keys.length > 0 ? keys[path[0] % keys.length] : undefined;
  if (key !== undefined && path.length > 1 && typeof record[key] === 'object' && record[key] !== null) {
    record[key] = recase(record[key], path.slice(1), mask, change);
    return copy;
  }
  if (Array.isArray(copy)) return copy;
  if (!change.rename) record[flipCase(change.name, mask)] = change.value;
  else if (key !== undefined) {
    const value = record[key];
    delete record[key];
    record[flipCase(key, mask)] = value;
  }
  return copy;
}

function check(request: unknown, answer: { status: number; body: unknown }) {
  if (answer.status === 200) {
    const hubs = (request as { linkedHubs: string[] }).linkedHubs;
    expect(hubs).toContain((answer.body as { iotHubHostName: string }).iotHubHostName);
  } else if (answer.status !== 503) {
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(429);
    expect((answer.body as { reason?: string }).reason).toEqual(expect.any(String));
  }
}

test('mutated DPS requests get a linked hub or a reasoned 4xx, never a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...FIXTURES),
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.jsonValue(),
      async (request, path, value) => {
        const mutated = mutate(request, path, value);
        check(mutated, await runtime.allocate(mutated));
      },
    ),
    { numRuns: 400 },
  );
});

test('requests with keys in another case get a linked hub or a reasoned 4xx, never a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...FIXTURES),
      fc.array(fc.nat(), { maxLength: 4 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      fc.oneof(
        fc.constant<Recase>({ rename: true }),
        fc.record({
          rename: fc.constant(false as const),
          name: fc.constantFrom(...READ_NAMES),
          value: fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom(...READ_NAMES), fc.jsonValue())),
        }),
      ),
      async (request, path, mask, change) => {
        const recased = recase(request, path, mask, change);
        check(recased, await runtime.allocate(recased));
      },
    ),
    { numRuns: 1000 },
  );
});

test.each([
  [0, { EnrollmentGroup: {} }],
  [0, { EnrollmentGroup: { enrollmentGroupId: 42 } }],
  [0, { EnrollmentGroup: { enrollmentGroupId: 'g', initialTwin: 'not a twin' } }],
  [1, { IndividualEnrollment: { registrationId: 42 } }],
  [2, { DeviceRuntimeContext: { registrationId: 7 }, LinkedHubs: 'none' }],
])('a key in another case beside what the schema checked changes nothing (%#)', async (fixture, extra) => {
  const answer = await runtime.allocate({ ...FIXTURES[fixture], ...extra });
  const { status, body } = await runtime.allocate(FIXTURES[fixture]);
  expect({ status: answer.status, body: answer.body }).toEqual({ status, body });
});

test('a request with only a key in another case is a 400 that says what is missing', async () => {
  const { enrollmentGroup, ...rest } = FIXTURES[1];
  const answer = await runtime.allocate({ ...rest, EnrollmentGroup: enrollmentGroup });
  expect(answer.status).toBe(400);
  expect((answer.body as { reason: string }).reason).toMatch(/Neither individualEnrollment nor enrollmentGroup/);
});

test('arbitrary JSON gets a reasoned 4xx', async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (body) => {
      const answer = await runtime.allocate(body);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(429);
    }),
    { numRuns: 200 },
  );
});

test.each([
  [{ enrollmentGroup: {} }, /\/enrollmentGroup must have required property 'enrollmentGroupId'/],
  [
    { deviceRuntimeContext: { registrationId: 'x', tpm: { endorsementKey: 7 } } },
    /\/deviceRuntimeContext\/tpm\/endorsementKey must be string,null/,
  ],
  [
    { deviceRuntimeContext: { registrationId: 'x', x509: { sha1Thumbprint: 1 } } },
    /\/deviceRuntimeContext\/x509\/sha1Thumbprint must be string,null/,
  ],
  [
    { deviceRuntimeContext: { registrationId: 'x', x509: { issuerName: ' '.repeat(100_000) } } },
    /\/deviceRuntimeContext\/x509\/issuerName must NOT have more than 1024 characters/,
  ],
  [{ linkedHubs: ['hub one'] }, /\/linkedHubs\/0 must match pattern/],
])('a malformed field is a 400 that names its path (%#)', async (change, reason) => {
  const request = { ...FIXTURES[1], ...change };
  const answer = await runtime.allocate(request);
  expect(answer.status).toBe(400);
  expect((answer.body as { reason: string }).reason).toMatch(reason);
});
