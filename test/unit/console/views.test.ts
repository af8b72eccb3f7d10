/**
 * The console's pure parts: the hour-by-hour account of one webhook instance, the allocation overview built from
 * the compiled policy, and the generated page kept in step with its sources.
 */
import { consolePage } from '../../../dev/generate-console';
import { AllocationCounters, sumHours } from '../../../shared/allocation/rules/counters';
import type { Outcome } from '../../../shared/allocation/rules/engine';
import { allocationOverview } from '../../../shared/allocation/rules/overview';
import { compilePolicy } from '../../../shared/allocation/rules/policy';
import { CONSOLE_PAGE } from '../../../shared/generated/console-page';

const HOUR = 3_600_000;
const allocated = (rule: string, hub: string) =>
  ({ kind: 'allocate', rule, reason: '', candidates: [], response: { iotHubHostName: hub } }) as unknown as Outcome;

test('counts allocations per rule and hub, and refusals, hour by hour for the last day only', () => {
  const counters = new AllocationCounters();
  const t0 = Date.UTC(2026, 10, 29, 10, 15);
  counters.record(allocated('eu', 'hub-1'), t0);
  counters.record(allocated('eu', 'hub-2'), t0 + 60_000);
  counters.record({ kind: 'deny', reason: 'revoked' } as Outcome, t0 + HOUR);
  counters.record({ kind: 'invalid', reason: 'x' } as Outcome, t0 + HOUR);
  const written = counters.takeChanged();
  const day = sumHours(written, t0 + HOUR);
  expect(day).toHaveLength(24);
  expect(day[22]).toMatchObject({
    hour: '2026-11-29T10:00:00.000Z',
    byRule: { eu: 2 },
    byHub: { 'hub-1': 1, 'hub-2': 1 },
  });
  expect(day[23]).toMatchObject({ hour: '2026-11-29T11:00:00.000Z', denied: 1, invalid: 1, byRule: {} });
  // A day later the old hours are gone, whatever is recorded since.
  counters.record(allocated('us', 'hub-3'), t0 + 25 * HOUR);
  const later = sumHours([...written, ...counters.takeChanged()], t0 + 25 * HOUR);
  expect(later.flatMap((h) => Object.keys(h.byRule))).toEqual(['us']);
});

test('the overview shows each linked hub against the pools that use it, and the tightest capacity', () => {
  const policy = compilePolicy({
    id: 'p1',
    pools: {
      eu: {
        hubs: [
          { hostName: 'hub-1', weight: 3, capacity: 200 },
          { hostName: 'hub-2', enabled: false },
        ],
      },
      all: { hubs: [{ hostName: 'hub-1', capacity: 100 }, { hostName: 'hub-2' }] },
    },
    rules: [{ name: 'eu', match: { payload: { region: 'eu' } }, pool: 'eu' }],
    default: { pool: 'all' },
  });
  const view = allocationOverview(
    {
      policy,
      policyProblem: undefined,
      hubLoad: new Map([['hub-1', 50]]),
      denyEntries: 4,
      denyRefreshedAt: undefined,
      lastDay: [],
    },
    ['hub-1', 'hub-2', 'hub-3'],
  );
  expect(view.hubs).toEqual([
    {
      hostName: 'hub-1',
      devices: 50,
      pools: [
        { pool: 'eu', weight: 3, capacity: 200, inRotation: true },
        { pool: 'all', weight: 1, capacity: 100, inRotation: true },
      ],
      percentOfCapacity: 50,
    },
    expect.objectContaining({
      hostName: 'hub-2',
      devices: undefined,
      pools: expect.arrayContaining([expect.objectContaining({ pool: 'eu', inRotation: false })]),
    }),
    { hostName: 'hub-3', devices: undefined, pools: [] },
  ]);
  expect(view.rules).toEqual([{ name: 'eu', pool: 'eu', matches: ['payload.region = eu'] }]);
  expect(view.denyList.entries).toBe(4);
});

test('the generated page is the console sources with uPlot inlined (npm run generate:console)', () => {
  expect(CONSOLE_PAGE).toBe(consolePage());
  expect(CONSOLE_PAGE).not.toMatch(/<script[^>]+src=|<link[^>]+href=/); // nothing fetched from anywhere
});

test('instances write only the hours they changed, and their documents sum hour by hour', () => {
  const a = new AllocationCounters();
  const b = new AllocationCounters();
  const t0 = Date.UTC(2026, 10, 29, 10, 15);
  a.record(allocated('eu', 'hub-1'), t0);
  a.record(allocated('eu', 'hub-1'), t0 + HOUR);
  b.record(allocated('eu', 'hub-2'), t0 + HOUR);
  b.record({ kind: 'deny', reason: 'revoked' } as Outcome, t0 + HOUR);
  const written = [...a.takeChanged(), ...b.takeChanged()];
  expect(written.map((h) => h.hour).sort()).toEqual([
    '2026-11-29T10:00:00.000Z',
    '2026-11-29T11:00:00.000Z',
    '2026-11-29T11:00:00.000Z',
  ]);
  expect(a.takeChanged()).toEqual([]); // nothing new since
  const day = sumHours(written, t0 + HOUR);
  expect(day[23]).toMatchObject({ byRule: { eu: 2 }, byHub: { 'hub-1': 1, 'hub-2': 1 }, denied: 1 });
  expect(day[22]).toMatchObject({ byRule: { eu: 1 } });
});
