/**
 * Settling a job's counts: each chunk's outcomes are added exactly once (the job's bitmap of counted chunks, under
 * its etag), and the job is done when every chunk is counted. Emits `import.progress` and `import.completed`.
 */
import { ConflictError } from '../errors';
import type { DocumentStore, EventsPort } from '../ports';
import { bitIsSet, jobsContainer, setBit, type ChunkDocument, type Counts, type JobDocument } from './import-jobs';

export interface ProgressDeps {
  store: () => Promise<DocumentStore>;
  events: () => Promise<EventsPort>;
  clock?: () => Date;
}

async function publish(deps: ProgressDeps, type: string, job: JobDocument): Promise<void> {
  await (await deps.events()).publish([{
    type, subject: job.jobId, time: new Date().toISOString(),
    data: { jobId: job.jobId, manufacturerId: job.manufacturerId, status: job.status, counts: job.counts, chunks: job.chunks, chunksDone: job.chunksDone },
  }]);
}

/** Marks the job done once every chunk is counted (and validation is over). */
export async function finishIfComplete(deps: ProgressDeps, job: JobDocument): Promise<JobDocument> {
  const container = jobsContainer(await deps.store());
  let current = job;
  while (current.status === 'enrolling' && current.chunksDone >= current.chunks) {
    const now = (deps.clock ?? (() => new Date()))().toISOString();
    try {
      current = (await container.replace({ ...current, status: 'done', completedAt: now, updatedAt: now })) as JobDocument;
      await publish(deps, 'import.completed', current);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      current = (await container.read(job.jobId, job.jobId)) as JobDocument;
    }
  }
  return current;
}

function outcomes(chunk: ChunkDocument): Pick<Counts, 'enrolled' | 'alreadyEnrolled' | 'failed'> {
  const c = { enrolled: 0, alreadyEnrolled: 0, failed: 0 };
  for (const row of chunk.rows) if (row.status === 'enrolled' || row.status === 'alreadyEnrolled' || row.status === 'failed') c[row.status]++;
  return c;
}

/** Adds a finished chunk's outcomes to its job, once. */
export async function countChunk(deps: ProgressDeps, chunk: ChunkDocument): Promise<JobDocument | undefined> {
  const container = jobsContainer(await deps.store());
  for (;;) {
    const job = (await container.read(chunk.jobId, chunk.jobId)) as JobDocument | undefined;
    if (!job || job.type !== 'job') return undefined;
    if (bitIsSet(job.countedChunks, chunk.index)) return job;
    const add = outcomes(chunk);
    try {
      const counted = (await container.replace({
        ...job, countedChunks: setBit(job.countedChunks, chunk.index), chunksDone: job.chunksDone + 1, updatedAt: new Date().toISOString(),
        counts: { ...job.counts, enrolled: job.counts.enrolled + add.enrolled, alreadyEnrolled: job.counts.alreadyEnrolled + add.alreadyEnrolled, failed: job.counts.failed + add.failed },
      })) as JobDocument;
      await publish(deps, 'import.progress', counted);
      return finishIfComplete(deps, counted);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err; // another chunk was counted meanwhile
    }
  }
}
