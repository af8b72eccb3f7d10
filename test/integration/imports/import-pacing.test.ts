/**
 * The import worker against a DPS whose real quota is not the one configured: three times more, and half. Through the
 * real SDKs and the local stack, the worker's DPS calls paced by the shared pace (stored in Cosmos), the simulator's
 * quota and the pace on one manual clock that only sleeping moves (chunks are enrolled one after another, so every
 * sleep is the only thing happening): every 429 and every learned figure is exact, on any machine.
 */
import { randomEk } from '../../../dev/ek-factory';
import { dpsEnrollments, repositories } from '../../../shared/composition';
import { enrollChunk, type WorkerDeps } from '../../../shared/imports/enroll-chunk';
import { chunkId, type JobDocument, zeroCounts } from '../../../shared/imports/job-store';
import { validateRow, type ValidRow } from '../../../shared/imports/rules/row';
import { CosmosEkClaimRepository } from '../../../shared/imports/store/cosmos-ek-claims';
import { pacedEnrollments, Pacer } from '../../../shared/pacing';
import { CosmosPaceRepository } from '../../../shared/pacing/store/cosmos-paces';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';

const CONFIGURED = 1000; // DPS's documented operations a minute
const KEY = 'pace.dps.import-pacing-test';

function rowsOf(jobId: string, count: number): ValidRow[] {
  return Array.from({ length: count }, (_, i) => {
    const verdict = validateRow(
      { line: i + 2, fields: { registrationId: `acme-${jobId}-${i}`, endorsementKey: randomEk().toString('base64') } },
      { manufacturerId: 'acme-tpm', registrationIdPrefix: 'acme-' },
    );
    if (verdict.status !== 'valid') throw new Error(verdict.reason);
    return verdict;
  });
}

/** Enrolls `rows` rows, a chunk at a time, with DPS allowing `realPerMinute`; answers what DPS and the pace saw. */
async function importAgainst(realPerMinute: number, rows: number) {
  const clock = manualClock();
  let stack: TestStack | undefined;
  try {
    stack = await startTestStack({
      clock: clock.millis,
      withStorage: true,
      quotas: { dpsOperationsPerMinute: realPerMinute },
    });
    const services = stack.services;
    // Sleeping is the only thing that moves time: the pace's waits and every Retry-After.
    const sleep = async (ms: number) => clock.advance(ms);
    const paces = new CosmosPaceRepository(services.store);
    const pacer = new Pacer({
      paces: async () => paces,
      key: KEY,
      settings: { configuredPerMinute: CONFIGURED },
      now: clock.millis,
      sleep,
    });
    const dps = pacedEnrollments(await dpsEnrollments(stack.env), pacer);
    const jobs = await repositories({ store: async () => services.store }).importJobs();
    const deps: WorkerDeps = {
      store: async () => services.store,
      ekClaims: async () => new CosmosEkClaimRepository(services.store),
      importJobs: async () => jobs,
      enrollments: async () => dps,
      events: async () => services.events,
      retry: { sleep },
      clock,
    };
    const jobId = `pacing-${realPerMinute}`;
    const valid = rowsOf(jobId, rows);
    const chunks = Math.ceil(rows / 100);
    const now = clock.now().toISOString();
    await jobs.create({
      id: jobId,
      jobId,
      type: 'job',
      manufacturerId: 'acme-tpm',
      createdBy: 'test',
      format: 'csv',
      status: 'enrolling',
      createdAt: now,
      updatedAt: now,
      validatedAt: now,
      counts: { ...zeroCounts(), rows, valid: rows },
      chunks,
      chunksDone: 0,
      countedChunks: '',
    } as JobDocument);
    for (let c = 0; c < chunks; c++)
      await jobs.createChunk({
        id: chunkId(jobId, c),
        jobId,
        type: 'chunk',
        index: c,
        state: 'pending',
        rows: valid.slice(c * 100, c * 100 + 100),
      });
    const started = clock.millis();
    for (let c = 0; c < chunks; c++) await enrollChunk(deps, { jobId, chunk: c });
    const minutes = (clock.millis() - started) / 60_000;
    return {
      job: await jobs.get(jobId),
      throttled: stack.simulator.throttled.dpsOperations,
      perMinute: rows / minutes,
      pace: pacer.current(),
    };
  } finally {
    await stack?.close();
  }
}

test('DPS allows three times the configured rate: the pace finds it, meeting few 429s', async () => {
  const run = await importAgainst(3 * CONFIGURED, 2000);
  expect(run.job).toMatchObject({ status: 'done', counts: { enrolled: 2000, failed: 0 } });
  expect(run.throttled).toBeGreaterThan(0); // it did look past what was configured
  expect(run.throttled).toBeLessThanOrEqual(6);
  expect(run.pace?.ceilingPerMinute).toBeGreaterThanOrEqual(0.85 * 3000);
  expect(run.pace?.ceilingPerMinute).toBeLessThanOrEqual(1.2 * 3000);
  // Rows a minute of the manual clock: exact, whatever the machine.
  expect(run.perMinute).toBeGreaterThanOrEqual(0.9 * 3000);
});

test('DPS allows half the configured rate: the pace falls to it without hammering', async () => {
  const run = await importAgainst(CONFIGURED / 2, 1000);
  expect(run.job).toMatchObject({ status: 'done', counts: { enrolled: 1000, failed: 0 } });
  expect(run.throttled).toBeLessThanOrEqual(10);
  expect(run.pace?.ceilingPerMinute).toBeGreaterThanOrEqual(0.85 * 500);
  expect(run.pace?.ceilingPerMinute).toBeLessThanOrEqual(1.2 * 500);
  expect(run.pace?.perMinute).toBeLessThanOrEqual(1.2 * 500);
  expect(run.perMinute).toBeGreaterThanOrEqual(0.9 * 500);
});
