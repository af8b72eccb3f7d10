/**
 * Faults on demand through the fault proxies in front of the embedded Cosmos server and Azurite, as `@azure/cosmos`
 * and `@azure/storage-queue` meet them: Cosmos 429 with `x-ms-retry-after-ms` retried by the SDK itself, a create
 * whose answer is lost after it was written, a whole-service outage on the stack's clock; a Storage outage that fails
 * a send then recovers, ServerBusy retried by the SDK, and stalls the client gives up on (before and after apply).
 */
import { QueueClient } from '@azure/storage-queue';

import { NO_FAULTS } from '../../../dev/faults/plan';
import { CONTAINERS } from '../../../shared/containers';
import { manualClock } from '../../support/manual-clock';
import { cosmosSdk, queueSdk } from '../../support/sdk-clients';
import { startTestStack, type TestStack } from '../../support/stack';

const clock = manualClock();
let stack: TestStack;
const CONTAINER = 'faults-test';
beforeAll(async () => {
  stack = await startTestStack({ clock: clock.millis, faults: NO_FAULTS, withStorage: true });
  // Set up over the direct connections, which no plan touches.
  await stack.cosmos.client
    .database(stack.env.COSMOS_DATABASE)
    .containers.createIfNotExists({ id: CONTAINER, partitionKey: { paths: ['/pk'] } });
  await direct('outage').createIfNotExists();
  await direct('busy').createIfNotExists();
  await direct('stalled').createIfNotExists();
});
afterEach(() => {
  stack.faults?.set(NO_FAULTS);
  stack.faults?.resetCounts();
});
afterAll(async () => {
  await stack.close();
});

const faults = () => stack.faults as NonNullable<TestStack['faults']>;
const container = () => cosmosSdk(stack).database(stack.env.COSMOS_DATABASE).container(CONTAINER);
const directContainer = () => stack.cosmos.client.database(stack.env.COSMOS_DATABASE).container(CONTAINER);
const direct = (queue: string) => new QueueClient(stack.azurite?.connectionString as string, queue);
const CONNECTION_LOST = /socket hang up|ECONNRESET|other side closed|disconnected/i;

test('a Cosmos 429 with x-ms-retry-after-ms is retried by the Cosmos SDK itself', async () => {
  await directContainer().items.create({ id: 'throttled', pk: 'throttled' });
  faults().set({
    rules: [
      {
        service: 'cosmos',
        target: CONTAINER,
        operation: 'read',
        calls: [1, 2],
        fault: { kind: 'status', status: 429, retryAfterMs: 20 },
      },
    ],
  });
  const read = await container().item('throttled', 'throttled').read();
  expect(read.resource?.id).toBe('throttled');
  expect(read.headers['x-ms-throttle-retry-count']).toBe(2);
  expect(faults().calls('cosmos', 'read')).toBe(3);
  expect(faults().counts().byService.cosmos).toEqual({ 'status 429': 2 });
});

test('a Cosmos create whose answer is lost after the write: the SDK fails, the document is there', async () => {
  faults().set({ rules: [{ service: 'cosmos', operation: 'create', calls: [1], fault: { kind: 'resetAfterApply' } }] });
  const c = container();
  await expect(c.items.create({ id: 'written', pk: 'written' })).rejects.toThrow(CONNECTION_LOST);
  expect((await directContainer().item('written', 'written').read()).resource?.id).toBe('written');
  // Writes are not retried by the SDK; the caller that retries meets its own write.
  await expect(c.items.create({ id: 'written', pk: 'written' })).rejects.toMatchObject({ code: 409 });
  expect(faults().calls('cosmos', 'create')).toBe(2);
});

