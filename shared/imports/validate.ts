/**
 * Validating a staged file, driven by the `import-validation` queue: the file is read from Blob storage by ranges,
 * every row goes through the pure checks (shared/imports/rules), verdicts land in chunk documents, and every
 * CHECKPOINT_CHUNKS chunks the position (byte offset, line, CSV header), the counts and what the duplicate detector
 * learnt are saved. A crash resumes from the last checkpoint; a share that has run for `budgetMs` saves one, queues
 * its own continuation and returns, so no invocation outgrows the host's timeout whatever the file's size. Chunks are
 * written with create: those a crashed share wrote after its last checkpoint are the same when written again.
 * Every read — the signature's and every share's, a resume included — is of the copy pinned when the job started, and
 * a file written since (its upload URL outlives the start) fails the job before any of its rows is queued.
 */
import { QUEUES } from '../containers';
import { type Clock, type EventsPort, type QueuePort, type StagedFilesPort, timeOf } from '../ports';
import { finishValidation } from './enroll-validated';
import { type ImportJobRepository, type JobDocument } from './job-store';
import { failJob } from './progress';
import { type RowRules, validateRow } from './rules/row';
import { isBroken, resumeOffset, rowsOf } from './rules/row-sources';
import { freshCheckpoint, restoredDuplicates, ShareWriter } from './share-writer';
import { notAsStarted, signatureChecked, type StagedFile } from './staged-file';

export interface ValidationDeps {
  importJobs: () => Promise<ImportJobRepository>;
  queues: () => Promise<QueuePort>;
  events: () => Promise<EventsPort>;
  stagedFiles: () => Promise<StagedFilesPort>;
  clock?: Clock;
}

export interface ValidationOptions {
  /** The maker's rules, and its signing certificates when it signs its files. */
  rules: RowRules & { signingCertificates?: string[] };
  maxRows: number;
  /** How long one share may read before it hands over to the next (well under the host's functionTimeout). */
  budgetMs?: number;
}

export interface ValidateMessage {
  jobId: string;
}

const CHECKPOINT_CHUNKS = 50;
const DEFAULT_BUDGET_MS = 4 * 60_000;

/** csv-parse gives up on a record it cannot bound (an unterminated quote, a record over MAX_RECORD_BYTES). */
const isUnreadableFile = (err: unknown) => String((err as { code?: unknown }).code ?? '').startsWith('CSV_');

/**
 * Reads rows from the checkpoint's position into the writer until the file ends ('ended'), the share's budget is
 * spent at a checkpoint ('continued': the rest is queued), or a rule fails the job (its reason).
 */
async function readShare(
  deps: ValidationDeps,
  job: JobDocument & { staged: StagedFile },
  writer: ShareWriter,
  message: ValidateMessage,
  options: ValidationOptions,
  startedMs: number,
  clock: () => Date,
): Promise<'ended' | 'continued' | { fail: string }> {
  const files = await deps.stagedFiles();
  const input = files.read(job.staged.file, resumeOffset(job.format, writer.position), job.staged.pin);
  for await (const source of rowsOf(job.format, input, writer.position)) {
    if (writer.counts.rows >= options.maxRows) {
      await writer.settled();
      return {
        fail: `the file has more than ${options.maxRows} rows (line ${source.line}); split it into several imports`,
      };
    }
    const verdict = isBroken(source)
      ? { status: 'invalid' as const, line: source.line, reason: source.error }
      : validateRow(source, options.rules);
    const final = verdict.status === 'valid' ? writer.duplicates.check(verdict) : verdict;
    if (!(await writer.add(final, source.next))) continue;
    if (writer.chunks % CHECKPOINT_CHUNKS !== 0) continue;
    await writer.save();
    if (clock().getTime() - startedMs < (options.budgetMs ?? DEFAULT_BUDGET_MS)) continue;
    await (await deps.queues()).send(QUEUES.importValidation, message);
    return 'continued';
  }
  await writer.flush();
  await writer.written();
  return 'ended';
}

/** One share of a job's validation. Answers what became of the job: validated, continued in another share, or not ours. */
export async function validateStaged(
  deps: ValidationDeps,
  message: ValidateMessage,
  options: ValidationOptions,
): Promise<'validated' | 'continued' | 'failed' | 'skipped'> {
  const clock = timeOf(deps);
  const started = clock().getTime();
  const jobs = await deps.importJobs();
  const files = await deps.stagedFiles();
  const job = await jobs.get(message.jobId);
  if (!job || job.status !== 'validating' || !job.staged) return 'skipped'; // done already, or never staged
  const staged = job.staged;
  const checkpoint = { ...(job.validation ?? freshCheckpoint()) };
  const fail = async (reason: string) => {
    // Only a job still validating: a duplicate message's share that finds the file gone because the first share
    // finished (and deleted it) must not fail a job that is enrolling.
    await failJob(deps, jobs, job.jobId, reason, clock, (d) => d.status === 'validating');
    return 'failed' as const;
  };
  const changed = await notAsStarted(files, staged);
  if (changed) return fail(changed);
  if (!(await signatureChecked(files, staged, options.rules, checkpoint)))
    return fail(
      "the file's signature does not verify with the manufacturer's signing certificate: the file was changed or signed by someone else; nothing was enrolled",
    );

  const duplicates = await restoredDuplicates(files, job.jobId, checkpoint.segments);
  const writer = new ShareWriter(jobs, files, job.jobId, checkpoint, duplicates, clock);
  try {
    const share = await readShare(deps, { ...job, staged }, writer, message, options, started, clock);
    if (share === 'continued') return 'continued';
    if (share !== 'ended') return fail(share.fail);
    const changedMeanwhile = await notAsStarted(files, staged);
    if (changedMeanwhile) return fail(changedMeanwhile);
  } catch (err) {
    await writer.settled();
    // Storage or database trouble: the message comes back and the next attempt resumes from the checkpoint.
    if (!isUnreadableFile(err)) throw err;
    return fail(`the file cannot be read past line ${writer.position.line}: ${(err as Error).message}`);
  }
  await finishValidation(deps, jobs, job.jobId, staged, writer, clock);
  return 'validated';
}
