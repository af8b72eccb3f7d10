/**
 * An import through the real queue worker while DPS stalls: a bulk create that DPS applied and never answers, and a
 * read that never answers. The adapter abandons each at its deadline (IOT_DEADLINE_MS, here 1 s; a bulk write 2 s)
 * as a lost answer, and the chunk worker does what it does after a connection reset: sends the batch again, judges
 * the rows that now "already exist" by reading them (the stalled read is tried again), and counts each row once.
 *
 * A stall never answers: whatever the machine's speed, the stalled call is abandoned at its deadline, and every other
 * call answers long before its own (were one slower, it would be one more lost answer, which this test is about).
 */
import { randomEk } from '../../../dev/ek-factory';
import { NO_FAULTS } from '../../../dev/faults/plan';
import type { RunningHost } from '../../../dev/host/host';
import type { AuditDocument } from '../../../shared/audit';
import { CONTAINERS } from '../../../shared/containers';
import { startFunctionApp } from '../../support/app-host';
import { importSettled } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';

const ACME = 'Bearer dev-acme-tpm-secret-not-a-secret';
const ROWS = 30; // one chunk, three bulk creates of 10

let stack: TestStack;
let host: RunningHost;

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true, faults: NO_FAULTS });
  Object.assign(process.env, stack.env, { IOT_DEADLINE_MS: '1000' });
  host = await startFunctionApp();
});
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
  delete process.env.IOT_DEADLINE_MS;
});

const call = (path: string, init: { method?: string; body?: string } = {}) =>
  fetch(`${host.baseUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'text/csv', 'x-functions-key': 'fk', authorization: ACME },
    body: init.body,
  });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const waitSettled = (location: string): Promise<Json> =>
  importSettled(async () => (await (await call(location)).json()) as Json, location);

test('a bulk create that stalls after DPS applied it, and a read that stalls: every row enrolled once, the report exact', async () => {
  const lines = ['registrationId,endorsementKey'];
  for (let i = 0; i < ROWS; i++) lines.push(`acme-stl-${i},${randomEk().toString('base64')}`);
  const faults = stack.faults as NonNullable<TestStack['faults']>;
  faults.set({
    rules: [
      // The second batch lands in DPS and its answer never comes; its retry meets ten "already exists".
      { service: 'dps', operation: 'bulkEnrollments', calls: [2], fault: { kind: 'stall', afterApply: true } },
      // One of the reads that judge those ten never answers.
      { service: 'dps', operation: 'getEnrollment', calls: [3], fault: { kind: 'stall' } },
    ],
  });
  faults.resetCounts();
  const posted = await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body: lines.join('\n') });
  expect(posted.status).toBe(202);
  const location = posted.headers.get('location') as string;

  const job = await waitSettled(location);
  const injected = faults.counts().byService;
  faults.set(NO_FAULTS);
  expect(injected.dps).toEqual({ stall: 2 });

  // DPS's truth: each row once, under this job's tag.
  const ours = [...stack.simulator.state.enrollments.values()].filter(
    (e) => (e.initialTwin?.tags as Json)?.importJob === job.jobId,
  );
  expect(ours).toHaveLength(ROWS);
  expect(job).toMatchObject({
    status: 'done',
    counts: { rows: ROWS, valid: ROWS, enrolled: ROWS, alreadyEnrolled: 0, failed: 0 },
  });

  // The row report: every line once, enrolled, naming what DPS holds.
  const page = (await (await call(`${location}/rows`)).json()) as Json;
  expect(page.continuationToken).toBeUndefined();
  const rows = page.rows as Array<{ line: number; registrationId: string; status: string }>;
  expect(rows).toHaveLength(ROWS);
  expect(new Set(rows.map((r) => r.line)).size).toBe(ROWS);
  expect(rows.every((r) => r.status === 'enrolled')).toBe(true);
  expect(new Set(rows.map((r) => r.registrationId))).toEqual(new Set(ours.map((e) => e.registrationId)));

  // The audit names every enrollment once, the batch whose answer was lost included.
  const audit = await stack.services.store
    .container<AuditDocument>(CONTAINERS.audit.name)
    .query('SELECT * FROM c WHERE c.actor = @actor', { '@actor': `import:${job.jobId}` }, { maxItems: 100 });
  const audited = audit.items.flatMap((a) => a.target.ids ?? [a.target.id]);
  expect(audited).toHaveLength(ROWS);
  expect(new Set(audited).size).toBe(ROWS);
});
