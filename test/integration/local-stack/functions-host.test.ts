/**
 * The local Functions host drives non-HTTP triggers as the real host does: queue messages from Azurite (deleted on
 * success, retried, then moved to the poison queue), timers and Event Hubs triggers on demand through the admin API.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { InvocationContext } from '@azure/functions';

import type { RunningHost } from '../../../dev/host/host';
import { decodeQueueMessage } from '../../../dev/host/queue-driver';
import { type FunctionRegistration, http, registeredFunctions } from '../../../functions/edge/registry';
import { queueService, StorageQueues } from '../../../shared/azure/queues';
import { ThrottledError } from '../../../shared/errors';
import { NdjsonEventLog } from '../../../shared/local/event-log';
import { startAppHost } from '../../support/app-host';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let host: RunningHost;
const seen: Array<{ fn: string; input: unknown; dequeueCount?: unknown }> = [];
const record = (fn: string) => async (input: unknown, context: InvocationContext) => {
  seen.push({ fn, input, dequeueCount: context.triggerMetadata?.dequeueCount });
  if ((input as { fail?: boolean })?.fail) throw new Error('handler failed on purpose');
};

const registrations: FunctionRegistration[] = [
  {
    name: 'work',
    trigger: 'storageQueue',
    options: { queueName: 'work-items', connection: 'AzureWebJobsStorage', handler: record('work') },
  },
  { name: 'tick', trigger: 'timer', options: { schedule: '0 0 3 * * *', handler: record('tick') } },
  {
    name: 'alerts',
    trigger: 'eventHub',
    options: {
      eventHubName: 'security-alerts',
      connection: 'EVENTHUB_CONNECTION',
      cardinality: 'many',
      handler: record('alerts'),
    },
  },
];

const until = async (check: () => boolean, ms = 10000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

// Registered the way trigger files register, so it carries the one error-to-HTTP mapping.
http('throttled', {
  route: 'throttled',
  methods: ['GET'],
  authLevel: 'function',
  handler: async () => {
    throw new ThrottledError('DPS said 429', 4000, 429001);
  },
});

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  host = await startAppHost({
    registrations: [...registrations, ...registeredFunctions()],
    env: stack.env,
    queue: { maxDequeueCount: 2, retryDelaySeconds: 0 },
  });
});
afterAll(async () => {
  await host?.close();
  await stack?.close();
});

test('a queue message reaches its function once and is deleted; a failing one is retried, then poisoned', async () => {
  const queues = new StorageQueues(queueService({ connectionString: stack.env.AzureWebJobsStorage }));
  await queues.send('work-items', { chunk: 1 });
  await until(() => seen.some((s) => s.fn === 'work'));
  expect(seen.find((s) => s.fn === 'work')).toEqual({ fn: 'work', input: { chunk: 1 }, dequeueCount: 1 });

  await queues.send('work-items', { chunk: 2, fail: true });
  const poison = queueService({ connectionString: stack.env.AzureWebJobsStorage }).getQueueClient('work-items-poison');
  await until(() => seen.filter((s) => s.fn === 'work' && (s.input as { chunk: number }).chunk === 2).length === 2);
  let poisoned: string[] = [];
  for (let i = 0; i < 100 && poisoned.length === 0; i++) {
    if (await poison.exists()) poisoned = (await poison.peekMessages()).peekedMessageItems.map((m) => m.messageText);
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(poisoned.map((m) => decodeQueueMessage(m))).toEqual([{ chunk: 2, fail: true }]);
  expect(seen.filter((s) => s.fn === 'work')).toHaveLength(3); // once for chunk 1, twice for chunk 2
});

test('the admin API runs a timer and feeds an Event Hubs trigger; it wants the master key', async () => {
  const post = (path: string, body: unknown, key = 'mk') =>
    fetch(`${host.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'x-functions-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  expect((await post('/admin/functions/tick', {}, 'fk')).status).toBe(401);
  expect((await post('/admin/functions/tick', {})).status).toBe(202);
  expect(seen.filter((s) => s.fn === 'tick')).toHaveLength(1);
  expect((await post('/admin/eventhubs/security-alerts', [{ id: 'inc-1' }, { id: 'inc-2' }])).status).toBe(202);
  expect(seen.find((s) => s.fn === 'alerts')?.input).toEqual([{ id: 'inc-1' }, { id: 'inc-2' }]);
  expect((await post('/admin/functions/nope', {})).status).toBe(404);
});

test('the local event log is append-only NDJSON, one event a line, in publish order', async () => {
  const path = join(stack.dataDir, 'events-test.ndjson');
  const log = new NdjsonEventLog(path);
  const event = (n: number) => ({
    type: 'test.happened',
    subject: `device-${n}`,
    time: new Date(0).toISOString(),
    data: { n },
  });
  await Promise.all([log.publish([event(1), event(2)]), log.publish([event(3)])]);
  await log.publish([event(4)]);
  const lines = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(lines.map((e) => e.data.n)).toEqual([1, 2, 3, 4]);
});

test('an HTTP function that throws is answered in the one error shape: a throttled dependency is a 503 with Retry-After', async () => {
  const res = await fetch(`${host.baseUrl}/api/throttled`, { headers: { 'x-functions-key': 'fk' } });
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('4');
  const body = (await res.json()) as Record<string, string>;
  expect(body).toMatchObject({ error: 'ServiceUnavailable', correlationId: res.headers.get('x-correlation-id') });
  expect(body.correlationId).toMatch(/^[0-9a-f-]{36}$/);
});
