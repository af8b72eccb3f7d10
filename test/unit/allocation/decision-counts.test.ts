/** The fleet's decisions: every instance's counts of the last 24 hours, summed hour by hour. */
import { fleetDecisions } from '../../../shared/allocation/decision-counts';
import { MemoryDecisionCountRepository } from '../../support/memory-repositories';

test("two instances' counts of an hour are summed; hours outside the last day are not", async () => {
  const repo = new MemoryDecisionCountRepository();
  const now = new Date('2026-06-01T12:30:00Z');
  const hour = '2026-06-01T12:00:00.000Z';
  const counts = (denied: number) => ({ hour, byRule: { r1: 2 }, byHub: { h: 2 }, denied, invalid: 0, unavailable: 0 });
  await repo.save('one', [counts(1)], now);
  await repo.save('two', [counts(3)], now);
  await repo.save('two', [{ ...counts(100), hour: '2026-05-30T12:00:00.000Z' }], now);
  const day = await fleetDecisions(repo, now);
  expect(day).toHaveLength(24);
  expect(day[23]).toMatchObject({ hour, denied: 4, byRule: { r1: 4 }, byHub: { h: 4 } });
  expect(day.slice(0, 23).every((h) => h.denied === 0)).toBe(true);
});
