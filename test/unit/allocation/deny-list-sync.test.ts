/**
 * The deny list reaches every webhook instance through its change log, over the in-memory document store: an
 * instance loads the whole list once, then each refresh reads only the log records after its position and the
 * entries they name — whatever the size of the list — and a log that no longer reaches back means a full load.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { DenyEntry } from '../../../shared/allocation/rules/deny-list';
import { AllocationRuntime } from '../../../shared/allocation/runtime';
import { CONTAINERS } from '../../../shared/containers';
import { CosmosDenyListRepository } from '../../../shared/incidents/store/deny-list-repository';
import type { StoredDocument } from '../../../shared/ports';
import { type MemoryContainer, MemoryStore } from '../../support/memory-store';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', name), 'utf8')) as Record<string, unknown>;
const REQUEST = fixture('allocation-request.symmetric-key-group.json');
const DEVICE = 'breakroom499-contoso-tstrsd-007';
const LIST_SIZE = 10_000;
const POLICY = {
  id: 'sync-test',
  pools: { all: { hubs: [{ hostName: 'contoso-east-hub.azure-devices.net' }] } },
  rules: [{ name: 'everyone', match: {}, pool: 'all' }],
};

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const entry = (value: string): DenyEntry => ({ kind: 'registrationId', value, reason: 'leaked key' });

interface Instance {
  runtime: AllocationRuntime;
  /** Documents the instance's refreshes read: query results plus point reads. */
  documentsRead: () => number;
}

/** A webhook instance of its own (its own repository object) over the shared store, counting what it reads. */
function instance(store: MemoryStore): Instance {
  const containers = [CONTAINERS.denyList.name, CONTAINERS.denyLog.name].map(
    (name) => store.container(name) as MemoryContainer<StoredDocument>,
  );
  let reads = 0;
  const feedStore = {
    container: (name: string) => {
      const container = store.container(name) as MemoryContainer<StoredDocument>;
      return {
        ...container,
        query: container.query.bind(container),
        read: (id: string, pk: string) => {
          reads++;
          return container.read(id, pk);
        },
      };
    },
  } as unknown as MemoryStore;
  const feed = new CosmosDenyListRepository(feedStore);
  const runtime = new AllocationRuntime({
    loadPolicy: async () => ({ doc: POLICY, version: 'test' }),
    denyList: async () => feed,
    loadHubLoad: async () => new Map(),
    events: async () => ({ publish: async () => undefined, close: async () => undefined }),
  });
  return { runtime, documentsRead: () => reads + containers.reduce((n, c) => n + c.returned, 0) };
}

async function status(runtime: AllocationRuntime): Promise<number> {
  return (await runtime.allocate(structuredClone(REQUEST))).status;
}

let store: MemoryStore;
let writer: CosmosDenyListRepository;
beforeEach(async () => {
  store = new MemoryStore(partitionKeys);
  writer = new CosmosDenyListRepository(store);
  await writer.hold(
    Array.from({ length: LIST_SIZE }, (_, i) => entry(`revoked-${i}`)),
    'inc-old',
  );
});

test('another instance refuses a new entry and lets a released one in, reading only what changed', async () => {
  const { runtime, documentsRead } = instance(store);
  await runtime.start();
  expect(await status(runtime)).toBe(200);
  expect(documentsRead()).toBeGreaterThanOrEqual(LIST_SIZE); // the first load reads everything, once

  let before = documentsRead();
  await writer.hold([entry(DEVICE)], 'inc-new');
  await runtime.refreshDenyList();
  expect(await status(runtime)).toBe(403);
  const readForOneChange = documentsRead() - before;
  expect(readForOneChange).toBeLessThanOrEqual(2); // the log record and the entry it names, not 10,000

  before = documentsRead();
  await runtime.refreshDenyList(); // nothing new: the entry named last time is read once more, nothing else
  expect(documentsRead() - before).toBeLessThanOrEqual(1);

  await writer.release([entry(DEVICE)], 'inc-new');
  await runtime.refreshDenyList();
  expect(await status(runtime)).toBe(200);
  await runtime.stop();
});

test('an entry still on its way to the replica the instance reads is read again at the next refresh', async () => {
  const { runtime } = instance(store);
  await runtime.start();
  await writer.hold([entry(DEVICE)], 'inc-new');
  // The log record is visible, the entry not yet (another container, a replica behind): the first read misses it.
  const container = store.container(CONTAINERS.denyList.name);
  const read = container.read.bind(container);
  container.read = async (id, pk) => (id.includes(DEVICE) ? ((container.read = read), undefined) : read(id, pk));
  await runtime.refreshDenyList();
  expect(await status(runtime)).toBe(200);
  await runtime.refreshDenyList();
  expect(await status(runtime)).toBe(403);
  await runtime.stop();
});

test('writers at the same time take every sequence number once, with no hole a reader would take for an expiry', async () => {
  await Promise.all(Array.from({ length: 8 }, (_, i) => writer.hold([entry(`burst-${i}`)], `inc-${i}`)));
  const log = await store.container(CONTAINERS.denyLog.name).query('SELECT * FROM c', {}, { partitionKey: 'deny' });
  const seqs = log.items.map((r) => r.seq as number).filter((s) => s !== undefined);
  expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  expect(log.items.find((r) => r.id === 'head')?.head).toBe(seqs.length);
  expect(await writer.changesSince(0, [])).toMatchObject({ position: seqs.length });
});

test('an instance whose position the log no longer reaches loads the whole list again', async () => {
  const { runtime, documentsRead } = instance(store);
  await runtime.start();
  await writer.hold([entry(DEVICE)], 'inc-new');
  await writer.hold([entry('another')], 'inc-new');
  // The first of the two records expires (its ttl) before this instance reads it.
  const records = await store
    .container(CONTAINERS.denyLog.name)
    .query('SELECT * FROM c WHERE c.seq > @after ORDER BY c.seq', { '@after': 0 }, { partitionKey: 'deny' });
  const firstNew = records.items[records.items.length - 2];
  expect(firstNew.ttl).toBeGreaterThan(0);
  await store.container(CONTAINERS.denyLog.name).delete(firstNew.id, 'deny');
  const before = documentsRead();
  await runtime.refreshDenyList();
  expect(documentsRead() - before).toBeGreaterThanOrEqual(LIST_SIZE);
  expect(await status(runtime)).toBe(403);
  await runtime.stop();
});
