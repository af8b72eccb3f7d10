/**
 * Settling a job's counts: each chunk's outcomes are added exactly once (the job's bitmap of counted chunks, under
 * its etag), and the job is done when every chunk is counted. Emits `import.progress` and `import.completed`.
 */
import { type Clock, type EventsPort, timeOf } from '../ports';
import {
  bitIsSet,
  type ChunkDocument,
  type Counts,
  type ImportJobRepository,
  type JobDocument,
  setBit,
} from './job-store';

export interface ProgressDeps {
  importJobs: () => Promise<ImportJobRepository>;
  events: () => Promise<EventsPort>;
  clock?: Clock;
}

/** `import.*` events carry the job's counts and progress; `data` adds what only that moment knows. */
export async function publishJob(
  deps: { events: () => Promise<EventsPort>; clock?: Clock },
  type: string,
  job: JobDocument,
  data: Record<string, unknown> = {},
): Promise<void> {
  await (
    await deps.events()
  ).publish([
    {
      type,
      subject: job.jobId,
      time: timeOf(deps)().toISOString(),
      data: {
        jobId: job.jobId,
        manufacturerId: job.manufacturerId,
        status: job.status,
        counts: job.counts,
        chunks: job.chunks,
        chunksDone: job.chunksDone,
        ...data,
      },
    },
  ]);
}

/** Marks the job done once every chunk is counted (and validation is over). */
export async function finishIfComplete(deps: ProgressDeps, job: JobDocument): Promise<JobDocument> {
  if (job.status !== 'enrolling' || job.chunksDone < job.chunks) return job;
  let finished = false;
  const now = timeOf(deps)().toISOString();
  const current = await (
    await deps.importJobs()
  ).update(job.jobId, (d) => {
    finished = d.status === 'enrolling' && d.chunksDone >= d.chunks;
    return finished ? { ...d, status: 'done', completedAt: now, updatedAt: now } : undefined;
  });
  if (finished && current) await publishJob(deps, 'import.completed', current);
  return current ?? job;
}

function outcomes(chunk: ChunkDocument): Pick<Counts, 'enrolled' | 'alreadyEnrolled' | 'failed'> {
  const c = { enrolled: 0, alreadyEnrolled: 0, failed: 0 };
  for (const row of chunk.rows)
    if (row.status === 'enrolled' || row.status === 'alreadyEnrolled' || row.status === 'failed') c[row.status]++;
  return c;
}

/** Adds a finished chunk's outcomes to its job, once. */
export async function countChunk(deps: ProgressDeps, chunk: ChunkDocument): Promise<JobDocument | undefined> {
  const add = outcomes(chunk);
  let added = false;
  const job = await (
    await deps.importJobs()
  ).update(chunk.jobId, (d) => {
    added = !bitIsSet(d.countedChunks, chunk.index);
    return added
      ? {
          ...d,
          countedChunks: setBit(d.countedChunks, chunk.index),
          chunksDone: d.chunksDone + 1,
          updatedAt: timeOf(deps)().toISOString(),
          counts: {
            ...d.counts,
            enrolled: d.counts.enrolled + add.enrolled,
            alreadyEnrolled: d.counts.alreadyEnrolled + add.alreadyEnrolled,
            failed: d.counts.failed + add.failed,
          },
        }
      : undefined;
  });
  if (!job) return job;
  if (added) await publishJob(deps, 'import.progress', job);
  // Even when this call found the chunk counted: that may be our own write whose answer was lost (the store tried it
  // again, met 412, and the re-read showed the bit set), and the job must still be finished.
  return finishIfComplete(deps, job);
}

/**
 * The job fails with its reason; `import.completed` says so. `only` says which job may still be failed (read inside
 * the write, under its etag): a caller that read the job earlier fails it only as it read it, never a job someone
 * else has moved on meanwhile. Answers the failed job, or undefined when it was not failed.
 */
export async function failJob(
  deps: { events: () => Promise<EventsPort>; clock?: Clock },
  jobs: ImportJobRepository,
  jobId: string,
  reason: string,
  clock: () => Date,
  only: (current: JobDocument) => boolean = () => true,
): Promise<JobDocument | undefined> {
  let failed = false;
  const job = await jobs.update(jobId, (d) => {
    failed = only(d);
    return failed ? { ...d, status: 'failed', reason, updatedAt: clock().toISOString() } : undefined;
  });
  if (!job || !failed) return undefined;
  await publishJob(deps, 'import.completed', job);
  return job;
}
