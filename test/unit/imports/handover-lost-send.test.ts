/**
 * handOver moves the job to 'validating' and then sends its queue message once: a lost answer is a TransientError, a
 * 503 "try again". The retry under the same Idempotency-Key finds the job 'validating' with its validation untouched
 * and sends the message again (security review s8b, finding 3), for a streamed upload and for a direct upload's start.
 */
import { TransientError } from '../../../shared/errors';
import { openUploadSlot, stageUpload, startUploaded } from '../../../shared/imports/stage';
import type { StagedFilesPort } from '../../../shared/ports';
import { MemoryImportJobRepository } from '../../support/memory-repositories';

test('a retry after a lost queue send leaves the job with a validation message', async () => {
  const jobs = new MemoryImportJobRepository();
  const sent: unknown[] = [];
  let lose = true;
  const files: StagedFilesPort = {
    async write(_name, body) {
      let bytes = 0;
      for await (const c of body) bytes += c.byteLength;
      return { bytes, etag: '"e1"' };
    },
    pin: async (_n, etag) => ({ snapshot: 's1', etag: etag ?? '"e1"', bytes: 4 }),
    size: async () => 4,
    read: async function* () {},
    unchangedSince: async () => true,
    uploadUrl: async () => 'u',
    delete: async () => undefined,
  };
  const deps = {
    importJobs: async () => jobs,
    queues: async () => ({
      send: async (_q: string, m: unknown) => {
        if (lose) {
          lose = false;
          throw new TransientError('send to queue import-validation: no answer within 30000 ms', undefined);
        }
        sent.push(m);
      },
    }),
    events: async () => ({ publish: async () => undefined, close: async () => undefined }),
    stagedFiles: async () => files,
  };
  const request = {
    manufacturerId: 'acme',
    createdBy: 'm',
    format: 'csv' as const,
    idempotencyKey: 'k2',
    maxBytes: 1e6,
  };
  const body = () =>
    (async function* () {
      yield Buffer.from('a,b\n');
    })();

  await expect(stageUpload(deps, { ...request, body: body() })).rejects.toBeInstanceOf(TransientError); // 503 at the edge
  const retried = await stageUpload(deps, { ...request, body: body() }); // the client does as told
  expect(retried.job.status).toBe('validating');
  expect(sent).toHaveLength(1);
});

describe("a direct upload's start whose send was lost", () => {
  const setup = () => {
    const jobs = new MemoryImportJobRepository();
    const sent: unknown[] = [];
    let lose = true;
    const files: StagedFilesPort = {
      write: async () => ({ bytes: 4, etag: '"e1"' }),
      pin: async () => ({ snapshot: 's1', etag: '"e1"', bytes: 4 }),
      size: async () => 4,
      read: async function* () {},
      unchangedSince: async () => true,
      uploadUrl: async () => 'u',
      delete: async () => undefined,
    };
    const deps = {
      importJobs: async () => jobs,
      queues: async () => ({
        send: async (_q: string, m: unknown) => {
          if (lose) {
            lose = false;
            throw new TransientError('send to queue import-validation: no answer within 30000 ms', undefined);
          }
          sent.push(m);
        },
      }),
      events: async () => ({ publish: async () => undefined, close: async () => undefined }),
      stagedFiles: async () => files,
    };
    return { jobs, sent, deps };
  };
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
