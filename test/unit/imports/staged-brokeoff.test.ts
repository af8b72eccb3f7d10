/**
 * A request whose upload breaks off late must not fail the job another request under the same Idempotency-Key took
 * over and started (security review s8b, finding 1: brokeOff failed the job whatever its status). Also: an empty body
 * or a pin that comes back empty fails the request's own staging, so a retry stages again at once.
 */
import { ValidationError } from '../../../shared/errors';
import { jobIdFor, stageUpload } from '../../../shared/imports/stage';
import type { StagedFilesPort } from '../../../shared/ports';
import { bodyOf, stagedFilesInMemory, stagingRig } from '../../support/staging-fakes';

test('a late broken upload does not fail a job a retry already handed to validation', async () => {
  let now = Date.parse('2026-11-01T00:00:00Z');
  const { jobs, sent, deps } = stagingRig({ now: () => now });
  const request = {
    manufacturerId: 'acme',
    createdBy: 'maker',
    format: 'csv' as const,
    idempotencyKey: 'k1',
    maxBytes: 1e6,
  };

  // A: a slow maker's body that later breaks (the client drops the connection).
  let breakA!: (err: Error) => void;
  const broken = new Promise<never>((_, reject) => (breakA = reject));
  const slowBody = (async function* () {
    yield Buffer.from('a,b\n');
    await broken;
  })();
  const a = stageUpload(deps, { ...request, body: slowBody });
  await new Promise((r) => setImmediate(r));

  // B: the same key, past ABANDONED_AFTER_MS without a word from A: takes the job over and starts it.
  now += 3 * 60_000;
  const b = await stageUpload(deps, { ...request, body: bodyOf('x,y\n') });
  expect(b.job.status).toBe('validating');
  expect(sent).toHaveLength(1);

  // A's connection breaks now.
  const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
  breakA(aborted);
  await expect(a).rejects.toBe(aborted);

  // The started job must still be validating (validateStaged skips any job not 'validating').
  expect((await jobs.get(b.job.jobId))?.status).toBe('validating');
});

describe("a request's own staging that ends without a file is failed, so a retry stages again at once", () => {
  const setup = (pin: StagedFilesPort['pin']) => stagingRig({ files: stagedFilesInMemory({ pin }) });
  const request = {
    manufacturerId: 'acme',
    createdBy: 'maker',
    format: 'csv' as const,
    idempotencyKey: 'k3',
    maxBytes: 1e6,
  };
  const jobId = jobIdFor('acme', 'k3');

  test('an empty body: 400, the job failed saying so, and the retry with the file is accepted', async () => {
    const { jobs, sent, deps } = setup(async () => ({ snapshot: 's1', etag: '"e4"', bytes: 4 }));
    await expect(stageUpload(deps, { ...request, body: (async function* () {})() })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(await jobs.get(jobId)).toMatchObject({ status: 'failed', reason: 'the body was empty; send the file' });
    const retried = await stageUpload(deps, { ...request, body: bodyOf() });
    expect(retried).toMatchObject({ kind: 'accepted', job: { status: 'validating' } });
    expect(sent).toHaveLength(1);
  });

  test('a pin that comes back empty: the job failed, not left staging', async () => {
    const { jobs, sent, deps } = setup(async () => undefined);
    await expect(stageUpload(deps, { ...request, body: bodyOf() })).rejects.toThrow('vanished as it was stored');
    expect(await jobs.get(jobId)).toMatchObject({ status: 'failed' });
    expect(sent).toHaveLength(0);
  });
});
