/**
 * The registration-record step deletes several records at once (DPS has no bulk delete of them). Over in-memory
 * repositories and a scripted DPS on a manual clock: one record's lost answer is judged on that record alone, never
 * on another's sent beside it; and under a seeded plan of lost answers, failures, throttling and an audit create whose
 * answer was lost, run share after share (DPS found down mid-batch is waited for), every record is deleted once and
 * audited once, and the step ends done with its count exact.
 */
import { CONTAINERS } from '../../../shared/containers';
import { ConflictError, NotFoundError, ThrottledError, TransientError } from '../../../shared/errors';
import { auditIdOf, type IncidentDeps } from '../../../shared/incidents/deps';
import type { Incident } from '../../../shared/incidents/rules/model';
import { type Target } from '../../../shared/incidents/rules/resolution';
import { type StepState } from '../../../shared/incidents/rules/step-state';
import { RUNNERS } from '../../../shared/incidents/steps';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import type { EnrollmentsPort } from '../../../shared/ports';
import { manualClock } from '../../support/manual-clock';
import { MemoryStore } from '../../support/memory-store';
import { runningIncident } from '../../support/received-incidents';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const T0 = Date.parse('2026-11-25T10:00:00Z');

/** A seeded generator (mulberry32): the same draws on every machine. */
function seeded(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lets the other calls in flight run between the steps of one call (no timers: the order is the same every run). */
const yieldTurns = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

type Fault = 'lostAfterApply' | 'failedBefore' | 'throttled' | undefined;

/** DPS's registration records, deleting as told; counts every delete it applies and the calls in flight at once. */
function scriptedDps(records: string[], faultOf: (id: string, attempt: number) => Fault, turns: () => number) {
  const held = new Set(records);
  const applied = new Map<string, number>();
  const attempts = new Map<string, number>();
  const seen = { inFlight: 0, maxInFlight: 0, faults: 0 };
  const port = {
    async deleteRegistrationState(id: string) {
      seen.inFlight++;
      seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
      try {
        const attempt = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, attempt);
        await yieldTurns(turns());
        const fault = faultOf(id, attempt);
        if (fault) seen.faults++;
        if (fault === 'failedBefore') throw new TransientError('503 before applying', 503);
        if (fault === 'throttled') throw new ThrottledError('429', 1000, 429001);
        if (!held.delete(id)) throw new NotFoundError(`registration ${id} not found`);
        applied.set(id, (applied.get(id) ?? 0) + 1);
        await yieldTurns(turns());
        if (fault === 'lostAfterApply')
          throw new TransientError('connection reset after the delete applied', undefined);
      } finally {
        seen.inFlight--;
      }
    },
  } as unknown as EnrollmentsPort;
  return { port, held, applied, seen };
}

