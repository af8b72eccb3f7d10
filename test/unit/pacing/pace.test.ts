/** The pacing rule, step by step, with time passed in by hand (shared/pacing/rules/pace.ts). */
import { adopt, freshPace, lease, type Pace, PACE_RULE, throttle } from '../../../shared/pacing/rules/pace';

const settings = { configuredPerMinute: 1000 };
const T0 = 1_000_000;

/**
 * A caller keeping the pace busy: it leases each call when the one before it goes (at its slot), so every call waits
 * for the pace and time moves as the pace lets it. Answers the pace and the time of the last slot.
 */
function sustain(pace: Pace, calls: number, ops: number, now = T0): { pace: Pace; now: number } {
  for (let i = 0; i < calls; i++) {
    const leased = lease(pace, ops, now);
    pace = leased.pace;
    now = leased.grant.from;
  }
  return { pace, now };
}

const known = (fields: Partial<Pace>): Pace => ({
  ...freshPace(settings, T0),
  ceilingPerMinute: 1000,
  ceilingMeasured: true,
  throttles: 2,
  ...fields,
});

test('starts at the configured rate and spaces calls at it: 10 operations at 1,000 a minute take 600 ms', () => {
  const first = lease(freshPace(settings, T0), 10, T0);
  expect(first.grant).toEqual({ from: T0, perMinute: 1000, epoch: 0 });
  const second = lease(first.pace, 10, T0);
  expect(second.grant.from).toBe(T0 + 600); // the schedule is shared: the next caller goes after
});

test('kept busy and never throttled, the pace rises by the configured rate every 25 operations (probing)', () => {
  // The first call found the schedule free; each after it waited. Calls of 5: the 25th waiting operation is the 6th call.
  expect(sustain(freshPace(settings, T0), 5, 5).pace.perMinute).toBe(1000);
  expect(sustain(freshPace(settings, T0), 6, 5).pace.perMinute).toBe(2000);
  expect(sustain(freshPace(settings, T0), 11, 5).pace.perMinute).toBe(3000);
});

test('calls leased together are not the pace sustained: a step waits until their operations have had their time', () => {
  const busy: Pace = { ...freshPace(settings, T0), nextAt: T0 + 1 };
  const batch = lease(busy, 160, T0).pace; // sixteen bulk calls of 10 at once: 9.6 s of the pace
  expect(batch.perMinute).toBe(1000);
  expect(lease(batch, 10, T0 + 1000).pace.perMinute).toBe(1000); // 25 operations take 1.5 s at 1,000 a minute
  expect(lease(batch, 10, T0 + 1200).pace.perMinute).toBe(2000); // 75 % of that has passed: one step, not six
});

test('callers slower than the pace never raise it: in an hour of calls none waited', () => {
  let pace = freshPace(settings, T0);
  // A call of 10 every second at 1,000 a minute (one every 600 ms).
  for (let t = T0; t < T0 + 3_600_000; t += 1000) pace = lease(pace, 10, t).pace;
  expect(pace.perMinute).toBe(1000);
  expect(pace.idleMs).toBeGreaterThan(0);
});

test('nor do callers that leave the schedule mostly free between bursts', () => {
  let pace = freshPace(settings, T0);
  // Bursts of three calls of 10 (1.8 s of the pace) every 5 s: 30 operations waited, but the schedule stood free
  // more than half the time.
  for (let t = T0; t < T0 + 600_000; t += 5000) pace = sustain(pace, 3, 10, t).pace;
  expect(pace.perMinute).toBe(1000);
});

test('a 429 holds every call until its Retry-After, and the first one halves the pace', () => {
  const { pace: busy, now } = sustain(freshPace(settings, T0), 11, 5); // 3,000 a minute after probing
  expect(busy.perMinute).toBe(3000);
  const throttled = throttle(busy, { ops: 10, epoch: 0, now, retryAfterMs: 2000 });
  expect(throttled).toMatchObject({ perMinute: 1500, holdUntil: now + 2000, epoch: 1, throttles: 1 });
  expect(throttled.ceilingPerMinute).toBe(3000); // at most what was throttled
  expect(lease(throttled, 10, now + 1).grant.from).toBe(now + 2000);
});

test('the calls in flight at that moment meet the 429 too, but the pace falls once', () => {
  const once = throttle(freshPace(settings, T0), { ops: 10, epoch: 0, now: T0 + 5000, retryAfterMs: 1000 });
  const again = throttle(once, { ops: 10, epoch: 0, now: T0 + 5010, retryAfterMs: 3000 });
  expect(again.perMinute).toBe(once.perMinute);
  expect(again.epoch).toBe(1);
  expect(again.holdUntil).toBe(T0 + 8010); // the longer Retry-After still holds
});

