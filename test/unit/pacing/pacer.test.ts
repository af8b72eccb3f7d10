/**
 * The pace at work: instances of the Pacer sharing one pace (an in-memory repository), DPS's port paced, and a DPS
 * modelled by the simulator's own token bucket (dev/sim/throttle.ts) on virtual time. Whatever DPS really allows —
 * less than configured, as much, more, or a bulk call counted once — the import reaches ≥ 0.9 of it and meets few
 * 429s. Time is virtual (test/support/virtual-time.ts): every figure is exact and the same on every machine.
 */
import { type BulkCounting, bulkOperations, TokenBucket } from '../../../dev/sim/throttle';
import { forEachLimited } from '../../../shared/concurrency';
import type { IndividualEnrollment } from '../../../shared/dps-types';
import { ThrottledError, TransientError } from '../../../shared/errors';
import { pacedEnrollments, Pacer, type PaceRepository } from '../../../shared/pacing';
import type { EnrollmentsPort } from '../../../shared/ports';
import { OutOfTimeError, retryThrottled } from '../../../shared/retry';
import { MemoryPaceRepository } from '../../support/memory-repositories';
import { type VirtualTime, virtualTime } from '../../support/virtual-time';

const KEY = 'pace.dps.test';
const CONFIGURED = 1000;

/** DPS's operations quota as the simulator keeps it, on virtual time; only bulk creates are called here. */
function modelledDps(vt: VirtualTime, perMinute: number, counting: BulkCounting, burstSeconds: number) {
  const bucket = new TokenBucket(perMinute, burstSeconds, vt.now);
  const seen = { calls: 0, throttled: 0, enrolled: 0 };
  const port = {
    async bulkEnrollments(_mode: string, enrollments: IndividualEnrollment[]) {
      seen.calls++;
      const taken = bucket.take(bulkOperations(counting, enrollments.length));
      if (!taken.ok) {
        seen.throttled++;
        throw new ThrottledError('throttled', taken.retryAfterSeconds * 1000, 429001);
      }
      seen.enrolled += enrollments.length;
      return { isSuccessful: true, errors: [] };
    },
  } as unknown as EnrollmentsPort;
  return { port, seen };
}

interface Run {
  ratio: number;
  throttled: number;
  calls: number;
  ceiling?: number;
  writes: number;
}

/**
 * `instances` processes with `workers` chunk workers each enroll `rows` rows in bulk calls of 10, each worker
 * spending `workMs` on its own between calls (the claims and the checkpoint), as the import worker does.
 */
async function importThrough(options: {
  realPerMinute: number;
  counting?: BulkCounting;
  burstSeconds?: number;
  rows: number;
  instances?: number;
  workers?: number;
  workMs?: number;
}): Promise<Run> {
  const { rows, instances = 2, workers = 8, workMs = 20, counting = 'perEnrollment', burstSeconds = 10 } = options;
  const vt = virtualTime(1_000_000);
  const dps = modelledDps(vt, options.realPerMinute, counting, burstSeconds);
  const paces = new MemoryPaceRepository();
  const pacers = Array.from(
    { length: instances },
    () =>
      new Pacer({
        paces: async () => paces,
        key: KEY,
        settings: { configuredPerMinute: CONFIGURED },
        now: vt.now,
        sleep: vt.sleep,
      }),
  );
  let left = rows;
  const batch = Array.from({ length: 10 }, (_, i) => ({ registrationId: `r${i}` }) as IndividualEnrollment);
  const worker = async (port: EnrollmentsPort) => {
    while (left > 0) {
      left -= 10;
      await retryThrottled(() => port.bulkEnrollments('create', batch), { sleep: vt.sleep, attempts: 100 });
      await vt.sleep(workMs);
    }
  };
  const started = vt.now();
  await vt.run(
    Promise.all(
      pacers.flatMap((pacer) => {
        const port = pacedEnrollments(dps.port, pacer);
        return Array.from({ length: workers }, () => worker(port));
      }),
    ),
  );
  const ceiling = options.realPerMinute * (counting === 'perCall' ? 10 : 1);
  const perMinute = dps.seen.enrolled / ((vt.now() - started) / 60_000);
  return {
    ratio: perMinute / ceiling,
    throttled: dps.seen.throttled,
    calls: dps.seen.calls,
    ceiling: paces.paces.get(KEY)?.ceilingPerMinute,
    writes: paces.writes,
  };
}

test.each([
  ['half the configured rate', 500, 'perEnrollment', 10_000],
  ['the configured rate', 1000, 'perEnrollment', 20_000],
  ['three times the configured rate', 3000, 'perEnrollment', 40_000],
  ['a bulk call counted once (ten times the enrollments)', 1000, 'perCall', 100_000],
] as const)('DPS allowing %s: ≥ 0.9 of it, few 429s, the ceiling learned', async (_name, real, counting, rows) => {
  const run = await importThrough({ realPerMinute: real, counting, rows });
  const ceiling = real * (counting === 'perCall' ? 10 : 1);
  expect(run.ratio).toBeGreaterThanOrEqual(0.9);
  // A few while it finds the ceiling, then one every few minutes as it probes for more (unpaced: most calls).
  expect(run.throttled).toBeLessThanOrEqual(25);
  expect(run.ceiling).toBeGreaterThanOrEqual(0.85 * ceiling);
  expect(run.ceiling).toBeLessThanOrEqual(1.2 * ceiling);
});

