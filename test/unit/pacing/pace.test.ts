/** The pacing rule, step by step, with time passed in by hand (shared/pacing/rules/pace.ts). */
import { adopt, freshPace, lease, type Pace, PACE_RULE, slotOf, throttle } from '../../../shared/pacing/rules/pace';

const settings = { configuredPerMinute: 1000 };
const T0 = 1_000_000;

/** Leases `n` calls of `ops` at `now`, the way a busy caller does. */
function leaseMany(pace: Pace, n: number, ops: number, now: number): Pace {
  for (let i = 0; i < n; i++) pace = lease(pace, ops, now).pace;
  return pace;
}

test('starts at the configured rate and spaces calls at it: 10 operations at 1,000 a minute take 600 ms', () => {
  const first = lease(freshPace(settings, T0), 10, T0);
  expect(first.grant).toEqual({ from: T0, perMinute: 1000, epoch: 0 });
  expect(slotOf(first.grant, 10)).toBe(T0 + 600);
  const second = lease(first.pace, 10, T0);
  expect(second.grant.from).toBe(T0 + 600); // the schedule is shared: the next caller goes after
});

test('while nothing is throttled, the pace rises by the configured rate every 50 operations (probing)', () => {
  let pace = leaseMany(freshPace(settings, T0), 4, 10, T0);
  expect(pace.perMinute).toBe(1000);
  pace = lease(pace, 10, T0).pace; // the 50th operation
  expect(pace.perMinute).toBe(2000);
  pace = leaseMany(pace, 5, 10, T0);
  expect(pace.perMinute).toBe(3000);
});

test('a lease for many waiting calls takes the steps they would have taken one by one', () => {
  const pace = lease(freshPace(settings, T0), 160, T0).pace; // sixteen bulk calls of 10, leased together
  expect(pace.perMinute).toBe(4000);
  expect(pace.sinceStep).toBe(10);
});

test('a caller that sends nothing never raises it: steps count operations, not time', () => {
  const pace = lease(freshPace(settings, T0), 10, T0 + 3_600_000).pace;
  expect(pace.perMinute).toBe(1000);
  expect(pace.idleMs).toBe(3_600_000);
});

test('a 429 holds every call until its Retry-After, and the first one halves the pace', () => {
  const busy = leaseMany(freshPace(settings, T0), 10, 10, T0); // 3,000 a minute after probing
  const throttled = throttle(busy, { epoch: 0, now: T0 + 5000, retryAfterMs: 2000 });
  expect(throttled).toMatchObject({ perMinute: 1500, holdUntil: T0 + 7000, epoch: 1, throttles: 1 });
  expect(throttled.ceilingPerMinute).toBe(3000); // at most what was throttled
  expect(lease(throttled, 10, T0 + 5001).grant.from).toBe(T0 + 7000);
});

test('the calls in flight at that moment meet the 429 too, but the pace falls once', () => {
  const busy = leaseMany(freshPace(settings, T0), 10, 10, T0);
  const once = throttle(busy, { epoch: 0, now: T0 + 5000, retryAfterMs: 1000 });
  const again = throttle(once, { epoch: 0, now: T0 + 5010, retryAfterMs: 3000 });
  expect(again.perMinute).toBe(once.perMinute);
  expect(again.epoch).toBe(1);
  expect(again.holdUntil).toBe(T0 + 8010); // the longer Retry-After still holds
});

test('between two 429s the service accepted its own rate: that becomes the ceiling, and the pace settles below it', () => {
  let pace = throttle(leaseMany(freshPace(settings, T0), 10, 10, T0), { epoch: 0, now: T0, retryAfterMs: 1000 });
  // A minute of busy calling, of which DPS accepted 1,200 operations; then a 429.
  pace = leaseMany(pace, 130, 10, T0 + 1000);
  pace = throttle(pace, {
    epoch: pace.epoch,
    now: T0 + 60_000,
    retryAfterMs: 1000,
    report: { epoch: pace.epoch, accepted: 1200 },
  });
  expect(pace.ceilingPerMinute).toBe(1200);
  expect(pace.perMinute).toBe(PACE_RULE.belowCeiling * 1200);
});

test('a measure over too few operations is not trusted as the ceiling, but bounds the pace', () => {
  const first = throttle(leaseMany(freshPace(settings, T0), 10, 10, T0), { epoch: 0, now: T0, retryAfterMs: 1000 });
  const busy = leaseMany(first, 12, 10, T0 + 1000);
  const few = throttle(busy, { epoch: 1, now: T0 + 6000, report: { epoch: 1, accepted: 40 } });
  expect(few.ceilingPerMinute).toBe(first.perMinute); // at most the pace throttled, as before
  // 40 accepted in 6 s, and at most two calls' worth refilled beside them: 600 a minute at most.
  expect(few.perMinute).toBe(600);
});

test('nor is a measure over mostly idle time: the bucket refilled while nobody called', () => {
  const first = throttle(leaseMany(freshPace(settings, T0), 10, 10, T0), { epoch: 0, now: T0, retryAfterMs: 1000 });
  const report = { epoch: 1, accepted: 200 };
  // Leased after 50 idle seconds of the minute, or at its start and then nothing for 50 seconds.
  for (const idle of [lease(first, 200, T0 + 50_000).pace, lease(first, 200, T0 + 1000).pace]) {
    const after = throttle(idle, { epoch: 1, now: T0 + 60_000, report });
    expect(after.ceilingPerMinute).toBe(first.perMinute);
    expect(after.perMinute).toBe(PACE_RULE.backoff * first.perMinute);
  }
});

test('accepted operations reported under an older epoch are not counted in the new measure', () => {
  const first = throttle(leaseMany(freshPace(settings, T0), 10, 10, T0), { epoch: 0, now: T0, retryAfterMs: 1000 });
  expect(lease(first, 10, T0 + 1, { epoch: 0, accepted: 500 }).pace.accepted).toBe(0);
  expect(lease(first, 10, T0 + 1, { epoch: 1, accepted: 500 }).pace.accepted).toBe(500);
});

test('with a ceiling known it probes gently (+2 % of it every 500 operations), and fast again once well past it', () => {
  const known: Pace = { ...freshPace(settings, T0), perMinute: 950, ceilingPerMinute: 1000, throttles: 2 };
  let pace = leaseMany(known, 49, 10, T0);
  expect(pace.perMinute).toBe(950);
  pace = lease(pace, 10, T0).pace;
  expect(pace.perMinute).toBe(970);
  const raised: Pace = { ...known, perMinute: 1260 }; // 26 % past the ceiling without a 429: the limit was raised
  expect(leaseMany(raised, 5, 10, T0).perMinute).toBe(1260 + PACE_RULE.reprobeStep * 1000);
});

test('the pace stays within a twentieth and twenty times the configured rate', () => {
  let pace = freshPace(settings, T0);
  for (let i = 0; i < 40; i++) pace = throttle(pace, { epoch: pace.epoch, now: T0 + i });
  expect(pace.perMinute).toBe(50);
  expect(leaseMany(freshPace(settings, T0), 1000, 10, T0).perMinute).toBe(20_000);
});

test('a stored pace is kept, unless the configured rate changed', () => {
  const learned: Pace = { ...freshPace(settings, T0), perMinute: 9000, ceilingPerMinute: 9500 };
  expect(adopt(learned, settings, T0 + 1)).toBe(learned);
  expect(adopt(learned, { configuredPerMinute: 2000 }, T0 + 1).perMinute).toBe(2000);
  expect(adopt(undefined, settings, T0).perMinute).toBe(1000);
});
