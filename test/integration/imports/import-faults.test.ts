/**
 * An import through the real queue worker while DPS loses answers to bulk creates it applied, answers 503, and Cosmos
 * drops connections after writing: every row is enrolled exactly once, the job's counts equal what DPS holds, the row
 * report names each row once, and each enrollment is audited once. One seeded plan, one schedule. And a chunk DPS
 * keeps refusing ends in the poison queue with its job failed, saying which rows are left.
 */
import { QueueClient } from '@azure/storage-queue';

import { randomEk } from '../../../dev/ek-factory';
import type { FaultPlan } from '../../../dev/faults/plan';
import { NO_FAULTS } from '../../../dev/faults/plan';
import type { RunningHost } from '../../../dev/host/host';
import type { AuditDocument } from '../../../shared/audit';
import { CONTAINERS } from '../../../shared/containers';
import { startFunctionApp } from '../../support/app-host';
import { eventually, importSettled } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';

const ACME = 'Bearer dev-acme-tpm-secret-not-a-secret';
const ROWS = 250; // three chunks, 25 bulk calls without faults

let stack: TestStack;
let host: RunningHost;

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true, faults: NO_FAULTS });
  Object.assign(process.env, stack.env);
  host = await startFunctionApp();
});
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

const call = (path: string, init: { method?: string; body?: string; type?: string; key?: string } = {}) =>
  fetch(`${host.baseUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': init.type ?? 'text/csv', 'x-functions-key': 'fk', authorization: ACME },
    body: init.body,
  });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const waitSettled = (location: string): Promise<Json> =>
  importSettled(async () => (await (await call(location)).json()) as Json, location);

async function allRows(location: string): Promise<Array<{ line: number; registrationId?: string; status: string }>> {
  const rows: Json[] = [];
  let token: string | undefined;
  do {
    const page = (await (
      await call(`${location}/rows${token ? `?continuationToken=${encodeURIComponent(token)}` : ''}`)
    ).json()) as Json;
    rows.push(...page.rows);
    token = page.continuationToken;
  } while (token);
  return rows;
}

const PLAN: FaultPlan = {
  seed: 23,
  rules: [
    // The hard case: the bulk create applied, its answer lost.
    { service: 'dps', operation: 'bulkEnrollments', probability: 0.1, fault: { kind: 'resetAfterApply' } },
    { service: 'dps', operation: 'bulkEnrollments', calls: [4, 9], fault: { kind: 'status', status: 503 } },
    { service: 'dps', operation: 'getEnrollment', calls: [2], fault: { kind: 'status', status: 503 } },
    // Checkpoints and claims written, answers lost: the retry meets 412 or 409.
    {
      service: 'cosmos',
      target: CONTAINERS.imports.name,
      operation: 'replace',
      calls: [3, 11],
      fault: { kind: 'resetAfterApply' },
    },
    { service: 'cosmos', operation: 'create', calls: [20, 57], fault: { kind: 'resetAfterApply' } },
  ],
};

test('under lost answers and 503s, every row is enrolled once and the counts are DPS’s truth', async () => {
  const lines = ['registrationId,endorsementKey'];
  for (let i = 0; i < ROWS; i++) lines.push(`acme-flt-${i},${randomEk().toString('base64')}`);
  const faults = stack.faults as NonNullable<TestStack['faults']>;
  faults.set(PLAN);
  const posted = await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body: lines.join('\n') });
  expect(posted.status).toBe(202);
  const location = posted.headers.get('location') as string;

  const job = await waitSettled(location);
  const injected = faults.counts().byService;
  faults.set(NO_FAULTS);
  // The plan did bite: lost answers to applied bulk creates, 503s, lost Cosmos answers.
  expect(injected.dps?.resetAfterApply ?? 0).toBeGreaterThan(0);
  expect(injected.dps?.['status 503'] ?? 0).toBeGreaterThan(0);
  expect(injected.cosmos?.resetAfterApply ?? 0).toBeGreaterThan(0);

  // DPS's truth: each row once, under this job's tag.
  const ours = [...stack.simulator.state.enrollments.values()].filter(
    (e) => (e.initialTwin?.tags as Json)?.importJob === job.jobId,
  );
  expect(ours).toHaveLength(ROWS);
  expect(job).toMatchObject({
    status: 'done',
    counts: { rows: ROWS, valid: ROWS, enrolled: ROWS, alreadyEnrolled: 0, failed: 0 },
  });

  const rows = await allRows(location);
  expect(rows).toHaveLength(ROWS);
  expect(new Set(rows.map((r) => r.line)).size).toBe(ROWS);
  expect(rows.every((r) => r.status === 'enrolled')).toBe(true);
  expect(new Set(rows.map((r) => r.registrationId))).toEqual(new Set(ours.map((e) => e.registrationId)));

  // The audit names every enrollment exactly once, lost answers and replays included.
  const audit = await stack.services.store
    .container<AuditDocument>(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.actor = @actor', { '@actor': `import:${job.jobId}` }, { maxItems: 1000 });
  const audited = audit.items.flatMap((a) => a.target.ids ?? [a.target.id]);
  expect(audited).toHaveLength(ROWS);
  expect(new Set(audited).size).toBe(ROWS);
});

test('a chunk that fails every delivery goes to the poison queue, and its job says so and what is left', async () => {
  const faults = stack.faults as NonNullable<TestStack['faults']>;
  // Not transient (400): each delivery fails at once, five deliveries, then the poison queue.
  faults.set({ rules: [{ service: 'dps', operation: 'bulkEnrollments', fault: { kind: 'status', status: 400 } }] });
  faults.resetCounts();
  const csv = [
    'registrationId,endorsementKey',
    ...[0, 1, 2].map((i) => `acme-psn-${i},${randomEk().toString('base64')}`),
  ];
  const posted = await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body: csv.join('\n') });
  const job = await waitSettled(posted.headers.get('location') as string);
  const refused = faults.calls('dps', 'bulkEnrollments');
  faults.set(NO_FAULTS);

  expect(job.status).toBe('failed');
  expect(job.reason).toMatch(
    /^chunk 0: 3 rows not enrolled \(lines 2–4\), its message is in the poison queue: failed 5 deliveries/,
  );
  expect(refused).toBe(5);
  const poison = new QueueClient(process.env.AzureWebJobsStorage as string, 'import-chunks-poison');
  // The job is marked before the host moves the message: wait for the move itself.
  const messages = await eventually(
    async () => {
      const { peekedMessageItems } = await poison
        .peekMessages({ numberOfMessages: 32 })
        .catch(() => ({ peekedMessageItems: [] }));
      const peeked: Json[] = peekedMessageItems.map((p) =>
        JSON.parse(Buffer.from(p.messageText, 'base64').toString('utf8')),
      );
      return peeked.some((m) => m.jobId === job.jobId) && peeked;
    },
    'the poisoned chunk message in the poison queue',
    { everyMs: 100 },
  );
  expect(messages).toContainEqual({ jobId: job.jobId, chunk: 0 });
  expect([0, 1, 2].map((i) => stack.simulator.state.enrollments.has(`acme-psn-${i}`))).toEqual([false, false, false]);
});
