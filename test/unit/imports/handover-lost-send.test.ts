/**
 * handOver moves the job to 'validating' and then sends its queue message once: a lost answer is a TransientError, a
 * 503 "try again". The retry under the same Idempotency-Key finds the job 'validating' with its validation untouched
 * and sends the message again (security review s8b, finding 3), for a streamed upload and for a direct upload's start.
 */
import { TransientError } from '../../../shared/errors';
import { openUploadSlot, stageUpload, startUploaded } from '../../../shared/imports/stage';
import { bodyOf, stagedFilesInMemory, stagingRig } from '../../support/staging-fakes';

/** A rig whose first queue send loses its answer. */
const losingFirstSend = (files = stagedFilesInMemory()) => {
  let lose = true;
  return stagingRig({
    files,
    beforeSend: () => {
      if (!lose) return;
      lose = false;
      throw new TransientError('send to queue import-validation: no answer within 30000 ms', undefined);
    },
  });
};

test('a retry after a lost queue send leaves the job with a validation message', async () => {
  const { sent, deps } = losingFirstSend();
  const request = {
    manufacturerId: 'acme',
    createdBy: 'm',
    format: 'csv' as const,
    idempotencyKey: 'k2',
    maxBytes: 1e6,
  };
  await expect(stageUpload(deps, { ...request, body: bodyOf() })).rejects.toBeInstanceOf(TransientError); // 503 at the edge
  const retried = await stageUpload(deps, { ...request, body: bodyOf() }); // the client does as told
  expect(retried.job.status).toBe('validating');
  expect(sent).toHaveLength(1);
});

describe("a direct upload's start whose send was lost", () => {
  const setup = () => losingFirstSend(stagedFilesInMemory({ write: async () => ({ bytes: 4, etag: '"e1"' }) }));
  const request = { manufacturerId: 'acme', createdBy: 'm', format: 'csv' as const, idempotencyKey: 'k4' };

  test('the retried start sends the validation message again', async () => {
    const { jobs, sent, deps } = setup();
    const slot = await openUploadSlot(deps, request);
    await expect(startUploaded(deps, slot.job, { maxBytes: 1e6 })).rejects.toBeInstanceOf(TransientError);
    const job = (await jobs.get(slot.job.jobId))!;
    const retried = await startUploaded(deps, job, { maxBytes: 1e6 });
    expect(retried).toMatchObject({ kind: 'existing', job: { status: 'validating' } });
    expect(sent).toEqual([{ jobId: slot.job.jobId }]);
  });

  test('once validation has saved a checkpoint, a retry sends nothing more', async () => {
    const { jobs, sent, deps } = setup();
    const slot = await openUploadSlot(deps, request);
    await expect(startUploaded(deps, slot.job, { maxBytes: 1e6 })).rejects.toBeInstanceOf(TransientError);
    const job = (await jobs.update(slot.job.jobId, (d) => ({
      ...d,
      validation: { ...d.validation!, chunks: 50, segments: 1 },
    })))!;
    await startUploaded(deps, job, { maxBytes: 1e6 });
    expect(sent).toEqual([]);
  });
});
