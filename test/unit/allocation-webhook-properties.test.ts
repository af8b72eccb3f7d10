/**
 * The webhook under random and mutated DPS requests (fast-check): DPS retries every answer ≥ 429 ten times, so
 * whatever arrives — the fixtures' exact shapes, mutated at any path, or garbage — the answer is a 200 naming one of
 * the request's linked hubs, a 4xx below 429 with a reason, or the deliberate 503; never another 5xx, never a throw.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import fc from 'fast-check';

import { AllocationRuntime } from '../../shared/use-cases/allocation-runtime';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8')) as Record<string, unknown>;
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