test('unpaced, the same import hammers DPS: a 429 for most calls (what the pace saves)', async () => {
  const vt = virtualTime(0);
  const dps = modelledDps(vt, 1000, 'perEnrollment', 10);
  let left = 2000;
  const batch = Array.from({ length: 10 }, (_, i) => ({ registrationId: `r${i}` }) as IndividualEnrollment);
  const worker = async () => {
    while (left > 0) {
      left -= 10;
      await retryThrottled(() => dps.port.bulkEnrollments('create', batch), { sleep: vt.sleep, attempts: 100 });
      await vt.sleep(20);
    }
  };
  await vt.run(Promise.all(Array.from({ length: 16 }, worker)));
  expect(dps.seen.throttled).toBeGreaterThan(dps.seen.calls / 2);
});

test('calls waiting together are leased together, each then goes at its own slot', async () => {
  const vt = virtualTime(0);
  const paces = new MemoryPaceRepository();
  const pacer = new Pacer({
    paces: async () => paces,
    key: KEY,
    settings: { configuredPerMinute: CONFIGURED },
    now: vt.now,
    sleep: vt.sleep,
  });
  const sentAt: number[] = [];
  await vt.run(
    Promise.all(
      Array.from({ length: 16 }, async () => {
        await pacer.acquire(1);
        sentAt.push(vt.now());
      }),
    ),
  );
  expect(paces.writes).toBe(2); // the first caller's lease, then one for the fifteen that queued behind it
  expect(sentAt).toEqual(Array.from({ length: 16 }, (_, i) => i * 60)); // 1,000 a minute: one every 60 ms
});

test('two instances share one schedule: together they never go faster than the pace', async () => {
  const vt = virtualTime(0);
  const paces = new MemoryPaceRepository();
  const instance = () =>
    new Pacer({
      paces: async () => paces,
      key: KEY,
      settings: { configuredPerMinute: 600 },
      now: vt.now,
      sleep: vt.sleep,
    });
  const [a, b] = [instance(), instance()];
  const sentAt: number[] = [];
  const calls = (pacer: Pacer) =>
    Array.from({ length: 4 }, async () => {
      await pacer.acquire(1);
      sentAt.push(vt.now());
    });
  await vt.run(Promise.all([...calls(a), ...calls(b)]));
  expect(sentAt.sort((x, y) => x - y)).toEqual(Array.from({ length: 8 }, (_, i) => i * 100));
});

test('a call whose slot came before a 429 it learned of leases again, after the Retry-After', async () => {
  const vt = virtualTime(0);
  const paces = new MemoryPaceRepository();
  const pacer = new Pacer({
    paces: async () => paces,
    key: KEY,
    settings: { configuredPerMinute: CONFIGURED },
    now: vt.now,
    sleep: vt.sleep,
  });
  const sentAt: number[] = [];
  await vt.run(
    Promise.all([
      (async () => {
        const ticket = await pacer.acquire(10); // at 0
        await pacer.throttled(ticket, 5000); // DPS says: not before 5 s
      })(),
      ...Array.from({ length: 3 }, async () => {
        await pacer.acquire(10); // slots at 600, 1200, 1800 ms: all inside the hold
        sentAt.push(vt.now());
      }),
    ]),
  );
  expect(Math.min(...sentAt)).toBeGreaterThanOrEqual(5000);
  expect(pacer.current()).toMatchObject({ epoch: 1, throttles: 1, holdUntil: 5000 });
});

test('containment’s registration deletes sent several at once still go one slot apart, and all wait out a 429', async () => {
  const vt = virtualTime(0);
  const paces = new MemoryPaceRepository();
  const pacer = new Pacer({
    paces: async () => paces,
    key: KEY,
    settings: { configuredPerMinute: CONFIGURED },
    now: vt.now,
    sleep: vt.sleep,
  });
  const sentAt: number[] = [];
  let throttledOnce = false;
  const inner = {
    async deleteRegistrationState() {
      sentAt.push(vt.now());
      // The third call sent meets DPS's 429: not before 5 s from then.
      if (sentAt.length === 3 && !throttledOnce) {
        throttledOnce = true;
        throw new ThrottledError('429', 5000, 429001);
      }
    },
  } as unknown as EnrollmentsPort;
  const dps = pacedEnrollments(inner, pacer);
  // As the registration-record step sends them: 20 records, 10 in flight (shared/incidents/steps.ts).
  await vt.run(
    forEachLimited([...Array(20).keys()], 10, (i) =>
      retryThrottled(() => dps.deleteRegistrationState(`dev-${i}`), { sleep: vt.sleep, now: vt.now }),
    ),
  );
  expect(sentAt).toHaveLength(21);
  // Before the 429, one every 60 ms (1,000 a minute), however many were in flight.
  expect(sentAt.slice(0, 3)).toEqual([0, 60, 120]);
  // After it, nothing until the Retry-After has passed, and the rest again a slot apart, at the lowered pace.
  const after = sentAt.slice(3);
  expect(Math.min(...after)).toBeGreaterThanOrEqual(120 + 5000);
  const gaps = after.slice(1).map((t, i) => t - after[i]);
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(60);
});

