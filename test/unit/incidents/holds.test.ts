/**
 * Every hold has owners, over the in-memory document store: a hold is lifted only by its last holder, what lifting
 * puts back is the first holder's, and a holder who arrives while the last one lets go is never lost.
 */
import type { DenyEntry } from '../../../shared/allocation/rules/deny-list';
import { CONTAINERS } from '../../../shared/containers';
import { holdId } from '../../../shared/incidents/repositories';
import { newIncident } from '../../../shared/incidents/rules/model';
import { CosmosDenyListRepository } from '../../../shared/incidents/store/deny-list-repository';
import { CosmosHoldRepository } from '../../../shared/incidents/store/hold-repository';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const enable = { type: 'enableEnrollment', registrationId: 'dev-1' } as const;

test('a hold is lifted by its last holder only, and puts back what the first holder found', async () => {
  const holds = new CosmosHoldRepository(new MemoryStore(partitionKeys));
  const id = holdId.enrollment('DEV-1');
  expect(await holds.acquire(id, 'inc-a', enable)).toEqual(
    expect.objectContaining({ holders: ['inc-a'], restore: enable }),
  );
  // The second incident found it disabled already: it holds too, and the first holder's restore stands.
  expect(await holds.acquire(id, 'inc-b', undefined)).toEqual(
    expect.objectContaining({ holders: ['inc-a', 'inc-b'], restore: enable }),
  );
  expect(await holds.acquire(id, 'inc-b', undefined)).toEqual(expect.objectContaining({ holders: ['inc-a', 'inc-b'] })); // idempotent
  expect(await holds.release(id, 'inc-a')).toBeUndefined();
  expect(await holds.release(id, 'inc-b')).toEqual(expect.objectContaining({ restore: enable }));
  expect(await holds.release(id, 'inc-b')).toBeUndefined(); // released twice: nothing more happens
  // A thing disabled before any incident held it: lifting the hold puts nothing back.
  await holds.acquire(holdId.group('line-9'), 'inc-c', undefined);
  const lifted = await holds.release(holdId.group('line-9'), 'inc-c');
  expect(lifted).toMatchObject({ id: 'group:line-9' });
  expect(lifted?.restore).toBeUndefined();
});

test('a holder who arrives while the last one lets go keeps the hold', async () => {
  const store = new MemoryStore(partitionKeys);
  const holds = new CosmosHoldRepository(store);
  const id = holdId.device('hub-1.azure-devices.net', 'dev-1');
  await holds.acquire(id, 'inc-a', { type: 'enableDevice', hub: 'hub-1.azure-devices.net', deviceId: 'dev-1' });
  // Between inc-a reading the hold and deleting it, inc-b joins: the delete of the version inc-a read must fail.
  const container = store.container(CONTAINERS.holds.name);
  const realDelete = container.delete.bind(container);
  let joined = false;
  container.delete = async (docId, pk, etag) => {
    if (!joined) {
      joined = true;
      await holds.acquire(id, 'inc-b', undefined);
    }
    return realDelete(docId, pk, etag);
  };
  expect(await holds.release(id, 'inc-a')).toBeUndefined();
  expect(await container.read(id, id)).toMatchObject({ holders: ['inc-b'] });
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
