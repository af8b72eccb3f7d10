/**
 * An import message that failed its last delivery (it is now in the poison queue): the job is marked failed with the
 * reason and what is left, so it never stays "validating" or "enrolling" with nothing moving it. Chunks still queued
 * go on and are counted; the job stays failed, its reason naming each poisoned message.
 */
import { type Clock, timeOf } from '../ports';
import type { ImportJobRepository } from './job-store';

export interface PoisonDeps {
  importJobs: () => Promise<ImportJobRepository>;
  clock?: Clock;
}

/** The validation of a staged file will not go on: the job fails, saying how far it got. */
export async function validationPoisoned(deps: PoisonDeps, jobId: string, why: string): Promise<void> {
  const at = timeOf(deps)().toISOString();
  await (
    await deps.importJobs()
  ).update(jobId, (job) =>
    job.status !== 'validating' && job.status !== 'staging'
      ? undefined
      : {
          ...job,
          status: 'failed',
          reason: `validation stopped after ${job.counts.rows} rows (its message is in the poison queue): ${why}`,
          updatedAt: at,
        },
  );
}

/** One chunk will not be enrolled: the job fails, naming the chunk and its rows still unenrolled. */
export async function chunkPoisoned(deps: PoisonDeps, jobId: string, chunk: number, why: string): Promise<void> {
  const jobs = await deps.importJobs();
  const stored = await jobs.chunk(jobId, chunk);
  const left = stored?.rows.filter((r) => r.status === 'valid') ?? [];
  const lines = left.length ? ` (lines ${left[0].line}–${left[left.length - 1].line})` : '';
  const what = `chunk ${chunk}: ${left.length} rows not enrolled${lines}, its message is in the poison queue: ${why}`;
  const at = timeOf(deps)().toISOString();
  await jobs.update(jobId, (job) => {
    if (job.status === 'done' || job.reason?.includes(`chunk ${chunk}:`)) return undefined;
    const reason = job.status === 'failed' && job.reason ? `${job.reason}; ${what}` : what;
    return { ...job, status: 'failed', reason, updatedAt: at };
  });
}
