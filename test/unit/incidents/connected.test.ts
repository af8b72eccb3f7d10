/**
 * The incident's devices connected per hub: only its own devices are read, 100 to a query, at most the cap; IDs the
 * query language cannot quote are left unread (and said so by `read`); a hub that fails is named, not fatal.
 */
import type { HubTwin } from '../../../shared/dps-types';
import { connectedQuery, countConnected } from '../../../shared/incidents/connected';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import type { Target } from '../../../shared/incidents/rules/resolution';
import type { HubDirectory, HubRegistryPort } from '../../../shared/ports';

async function* pagesOf(...pages: Target[][]) {
  yield* pages;
}

const on = (hub: string, ...ids: string[]): Target[] =>
  ids.map((id) => ({ registrationId: id, deviceId: id, hub, via: 'group' }));

function hubsWith(connected: Record<string, string[]>, failing: string[] = []) {
  const queries: Array<{ hub: string; sql: string }> = [];
  const directory = {
    hostNames: () => Object.keys(connected),
    hub: (hub: string) =>
      ({
        queryTwins: async (sql: string) => {
          queries.push({ hub, sql });
          if (failing.includes(hub)) throw new Error(`${hub} is down`);
          const asked = [...sql.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]);
          const items: HubTwin[] = asked.map((deviceId) => ({
            deviceId,
            connectionState: connected[hub].includes(deviceId) ? 'Connected' : 'Disconnected',
          }));
          return { items };
        },
      }) as unknown as HubRegistryPort,
  } as unknown as HubDirectory;
  const deps = {
    hubs: async () => directory,
    clock: { now: () => new Date('2026-11-25T10:00:00Z') },
  } as unknown as IncidentDeps;
  return { deps, queries };
}

test('the query names the devices; an ID with both quote characters is left out', () => {
  expect(connectedQuery(['a', "o'b", 'c"d', `e'"f`])).toEqual({
    sql: `SELECT * FROM devices WHERE deviceId IN ['a', "o'b", 'c"d']`,
    read: 3,
  });
});

test('counts per hub, 100 devices a query, distinct devices only, up to the cap', async () => {
  const ids = Array.from({ length: 250 }, (_, i) => `d-${i}`);
  const { deps, queries } = hubsWith({ 'hub-1': ids.filter((_, i) => i % 2 === 0), 'hub-2': ['x-1'] });
  const counts = await countConnected(
    deps,
    pagesOf(on('hub-1', ...ids.slice(0, 150)), on('hub-1', ...ids.slice(100)), on('hub-2', 'x-1', 'x-2')),
    { 'hub-1': 250, 'hub-2': 2 },
  );
  expect(counts).toEqual({
    at: '2026-11-25T10:00:00.000Z',
    capped: false,
    perHub: { 'hub-1': { targeted: 250, read: 250, connected: 125 }, 'hub-2': { targeted: 2, read: 2, connected: 1 } },
  });
  expect(queries.filter((q) => q.hub === 'hub-1')).toHaveLength(3);

  const capped = await countConnected(deps, pagesOf(on('hub-1', ...ids)), { 'hub-1': 250 }, 120);
  expect(capped).toMatchObject({ capped: true, perHub: { 'hub-1': { targeted: 250, read: 120, connected: 60 } } });
});

test('a hub that cannot be read is named, and the others are still counted', async () => {
  const { deps } = hubsWith({ 'hub-1': ['a'], 'hub-2': ['b'] }, ['hub-2']);
  const counts = await countConnected(deps, pagesOf([...on('hub-1', 'a'), ...on('hub-2', 'b')]), {});
  expect(counts.perHub['hub-1']).toEqual({ targeted: 1, read: 1, connected: 1 });
  expect(counts.unavailable).toEqual({ 'hub-2': 'hub-2 is down' });
});
