/**
 * Our Storage adapters (shared/azure/queues.ts, blobs.ts) against Azurite through its fault proxy, when a call stalls:
 * the SDKs would wait for ever, the adapters give up at their deadline with a TransientError, try reads and
 * whole-blob writes again, never send a queue message twice, and append a block again only when it is not there.
 *
 * The deadline here is 3 s, and a stall never answers: whatever the machine's speed, the stalled call is abandoned
 * and the next one, unstalled, answers long before its own deadline.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';

import { NO_FAULTS } from '../../../dev/faults/plan';
import { StorageBlobs } from '../../../shared/azure/blobs';
import { queueService, StorageQueues } from '../../../shared/azure/queues';
import { TransientError } from '../../../shared/errors';
import { startTestStack, type TestStack } from '../../support/stack';

const DEADLINE_MS = 3000;
let stack: TestStack;
let queues: StorageQueues;
let blobs: StorageBlobs;

beforeAll(async () => {
  stack = await startTestStack({ faults: NO_FAULTS, withStorage: true });
  const connectionString = stack.env.AzureWebJobsStorage; // through the proxy
  const options = { deadlineMs: DEADLINE_MS, retry: { transientBaseDelayMs: 1 } };
  queues = new StorageQueues(queueService({ connectionString }), options);
  blobs = new StorageBlobs({ connectionString }, options);
  await direct('stalled-sends').create();
});
afterEach(() => {
  stack.faults?.set(NO_FAULTS);
  stack.faults?.resetCounts();
});
afterAll(async () => {
  await stack?.close();
});

const faults = () => stack.faults as NonNullable<TestStack['faults']>;
/** Azurite itself, around the proxy: what is really there. */
const direct = (queue: string) => new QueueClient(stack.azurite?.connectionString as string, queue);
const directBlob = (container: string, name: string) =>
  BlobServiceClient.fromConnectionString(stack.azurite?.connectionString as string)
    .getContainerClient(container)
    .getBlobClient(name);
const text = async (container: string, name: string) =>
  (await directBlob(container, name).downloadToBuffer()).toString('utf8');
/** The deadline, and a few milliseconds a kilobyte for what an append sends. */
const NO_ANSWER = /no answer within 30\d\d ms/;

test('a queue send that stalls ends at its deadline as a transient fault, and is never sent twice', async () => {
  faults().set({
    rules: [
      { service: 'storage', operation: 'sendMessage', calls: [1], fault: { kind: 'stall' } },
      { service: 'storage', operation: 'sendMessage', calls: [2], fault: { kind: 'stall', afterApply: true } },
    ],
  });
  const first = queues.send('stalled-sends', { n: 1 });
  await expect(first).rejects.toBeInstanceOf(TransientError);
  await expect(first).rejects.toThrow(NO_ANSWER);
  expect((await direct('stalled-sends').peekMessages()).peekedMessageItems).toEqual([]);
  // Enqueued, its answer never came: the adapter does not send it again.
  await expect(queues.send('stalled-sends', { n: 2 })).rejects.toThrow(NO_ANSWER);
  const { peekedMessageItems } = await direct('stalled-sends').peekMessages({ numberOfMessages: 32 });
  expect(peekedMessageItems.map((m) => JSON.parse(Buffer.from(m.messageText, 'base64').toString()))).toEqual([
    { n: 2 },
  ]);
  expect(faults().calls('storage', 'sendMessage')).toBe(2);
});

test('a blob write and a blob read that stall are tried again and succeed', async () => {
  faults().set({
    rules: [
      { service: 'storage', operation: 'uploadBlob', calls: [1], fault: { kind: 'stall', afterApply: true } },
      {
        service: 'storage',
        operation: ['getBlobProperties', 'downloadBlob'],
        calls: [1],
        fault: { kind: 'stall' },
      },
    ],
  });
  await blobs.put('stalled-blobs', 'plan.json', '{"devices":3}');
  expect(faults().calls('storage', 'uploadBlob')).toBe(2); // the second try answered
  expect(await text('stalled-blobs', 'plan.json')).toBe('{"devices":3}');
  expect(await blobs.get('stalled-blobs', 'plan.json')).toBe('{"devices":3}');
  expect(await blobs.get('stalled-blobs', 'absent.json')).toBeUndefined();
  expect(faults().summary()).toBe('injected 2 faults: storage 2 stall');
});

test('an append whose answer is lost is judged by the tail of the blob: applied, it is not appended again; not applied, it is', async () => {
  await blobs.append('stalled-trail', 'day.ndjson', '{"id":"a"}\n');
  faults().set({
    rules: [
      { service: 'storage', operation: 'appendBlock', calls: [1], fault: { kind: 'stall', afterApply: true } },
      { service: 'storage', operation: 'appendBlock', calls: [2], fault: { kind: 'resetAfterApply' } },
      { service: 'storage', operation: 'appendBlock', calls: [3], fault: { kind: 'stall' } },
      { service: 'storage', operation: 'appendBlock', calls: [5], fault: { kind: 'resetBeforeApply' } },
    ],
  });
  faults().resetCounts();
  await blobs.append('stalled-trail', 'day.ndjson', '{"id":"b"}\n'); // applied, answer never came: found in the tail
  await blobs.append('stalled-trail', 'day.ndjson', '{"id":"c"}\n'); // applied, connection reset: found
  await blobs.append('stalled-trail', 'day.ndjson', '{"id":"d"}\n'); // stalled unapplied: not there, sent again (4th)
  await blobs.append('stalled-trail', 'day.ndjson', '{"id":"e"}\n'); // reset unapplied: sent again (6th)
  expect(faults().calls('storage', 'appendBlock')).toBe(6);
  expect(await text('stalled-trail', 'day.ndjson')).toBe(
    '{"id":"a"}\n{"id":"b"}\n{"id":"c"}\n{"id":"d"}\n{"id":"e"}\n',
  );
});
