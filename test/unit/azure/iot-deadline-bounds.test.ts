/**
 * IOT_DEADLINE_MS from the attacker's (or the typist's) side: a value past Node's timer range (2^31 - 1 ms), or a base
 * whose doubled bulk deadline passes it, would make setTimeout fire after 1 ms, and a few milliseconds (a typo for
 * seconds) would do the same: every call abandoned at once as a lost answer and sent again. Neither is taken.
 */
import { iotDeadlineMs, iotDeadlines } from '../../../shared/azure/iot-deadlines';

const TIMER_MAX = 2 ** 31 - 1;

test('a deadline past the timer range is not accepted (setTimeout would fire after 1 ms)', () => {
  for (const value of ['3000000000', '1e12', String(TIMER_MAX + 1)])
    expect([value, iotDeadlines({ IOT_DEADLINE_MS: value })]).toEqual([value, {}]);
});

test('the doubled bulk deadline stays within the timer range for any accepted setting', () => {
  const accepted = iotDeadlines({ IOT_DEADLINE_MS: String(1_500_000_000) });
  expect(iotDeadlineMs('POST', '/devices?api-version=2021-04-12', accepted)).toBeLessThanOrEqual(TIMER_MAX);
  expect(iotDeadlineMs('POST', '/jobs/create', accepted)).toBeLessThanOrEqual(TIMER_MAX);
});

test('a deadline of a few milliseconds (a typo for seconds) is not accepted', () => {
  for (const value of ['1', '30', '0.5'])
    expect([value, iotDeadlines({ IOT_DEADLINE_MS: value })]).toEqual([value, {}]);
});
