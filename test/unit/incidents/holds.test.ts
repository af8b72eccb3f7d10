/**
 * Every hold has owners, over the in-memory document store: a hold is lifted only by its last holder, what lifting
 * puts back is the first holder's, a holder who arrives while the last one lets go is never lost, and a restore under
 * way stays until it is done (a release run again finishes it) while a new holder waits for it.
 */
import type { DenyEntry } from '../../../shared/allocation/rules/deny-list';
import { CONTAINERS } from '../../../shared/containers';
import { HoldBusyError, holdId } from '../../../shared/incidents/repositories';
import { newIncident } from '../../../shared/incidents/rules/model';
import { CosmosDenyListRepository } from '../../../shared/incidents/store/deny-list-repository';
import { CosmosHoldRepository } from '../../../shared/incidents/store/hold-repository';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const enable = { type: 'enableEnrollment', registrationId: 'dev-1' } as const;

const T = Date.parse('2026-11-25T10:00:00Z');
const CLAIM = T + 60_000;

test('a hold is lifted by its last holder only, and puts back what the first holder found', async () => {
  const store = new MemoryStore(partitionKeys);
  const holds = new CosmosHoldRepository(store);
  const stored = (id: string) => store.container(CONTAINERS.holds.name).read(id, id);
  const id = holdId.enrollment('DEV-1');
  expect(await holds.acquire(id, 'inc-a', enable, T)).toEqual(
    expect.objectContaining({ holders: ['inc-a'], restore: enable }),
  );
  // The second incident found it disabled already: it holds too, and the first holder's restore stands.
  expect(await holds.acquire(id, 'inc-b', undefined, T)).toEqual(
    expect.objectContaining({ holders: ['inc-a', 'inc-b'], restore: enable }),
  );
  expect(await holds.acquire(id, 'inc-b', undefined, T)).toEqual(
    expect.objectContaining({ holders: ['inc-a', 'inc-b'] }),
  ); // idempotent
  expect(await holds.release(id, 'inc-a', CLAIM)).toBeUndefined();
  // The last holder: a pending restore, its own until the claim ends, answered again to a release run again.
  const pending = { holders: [], restore: enable, restoring: { by: 'inc-b', until: CLAIM } };
  expect(await holds.release(id, 'inc-b', CLAIM)).toEqual(expect.objectContaining(pending));
  expect(await holds.release(id, 'inc-b', CLAIM + 1)).toEqual(
    expect.objectContaining({ ...pending, restoring: { by: 'inc-b', until: CLAIM + 1 } }),
  );
  expect(await holds.release(id, 'inc-a', CLAIM)).toBeUndefined(); // not inc-a's to finish
  await holds.restored(id, 'inc-a'); // nor to end
  expect(await stored(id)).toBeDefined();
  await holds.restored(id, 'inc-b');
  expect(await stored(id)).toBeUndefined();
  expect(await holds.release(id, 'inc-b', CLAIM)).toBeUndefined(); // released again: nothing more happens
  // A thing disabled before any incident held it: nothing to put back, so the hold goes at once.
  await holds.acquire(holdId.group('line-9'), 'inc-c', undefined, T);
  const lifted = await holds.release(holdId.group('line-9'), 'inc-c', CLAIM);
  expect(lifted).toMatchObject({ id: 'group:line-9' });
  expect(lifted?.restore).toBeUndefined();
  expect(await stored('group:line-9')).toBeUndefined();
});

test('a holder who arrives while the last one lets go keeps the hold, and nothing is put back', async () => {
  const store = new MemoryStore(partitionKeys);
  const holds = new CosmosHoldRepository(store);
  const id = holdId.device('hub-1.azure-devices.net', 'dev-1');
  await holds.acquire(id, 'inc-a', { type: 'enableDevice', hub: 'hub-1.azure-devices.net', deviceId: 'dev-1' }, T);
  // Between inc-a reading the hold and writing it, inc-b joins: the write of the version inc-a read must fail.
  const container = store.container(CONTAINERS.holds.name);
  const realReplace = container.replace.bind(container);
  let joined = false;
  container.replace = async (doc) => {
    if (!joined) {
      joined = true;
      await holds.acquire(id, 'inc-b', undefined, T);
    }
    return realReplace(doc);
  };
  expect(await holds.release(id, 'inc-a', CLAIM)).toBeUndefined();
  expect(await container.read(id, id)).toMatchObject({ holders: ['inc-b'] });
  expect(await container.read(id, id)).not.toHaveProperty('restoring');
});

