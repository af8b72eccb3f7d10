/**
 * Queues deliver at least once, and a retried hand-over sends the validation message again: a second share that finds
 * the staged file gone because the first share finished (and deleted it) must not fail the job that is enrolling.
 */
import { jobIdFor, stageUpload } from '../../../shared/imports/stage';
import { validateStaged } from '../../../shared/imports/validate';
import type { StagedFilesPort } from '../../../shared/ports';
import { MemoryImportJobRepository } from '../../support/memory-repositories';

test('a duplicate share that finds the file gone leaves an enrolling job enrolling', async () => {
  const jobs = new MemoryImportJobRepository();
  const jobId = jobIdFor('acme', 'k5');
  const files: StagedFilesPort = {
    async write(_name, body) {
      for await (const _ of body);
      return { bytes: 4, etag: '"e1"' };
    },
    pin: async () => ({ snapshot: 's1', etag: '"e1"', bytes: 4 }),
    size: async () => 4,
    read: async function* () {},
    // The first share finishes between this share's read of the job and its look at the file, which is gone.
    unchangedSince: async () => {
      await jobs.update(jobId, (d) => ({ ...d, status: 'enrolling' }));
      return false;
    },
    uploadUrl: async () => 'u',
    delete: async () => undefined,
  };
  const deps = {
    importJobs: async () => jobs,
    queues: async () => ({ send: async () => undefined }),
    events: async () => ({ publish: async () => undefined, close: async () => undefined }),
    stagedFiles: async () => files,
  };
  const request = {
    manufacturerId: 'acme',
    createdBy: 'm',
    format: 'csv' as const,
    idempotencyKey: 'k5',
    maxBytes: 1e6,
  };
  await stageUpload(deps, {
    ...request,
    body: (async function* () {
      yield Buffer.from('a,b\n');
    })(),
  });

  await validateStaged(deps, { jobId }, { rules: {} as never, maxRows: 10 });

  expect(await jobs.get(jobId)).toMatchObject({ status: 'enrolling' });
  expect((await jobs.get(jobId))?.reason).toBeUndefined();
});
