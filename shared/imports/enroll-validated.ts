/**
 * The end of validation: every row is in the chunks, the chunks with rows to enroll are queued, and the job moves on
 * to enrolling.
 */
import { QUEUES } from '../containers';
import { type QueuePort, type StagedFilesPort } from '../ports';
import { type ImportJobRepository, type ValidationCheckpoint } from './job-store';
import { finishIfComplete, type ProgressDeps, publishJob } from './progress';
import { segmentFile, type ShareWriter } from './share-writer';
import { type StagedFile } from './staged-file';

const QUEUE_SENDS_IN_FLIGHT = 16;

type EnrollDeps = ProgressDeps & { queues: () => Promise<QueuePort>; stagedFiles: () => Promise<StagedFilesPort> };

/** Every row is in the chunks: the job moves on to enrolling, and the file and the detector's segments go. */
export async function finishValidation(
  deps: EnrollDeps,
  jobs: ImportJobRepository,
  jobId: string,
  staged: StagedFile,
  writer: ShareWriter,
  clock: () => Date,
): Promise<void> {
  await enrollValidated(deps, jobs, jobId, writer.result(), clock);
  const files = await deps.stagedFiles();
  await Promise.all(
    [staged.file, ...Array.from({ length: writer.segments }, (_, i) => segmentFile(jobId, i))].map((f) =>
      files.delete(f).catch(() => undefined),
    ),
  );
}

/** Queues the chunks with rows to enroll, then says "enrolling": a crash in between leaves the job validating. */
async function enrollValidated(
  deps: EnrollDeps,
  jobs: ImportJobRepository,
  jobId: string,
  result: Pick<ValidationCheckpoint, 'counts' | 'chunks' | 'toEnroll'>,
  clock: () => Date,
): Promise<void> {
  const toEnroll = Buffer.from(result.toEnroll, 'base64'); // decoded once: a big file has half a million chunks
  const enrolls = (i: number) => ((toEnroll[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
  const enrolling = Array.from({ length: result.chunks }, (_, i) => i).filter(enrolls);
  const queues = await deps.queues();
  for (let i = 0; i < enrolling.length; i += QUEUE_SENDS_IN_FLIGHT)
    await Promise.all(
      enrolling
        .slice(i, i + QUEUE_SENDS_IN_FLIGHT)
        .map((index) => queues.send(QUEUES.importChunks, { jobId, chunk: index })),
    );
  let job = await jobs.update(jobId, (d) => {
    if (d.status !== 'validating') return undefined;
    const counted = Buffer.alloc(Math.ceil(result.chunks / 8));
    Buffer.from(d.countedChunks, 'base64').copy(counted);
    let chunksDone = d.chunksDone;
    // Chunks with nothing to enroll are settled as they are.
    for (let i = 0; i < result.chunks; i++)
      if (!enrolls(i) && !(counted[i >> 3] & (1 << (i & 7)))) {
        counted[i >> 3] |= 1 << (i & 7);
        chunksDone++;
      }
    const now = clock().toISOString();
    return {
      ...d,
      status: 'enrolling',
      chunks: result.chunks,
      chunksDone,
      countedChunks: counted.toString('base64'),
      validatedAt: now,
      updatedAt: now,
      counts: { ...d.counts, ...result.counts },
    };
  });
  if (!job) return;
  await publishJob(deps, 'import.progress', job);
  job = await finishIfComplete(deps, job);
}