test('a pending restore keeps a new holder out until it is done, or until its claim lapses (then taken over)', async () => {
  const store = new MemoryStore(partitionKeys);
  const holds = new CosmosHoldRepository(store);
  const id = holdId.enrollment('dev-2');
  const restore = { type: 'enableEnrollment' as const, registrationId: 'dev-2' };
  await holds.acquire(id, 'inc-a', restore, T);
  await holds.release(id, 'inc-a', CLAIM);
  // inc-b would read the enrollment before inc-a's restore lands and find it disabled: it must come back after.
  const busy = await holds.acquire(id, 'inc-b', undefined, T + 15_000).catch((e: unknown) => e);
  expect(busy).toBeInstanceOf(HoldBusyError);
  expect(busy).toMatchObject({ retryAfterMs: 45_000, message: expect.stringMatching(/put back by incident inc-a/) });
  await holds.restored(id, 'inc-a');
  expect(await holds.acquire(id, 'inc-b', restore, T + 16_000)).toEqual({ id, holders: ['inc-b'], restore });

  // inc-b's release stops and never comes back: past its claim, inc-c takes the hold over, with what to put back.
  await holds.release(id, 'inc-b', CLAIM);
  expect(await holds.acquire(id, 'inc-c', undefined, CLAIM + 1)).toEqual({ id, holders: ['inc-c'], restore });
  expect(await holds.release(id, 'inc-b', CLAIM + 60_000)).toBeUndefined(); // no longer inc-b's restore
  await holds.restored(id, 'inc-b');
  expect(await store.container(CONTAINERS.holds.name).read(id, id)).toMatchObject({ holders: ['inc-c'] });
});

test('deny entries are held by every incident that needs them and leave the list with the last', async () => {
  const denyList = new CosmosDenyListRepository(new MemoryStore(partitionKeys));
  const entry = (value: string): DenyEntry => ({ kind: 'registrationId', value, reason: 'leak', incidentId: 'inc-a' });
  expect(await denyList.hold([entry('a'), entry('b')], 'inc-a')).toHaveLength(2);
  expect(await denyList.hold([entry('A')], 'inc-b')).toEqual([]); // the same identity: held, not added
  expect((await denyList.release([entry('a'), entry('b')], 'inc-a')).map((e) => e.value)).toEqual(['b']);
  expect((await denyList.release([entry('a')], 'inc-b')).map((e) => e.value)).toEqual(['a']);
});

test('an incident and its pages of targets are one partition; a checkpoint lost to another writer is applied again', async () => {
  const store = new MemoryStore(partitionKeys);
  const repo = new CosmosIncidentRepository(store);
  const request = { id: 'inc-1', reason: 'r', mode: 'contain' as const, scope: { enrollmentGroupId: 'g' } };
  const incident = newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z');
  expect((await repo.create(incident)).created).toBe(true);
  expect(await repo.create(incident)).toMatchObject({ created: false, incident: { id: 'inc-1', status: 'received' } });
  await repo.putTargets('inc-1', 0, [{ registrationId: 'd', via: 'group' }]);
  expect(await repo.targets('inc-1', 0)).toEqual([{ registrationId: 'd', via: 'group' }]);

  // Another writer gets in between this read and this write: the write fails on the etag, and the change is
  // applied again to what the other writer left.
  const container = store.container(CONTAINERS.incidents.name);
  const realReplace = container.replace.bind(container);
  let interfered = false;
  container.replace = async (doc) => {
    if (!interfered) {
      interfered = true;
      const stored = await container.read('inc-1', 'inc-1');
      await container.upsert({ ...stored!, notes: ['from the other writer'] });
    }
    return realReplace(doc);
  };
  let calls = 0;
  const updated = await repo.update('inc-1', (i) => (calls++, { ...i, status: 'planning' }));
  expect(calls).toBe(2);
  expect(updated).toMatchObject({ status: 'planning', notes: ['from the other writer'] });
});