test('the paced port counts a bulk call of n as n operations, any other call as one', async () => {
  const vt = virtualTime(0);
  const paces = new MemoryPaceRepository();
  const pacer = new Pacer({
    paces: async () => paces,
    key: KEY,
    settings: { configuredPerMinute: 600 },
    now: vt.now,
    sleep: vt.sleep,
  });
  const sentAt: number[] = [];
  const inner = {
    getGroup: async () => void sentAt.push(vt.now()),
    bulkEnrollments: async () => (sentAt.push(vt.now()), { isSuccessful: true, errors: [] }),
  } as unknown as EnrollmentsPort;
  const dps = pacedEnrollments(inner, pacer);
  await vt.run(
    (async () => {
      await dps.getGroup('g');
      await dps.bulkEnrollments(
        'create',
        Array.from({ length: 10 }, () => ({}) as IndividualEnrollment),
      );
      await dps.getGroup('g');
    })(),
  );
  expect(sentAt).toEqual([0, 100, 1100]); // 600 a minute: one operation every 100 ms
});

test('a 429 reaches the caller as it came, even when the shared pace cannot be written', async () => {
  const vt = virtualTime(0);
  const broken = { update: async () => Promise.reject(new Error('Cosmos is down')) };
  let first = true;
  const pacer = new Pacer({
    paces: async () => (first ? ((first = false), new MemoryPaceRepository()) : broken),
    key: KEY,
    settings: { configuredPerMinute: 600 },
    now: vt.now,
    sleep: vt.sleep,
  });
  const throttled = new ThrottledError('throttled', 2000, 429001);
  const dps = pacedEnrollments(
    { getGroup: async () => Promise.reject(throttled) } as unknown as EnrollmentsPort,
    pacer,
  );
  await expect(vt.run(dps.getGroup('g'))).rejects.toBe(throttled);
});

test('with the shared pace out of reach (its store down), calls still go, paced alone from what was last known', async () => {
  const vt = virtualTime(0);
  const memory = new MemoryPaceRepository();
  let down = false;
  const store: PaceRepository = {
    update: (key, change) =>
      down
        ? Promise.reject(new TransientError('connection lost: Cosmos is down', undefined))
        : memory.update(key, change),
  };
  const pacer = new Pacer({
    paces: async () => store,
    key: KEY,
    settings: { configuredPerMinute: CONFIGURED },
    now: vt.now,
    sleep: vt.sleep,
  });
  await vt.run(pacer.acquire(1));
  down = true;
  const sentAt: number[] = [];
  await vt.run(
    Promise.all(
      Array.from({ length: 4 }, async () => {
        await pacer.acquire(1);
        sentAt.push(vt.now());
      }),
    ),
  );
  // Not failed, and not all at once: one every 60 ms (1,000 a minute), after the slot the shared pace gave first.
  expect(sentAt).toEqual([60, 120, 180, 240]);
  // Another kind of failure is not the store being out of reach: it reaches the caller.
  const broken = new Pacer({
    paces: async () => ({ update: () => Promise.reject(new Error('a bug')) }),
    key: KEY,
    settings: { configuredPerMinute: CONFIGURED },
    now: vt.now,
    sleep: vt.sleep,
  });
  await expect(vt.run(broken.acquire(1))).rejects.toThrow('a bug');
});

test('a caller with a deadline does not wait for a slot past it: its call is not made, and it hears when to come back', async () => {
  const vt = virtualTime(0);
  const paces = new MemoryPaceRepository();
  const pacer = new Pacer({
    paces: async () => paces,
    key: KEY,
    settings: { configuredPerMinute: CONFIGURED },
    now: vt.now,
    sleep: vt.sleep,
  });
  const sentAt: number[] = [];
  const inner = {
    async getEnrollment() {
      sentAt.push(vt.now());
      return undefined;
    },
  } as unknown as EnrollmentsPort;
  // The caller's clock is not the pacer's (a share's manual clock): only how long is left is compared.
  const callerNow = () => vt.now() + 7_000_000;
  const dps = pacedEnrollments(inner, pacer).until!({ stopAt: callerNow() + 400, now: callerNow });
  const answers = await vt.run(
    Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        dps.getEnrollment(`r-${i}`).then(
          () => 0,
          (e: unknown) => e,
        ),
      ),
    ),
  );
  // 1,000 a minute: slots every 60 ms. Those at 0…360 ms are sent; the nine from 420 ms on never are.
  expect(sentAt).toEqual(Array.from({ length: 7 }, (_, i) => i * 60));
  const refused = answers.filter((a) => a instanceof OutOfTimeError) as OutOfTimeError[];
  expect(refused).toHaveLength(9);
  expect(refused.map((e) => e.resumeAt - 7_000_000)).toEqual(Array.from({ length: 9 }, (_, i) => 420 + i * 60));
});