async function setup(targets: Target[][], dps: EnrollmentsPort) {
  const store = new MemoryStore(partitionKeys);
  const repo = new CosmosIncidentRepository(store);
  const clock = manualClock(T0);
  const total = targets.flat().length;
  await runningIncident(
    repo,
    'inc-r',
    [{ kind: 'registrations', state: 'running', done: 0, total, page: 0, offset: 0, errors: [] }],
    targets,
  );
  const deps = {
    incidents: async () => repo,
    store: async () => store,
    enrollments: async () => dps,
    clock,
    // No real waits: a retry's backoff or Retry-After moves the manual clock; its jitter drawn from a seed.
    retry: { sleep: async (ms: number) => clock.advance(ms), random: seeded(7), attempts: 8, transientAttempts: 4 },
  } as unknown as IncidentDeps;
  const audits = async () =>
    (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items as unknown as Array<{
      id: string;
      action: string;
      target: { id: string };
      before: unknown;
    }>;
  const read = async () => (await repo.get('inc-r')) as Incident;
  return { store, repo, deps, clock, audits, read };
}

/** Shares of the step, one after another, each after the wait the last one recorded; answers how many waited. */
async function runToEnd(s: Awaited<ReturnType<typeof setup>>): Promise<number> {
  let waited = 0;
  for (let shares = 1; ; shares++) {
    const step = ((await s.read()).steps as StepState[])[0];
    if (step.waiting) {
      waited++;
      s.clock.advance(Date.parse(step.waiting.until) - s.clock.millis());
    }
    if (await RUNNERS.registrations(s.deps, await s.read(), 0, s.clock.millis() + 60_000)) return waited;
    if (shares >= 200) throw new Error('the step never ended');
  }
}

const target = (i: number): Target => ({
  registrationId: `dev-${i}`,
  deviceId: `dev-${i}`,
  hub: 'hub-1',
  via: 'group',
});

test('one record’s lost answer is its own: a record sent beside it and never there is judged “not found”', async () => {
  // dev-0's first delete applies and its answer is lost; dev-1 was never registered. Both go at once.
  const dps = scriptedDps(
    ['dev-0'],
    (id, attempt) => (id === 'dev-0' && attempt === 1 ? 'lostAfterApply' : undefined),
    () => 3,
  );
  const s = await setup([[target(0), target(1)]], dps.port);
  const incident = await s.read();
  expect(await RUNNERS.registrations(s.deps, incident, 0, T0 + 60_000)).toBe(true);
  expect(dps.seen.maxInFlight).toBe(2);
  const byId = new Map((await s.audits()).map((a) => [a.target.id, a.before]));
  expect(byId.get('dev-0')).toEqual({ registered: true, answerLost: true });
  expect(byId.get('dev-1')).toEqual({ registered: 'notFound' });
  expect([...dps.applied]).toEqual([['dev-0', 1]]);
});

test('under seeded lost answers, failures, throttling and a lost audit answer: each record deleted once, audited once', async () => {
  const N = 230; // five pages of 46: batches of the step cut across pages
  const ids = Array.from({ length: N }, (_, i) => `dev-${i}`);
  const pages = Array.from({ length: 5 }, (_, p) => ids.slice(p * 46, p * 46 + 46).map((_, i) => target(p * 46 + i)));
  const random = seeded(23);
  const turns = seeded(29);
  // Each try draws: 8 % lost after applying, 8 % failed before, 4 % throttled. Which call draws which is not asserted.
  const dps = scriptedDps(
    ids,
    () => {
      const r = random();
      return r < 0.08 ? 'lostAfterApply' : r < 0.16 ? 'failedBefore' : r < 0.2 ? 'throttled' : undefined;
    },
    () => Math.floor(turns() * 6),
  );
  const s = await setup(pages, dps.port);
  // The audit store loses the answer to every seventh create it applies; its retry meets 409 (the adapter's way).
  const audit = s.store.container(CONTAINERS.audit.name);
  const realCreate = audit.create.bind(audit);
  let creates = 0;
  audit.create = async (doc) => {
    const written = await realCreate(doc);
    if (++creates % 7 === 0) throw new ConflictError('conflict (the retry of a create whose answer was lost)', 409);
    return written;
  };

  await runToEnd(s);

  expect(dps.seen.maxInFlight).toBeGreaterThan(1);
  expect(dps.seen.faults).toBeGreaterThan(0);
  expect(dps.held.size).toBe(0);
  expect([...dps.applied.values()].every((n) => n === 1)).toBe(true);
  expect(dps.applied.size).toBe(N);
  const records = (await s.audits()).filter((a) => a.action === 'deleteRegistration');
  expect(records).toHaveLength(N);
  expect(new Set(records.map((r) => r.id))).toEqual(
    new Set(ids.map((id) => auditIdOf('inc-r', 'registration', id, 'deleted'))),
  );
  const step = ((await s.read()).steps as StepState[])[0];
  expect(step).toMatchObject({ done: N, total: N, page: 5, offset: 0, errors: [] });
  expect(step.waiting).toBeUndefined();
});

test('DPS down mid-batch: the step waits, keeps only whole batches, and goes on once DPS is back', async () => {
  const N = 120;
  const ids = Array.from({ length: N }, (_, i) => `dev-${i}`);
  let answered = 0;
  let down = false;
  // DPS goes down after answering 70 deletes (in the second batch of 50), for good until the test brings it back.
  const dps = scriptedDps(
    ids,
    () => {
      if (answered++ >= 70) down = true;
      return down ? 'failedBefore' : undefined;
    },
    () => 2,
  );
  const s = await setup([ids.map((_, i) => target(i))], dps.port);
  expect(await RUNNERS.registrations(s.deps, await s.read(), 0, T0 + 60_000)).toBe(false);
  const waiting = ((await s.read()).steps as StepState[])[0];
  // The first batch checkpointed; the second, cut short, is not counted (what it did is done again).
  expect(waiting).toMatchObject({ done: 50, offset: 50, errors: [] });
  expect(waiting.waiting).toMatchObject({ tries: 1, reason: expect.stringContaining('503 before applying') });
  expect(dps.seen.maxInFlight).toBeGreaterThan(1);
  down = false;
  answered = -Infinity;
  expect(await runToEnd(s)).toBe(1);
  expect(dps.held.size).toBe(0);
  expect([...dps.applied.values()].every((n) => n === 1)).toBe(true);
  const records = (await s.audits()).filter((a) => a.action === 'deleteRegistration');
  expect(new Set(records.map((r) => r.target.id)).size).toBe(N);
  expect(records).toHaveLength(N);
  expect(((await s.read()).steps as StepState[])[0]).toMatchObject({ done: N, offset: 0, page: 1, errors: [] });
});
