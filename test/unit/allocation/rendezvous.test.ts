import fc from 'fast-check';

import { rank } from '../../../shared/allocation/rules/rendezvous';

const hubs = (n: number) => Array.from({ length: n }, (_, i) => ({ hostName: `hub-${i}.azure-devices.net` }));
const ids = Array.from({ length: 20000 }, (_, i) => `device-${i}`);

test('the same key always ranks hubs the same way, whatever their order', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }), fc.shuffledSubarray(hubs(6), { minLength: 2 }), (key, subset) => {
      const a = rank(key, subset).map((h) => h.hostName);
      const b = rank(key, [...subset].reverse()).map((h) => h.hostName);
      expect(a).toEqual(b);
    }),
  );
});

test('adding a hub moves only the devices that now belong to it (about 1/(n+1) of them)', () => {
  const before = new Map(ids.map((id) => [id, rank(id, hubs(4))[0].hostName]));
  const after = new Map(ids.map((id) => [id, rank(id, hubs(5))[0].hostName]));
  const moved = ids.filter((id) => before.get(id) !== after.get(id));
  expect(moved.every((id) => after.get(id) === 'hub-4.azure-devices.net')).toBe(true);
  expect(moved.length / ids.length).toBeGreaterThan(0.17);
  expect(moved.length / ids.length).toBeLessThan(0.23);
});

test('weights divide devices in proportion, and weight 0 takes a hub out of rotation', () => {
  const weighted = [
    { hostName: 'a', weight: 1 },
    { hostName: 'b', weight: 3 },
    { hostName: 'c', weight: 0 },
  ];
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (const id of ids) counts[rank(id, weighted)[0].hostName]++;
  expect(counts.c).toBe(0);
  expect(counts.b / counts.a).toBeGreaterThan(2.7);
  expect(counts.b / counts.a).toBeLessThan(3.3);
});

test('host names and registration IDs compare case-insensitively, as DPS does', () => {
  expect(rank('Device-1', [{ hostName: 'HUB-A' }, { hostName: 'hub-b' }])[0].hostName.toLowerCase()).toBe(
    rank('device-1', [{ hostName: 'hub-a' }, { hostName: 'HUB-B' }])[0].hostName.toLowerCase(),
  );
});