test('between two 429s the service accepted its own rate: that becomes the ceiling, and the pace settles below it', () => {
  const first = throttle(freshPace(settings, T0), { ops: 10, epoch: 0, now: T0, retryAfterMs: 1000 });
  // A minute of calling at 1,300 a minute, of which DPS accepted 1,200 operations; then a 429.
  const { pace: busy } = sustain({ ...first, perMinute: 1300 }, 130, 10, T0 + 1000);
  const pace = throttle(busy, {
    ops: 10,
    epoch: 1,
    now: T0 + 60_000,
    retryAfterMs: 1000,
    report: { epoch: 1, accepted: 1200 },
  });
  expect(pace).toMatchObject({ ceilingPerMinute: 1200, ceilingMeasured: true });
  expect(pace.perMinute).toBe(PACE_RULE.belowCeiling * 1200);
});

test('a measure over too few operations is not trusted as the ceiling, but bounds the pace at once', () => {
  const first = throttle(freshPace(settings, T0), { ops: 10, epoch: 0, now: T0, retryAfterMs: 1000 });
  const { pace: busy } = sustain({ ...first, perMinute: 1000 }, 12, 10, T0 + 1000);
  const few = throttle(busy, { ops: 10, epoch: 1, now: T0 + 6000, report: { epoch: 1, accepted: 40 } });
  expect(few.ceilingPerMinute).toBe(busy.perMinute); // at most the pace throttled, as before
  expect(few.ceilingMeasured).toBe(false);
  // 40 accepted in 6 s, and at most the refused call's 10 refilled beside them: 500 a minute at most.
  expect(few.perMinute).toBe(500);
});

test('nor is a measure over mostly idle time: the bucket refilled while nobody called', () => {
  const first = throttle(freshPace(settings, T0), { ops: 10, epoch: 0, now: T0, retryAfterMs: 1000 });
  const report = { epoch: 1, accepted: 200 };
  // Leased after 50 idle seconds of the minute, or at its start and then nothing for 50 seconds.
  for (const idle of [lease(first, 200, T0 + 50_000).pace, lease(first, 200, T0 + 1000).pace]) {
    const after = throttle(idle, { ops: 10, epoch: 1, now: T0 + 60_000, report });
    expect(after.ceilingPerMinute).toBe(first.perMinute);
    expect(after.perMinute).toBe(PACE_RULE.backoff * first.perMinute);
  }
});

test('accepted operations reported under an older epoch are not counted in the new measure', () => {
  const first = throttle(freshPace(settings, T0), { ops: 10, epoch: 0, now: T0, retryAfterMs: 1000 });
  expect(lease(first, 10, T0 + 1, { epoch: 0, accepted: 500 }).pace.accepted).toBe(0);
  expect(lease(first, 10, T0 + 1, { epoch: 1, accepted: 500 }).pace.accepted).toBe(500);
});

test('near a measured ceiling it probes gently (+2 % of it every 500 operations); well below it, it catches up', () => {
  // The first call found the schedule free: 500 waiting operations are 51 calls of 10.
  expect(sustain(known({ perMinute: 950 }), 50, 10).pace.perMinute).toBe(950);
  expect(sustain(known({ perMinute: 950 }), 51, 10).pace.perMinute).toBe(970);
  // Well below the ceiling measured: +10 % of it every 25 operations, up to 85 % of it. Not below a mere bound.
  expect(sustain(known({ perMinute: 500 }), 6, 5).pace.perMinute).toBe(500 + PACE_RULE.catchUpStep * 1000);
  expect(sustain(known({ perMinute: 500, ceilingMeasured: false }), 6, 5).pace.perMinute).toBe(500);
});

test('25 % past the ceiling it stops, unless the service is seen taking more than its ceiling: the limit was raised', () => {
  const past = known({ perMinute: 1260, epochStartedAt: T0 - 60_000 });
  // The calls went slower than their slots: DPS took 1,000 in the last minute, no more than its ceiling.
  expect(sustain({ ...past, accepted: 1000 }, 100, 10).pace.perMinute).toBe(1260);
  // DPS took 1,200 in the last minute without a 429: it allows more now.
  expect(sustain({ ...past, accepted: 1200 }, 6, 5).pace.perMinute).toBe(1260 + PACE_RULE.reprobeStep * 1000);
});

test('the pace stays within a twentieth and twenty times the configured rate', () => {
  let pace = freshPace(settings, T0);
  for (let i = 0; i < 40; i++) pace = throttle(pace, { ops: 10, epoch: pace.epoch, now: T0 + i });
  expect(pace.perMinute).toBe(50);
  expect(sustain(freshPace(settings, T0), 1000, 10).pace.perMinute).toBe(20_000);
});

test('a stored pace is kept, unless the configured rate changed', () => {
  const learned: Pace = { ...freshPace(settings, T0), perMinute: 9000, ceilingPerMinute: 9500 };
  expect(adopt(learned, settings, T0 + 1)).toBe(learned);
  expect(adopt(learned, { configuredPerMinute: 2000 }, T0 + 1).perMinute).toBe(2000);
  expect(adopt(undefined, settings, T0).perMinute).toBe(1000);
});
