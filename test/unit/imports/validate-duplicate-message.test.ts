/**
 * Queues deliver at least once, and a retried hand-over sends the validation message again: a second share that finds
 * the staged file gone because the first share finished (and deleted it) must not fail the job that is enrolling.
 */
import { jobIdFor, stageUpload } from '../../../shared/imports/stage';
import { validateStaged } from '../../../shared/imports/validate';
import { bodyOf, stagedFilesInMemory, stagingRig } from '../../support/staging-fakes';

test('a duplicate share that finds the file gone leaves an enrolling job enrolling', async () => {
  const jobId = jobIdFor('acme', 'k5');
  const files = stagedFilesInMemory({
    // The first share finishes between this share's read of the job and its look at the file, which is gone.
    unchangedSince: async () => {
      await jobs.update(jobId, (d) => ({ ...d, status: 'enrolling' }));
      return false;
    },
  });
  const { jobs, deps } = stagingRig({ files });
  const request = {
    manufacturerId: 'acme',
    createdBy: 'm',
    format: 'csv' as const,
    idempotencyKey: 'k5',
    maxBytes: 1e6,
  };
  await stageUpload(deps, { ...request, body: bodyOf() });

  await validateStaged(deps, { jobId }, { rules: {} as never, maxRows: 10 });

  expect(await jobs.get(jobId)).toMatchObject({ status: 'enrolling' });
  expect((await jobs.get(jobId))?.reason).toBeUndefined();
});