test("a Cosmos outage on the stack's clock refuses connections, then the service is back", async () => {
  faults().set({ rules: [{ service: 'cosmos', window: { afterMs: 1000, forMs: 30_000 }, fault: { kind: 'down' } }] });
  const c = container();
  await c.items.create({ id: 'before', pk: 'x' });
  clock.advance(1000);
  await expect(c.items.create({ id: 'during', pk: 'x' })).rejects.toThrow(CONNECTION_LOST);
  clock.advance(30_000);
  await c.items.create({ id: 'after', pk: 'x' });
  const ids = (await directContainer().items.query("SELECT VALUE c.id FROM c WHERE c.pk = 'x'").fetchAll()).resources;
  expect(ids.sort()).toEqual(['after', 'before']);
  expect(faults().counts().byService.cosmos?.down).toBeGreaterThanOrEqual(1);
});

test('Cosmos answering 503 past our adapter’s tries: a TransientError that names the store', async () => {
  // An incident's stalled note tells a Cosmos outage apart: Cosmos holds the checkpoint a wait would be written to,
  // so it is left to redelivery (shared/incidents/stalled.ts).
  faults().set({ rules: [{ service: 'cosmos', operation: 'create', fault: { kind: 'status', status: 503 } }] });
  await expect(
    stack.services.store.container(CONTAINERS.incidents.name).create({ id: 'refused', incidentId: 'refused' }),
  ).rejects.toMatchObject({ name: 'TransientError', status: 503, service: 'cosmos' });
  expect(faults().counts().byService.cosmos?.['status 503']).toBeGreaterThanOrEqual(5); // tried again first
});

test('an Azurite outage through the proxy fails a queue send, then the queue takes messages again', async () => {
  faults().set({ rules: [{ service: 'storage', window: { forMs: 60_000 }, fault: { kind: 'down' } }] });
  const queue = queueSdk(stack, 'outage', { retryOptions: { maxTries: 1 } });
  await expect(queue.sendMessage('refused')).rejects.toThrow(CONNECTION_LOST);
  clock.advance(60_000);
  await queue.sendMessage('accepted');
  const { peekedMessageItems } = await direct('outage').peekMessages({ numberOfMessages: 32 });
  expect(peekedMessageItems.map((m) => m.messageText)).toEqual(['accepted']);
  expect(faults().counts().byService.storage?.down).toBeGreaterThanOrEqual(1);
});

test('Storage 503 ServerBusy is retried by the Storage SDK, and the message is sent once', async () => {
  faults().set({
    rules: [{ service: 'storage', operation: 'sendMessage', calls: [1], fault: { kind: 'status', status: 503 } }],
  });
  const queue = queueSdk(stack, 'busy', { retryOptions: { maxTries: 3, retryDelayInMs: 1, maxRetryDelayInMs: 5 } });
  await queue.sendMessage('once');
  expect(faults().calls('storage', 'sendMessage')).toBe(2);
  const { peekedMessageItems } = await direct('busy').peekMessages({ numberOfMessages: 32 });
  expect(peekedMessageItems.map((m) => m.messageText)).toEqual(['once']);
});

test('a stall outlasts the client: before apply nothing is sent, after apply the message is there unanswered', async () => {
  faults().set({
    rules: [
      { service: 'storage', operation: 'sendMessage', calls: [1], fault: { kind: 'stall' } },
      { service: 'storage', operation: 'sendMessage', calls: [2], fault: { kind: 'stall', afterApply: true } },
    ],
  });
  // The client gives up after 300 ms of silence (a stall never answers, so this is no race). The Storage SDK's own
  // `tryTimeoutInMs` is only the server-side `timeout` parameter: without an abort signal it would wait forever.
  const queue = queueSdk(stack, 'stalled', { retryOptions: { maxTries: 1 } });
  const send = (text: string) => queue.sendMessage(text, { abortSignal: AbortSignal.timeout(300) });
  await expect(send('first')).rejects.toMatchObject({ name: 'AbortError' });
  expect((await direct('stalled').peekMessages()).peekedMessageItems).toEqual([]);
  await expect(send('second')).rejects.toMatchObject({ name: 'AbortError' });
  const { peekedMessageItems } = await direct('stalled').peekMessages({ numberOfMessages: 32 });
  expect(peekedMessageItems.map((m) => m.messageText)).toEqual(['second']);
  expect(faults().summary()).toBe('injected 2 faults: storage 2 stall');
});
