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
import { ConflictError } from '../errors';
import { type Clock, type EventsPort, type QueuePort, type StagedFilesPort, timeOf } from '../ports';
import {
  CHUNK_ROWS,
  type ChunkDocument,
  chunkId,
  type ImportJobRepository,
  type JobDocument,
  type RowRecord,
  type ValidationCheckpoint,
} from './job-store';
import { finishIfComplete, publishJob } from './progress';
import { FileDuplicates } from './rules/duplicates';
import { fileVerifier } from './rules/file-signature';
import { type RowRules, validateRow } from './rules/row';
import { isBroken, resumeOffset, rowsOf, type SourcePosition, START } from './rules/row-sources';

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
const MAX_WRITES_IN_FLIGHT = 4;
const QUEUE_SENDS_IN_FLIGHT = 16;
const DEFAULT_BUDGET_MS = 4 * 60_000;

export const segmentFile = (jobId: string, segment: number) => `${jobId}/duplicates/${segment}`;

export const freshCheckpoint = (): ValidationCheckpoint => ({
  position: START,
  counts: { rows: 0, valid: 0, invalid: 0, duplicate: 0 },
  chunks: 0,
  segments: 0,
  toEnroll: '',
});

/** csv-parse gives up on a record it cannot bound (an unterminated quote, a record over MAX_RECORD_BYTES). */
const isUnreadableFile = (err: unknown) => String((err as { code?: unknown }).code ?? '').startsWith('CSV_');

/** Reads the whole signed file through the maker's certificates: a tampered file fails before any row is read. */
async function signatureHolds(files: StagedFilesPort, staged: StagedFile, certificates: string[]): Promise<boolean> {
  const verifier = fileVerifier(certificates, staged.signature ?? '');
  for await (const chunk of files.read(staged.file, 0, staged.pin)) verifier.update(chunk);
  return verifier.verify();
}

type StagedFile = NonNullable<JobDocument['staged']>;

/**
 * Why the staged file can no longer be validated, if it cannot: it was written after start. The pinned copy is what
 * is read either way; this tells the maker that what it wrote later was not taken, rather than enrolling the started
 * file as if nothing had happened. A job staged before files were pinned has no pin to read, so it is refused too.
 */
async function notAsStarted(files: StagedFilesPort, staged: StagedFile): Promise<string | undefined> {
  if (!staged.pin)
    return 'the staged file was not pinned when the import started: upload it again; nothing was enrolled';
  if (await files.unchangedSince(staged.file, staged.pin)) return undefined;
  return 'the staged file changed after start: only the file as it was when the import started can be imported, and nothing of it was enrolled; send the new file as a new import';
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
  const changed = await notAsStarted(files, staged);
  if (changed) {
    await failJob(deps, jobs, job.jobId, changed, clock);
    return 'failed';
  }

  const certificates = options.rules.signingCertificates ?? [];
  if (certificates.length && !checkpoint.signatureChecked) {
    if (!(await signatureHolds(files, staged, certificates))) {
      await failJob(
        deps,
        jobs,
        job.jobId,
        "the file's signature does not verify with the manufacturer's signing certificate: the file was changed or signed by someone else; nothing was enrolled",
        clock,
      );
      return 'failed';
    }
    checkpoint.signatureChecked = true;
  }

  // What the duplicate detector knew at the checkpoint: the segments saved with it.
  const duplicates = new FileDuplicates();
  for (let segment = 0; segment < checkpoint.segments; segment++) {
    const parts: Buffer[] = [];
    for await (const chunk of files.read(segmentFile(job.jobId, segment), 0)) parts.push(Buffer.from(chunk));
    duplicates.restore(Buffer.concat(parts));
  }

  const counts = { ...checkpoint.counts };
  let toEnroll = Buffer.from(checkpoint.toEnroll, 'base64');
  let chunks = checkpoint.chunks;
  let segments = checkpoint.segments;
  let position: SourcePosition = checkpoint.position;
  let rows: RowRecord[] = [];
  const inFlight = new Set<Promise<void>>();

  const save = async (extra: Partial<ValidationCheckpoint> = {}) => {
    await Promise.all(inFlight); // a checkpoint only counts chunks that are written
    await files.write(
      segmentFile(job.jobId, segments),
      (async function* () {
        yield duplicates.takeSaved();
      })(),
      Number.MAX_SAFE_INTEGER,
    );
    segments++;
    const saved: ValidationCheckpoint = {
      ...checkpoint,
      ...extra,
      position,
      counts: { ...counts },
      chunks,
      segments,
      toEnroll: toEnroll.toString('base64'),
    };
    await jobs.update(job.jobId, (d) =>
      d.status === 'validating'
        ? { ...d, validation: saved, counts: { ...d.counts, ...counts }, chunks, updatedAt: clock().toISOString() }
        : undefined,
    );
  };

  const flush = async () => {
    const doc: ChunkDocument = {
      id: chunkId(job.jobId, chunks),
      jobId: job.jobId,
      type: 'chunk',
      index: chunks,
      state: 'pending',
      rows,
    };
    if (rows.some((r) => r.status === 'valid')) {
      if (toEnroll.length <= chunks >> 3) toEnroll = Buffer.concat([toEnroll, Buffer.alloc(toEnroll.length + 64)]);
      toEnroll[chunks >> 3] |= 1 << (chunks & 7);
    }
    chunks++;
    rows = [];
    // create, not upsert: a chunk written again after a crash is the same chunk, and the first write stands.
    const write = jobs.createChunk(doc).then(
      () => undefined,
      (err: unknown) => {
        if (!(err instanceof ConflictError)) throw err;
      },
    );
    inFlight.add(write);
    void write.finally(() => inFlight.delete(write)).catch(() => undefined);
    if (inFlight.size >= MAX_WRITES_IN_FLIGHT) await Promise.race(inFlight);
  };

  try {
    const input = files.read(staged.file, resumeOffset(job.format, position), staged.pin);
    for await (const source of rowsOf(job.format, input, position)) {
      if (counts.rows >= options.maxRows) {
        await Promise.allSettled(inFlight);
        await failJob(
          deps,
          jobs,
          job.jobId,
          `the file has more than ${options.maxRows} rows (line ${source.line}); split it into several imports`,
          clock,
        );
        return 'failed';
      }
      const verdict = isBroken(source)
        ? { status: 'invalid' as const, line: source.line, reason: source.error }
        : validateRow(source, options.rules);
      const final = verdict.status === 'valid' ? duplicates.check(verdict) : verdict;
      counts.rows++;
      if (final.status === 'valid') counts.valid++;
      else if (final.status === 'invalid') counts.invalid++;
      else counts.duplicate++;
      rows.push(final);
      position = source.next;
      if (rows.length < CHUNK_ROWS) continue;
      await flush();
      if (chunks % CHECKPOINT_CHUNKS !== 0) continue;
      await save();
      if (clock().getTime() - started < (options.budgetMs ?? DEFAULT_BUDGET_MS)) continue;
      await (await deps.queues()).send(QUEUES.importValidation, message);
      return 'continued';
    }
    if (rows.length) await flush();
    await Promise.all(inFlight);
    const changedMeanwhile = await notAsStarted(files, staged);
    if (changedMeanwhile) {
      await failJob(deps, jobs, job.jobId, changedMeanwhile, clock);
      return 'failed';
    }
  } catch (err) {
    await Promise.allSettled(inFlight);
    // Storage or database trouble: the message comes back and the next attempt resumes from the checkpoint.
    if (!isUnreadableFile(err)) throw err;
    await failJob(
      deps,
      jobs,
      job.jobId,
      `the file cannot be read past line ${position.line}: ${(err as Error).message}`,
      clock,
    );
    return 'failed';
  }

  await enrollValidated(deps, jobs, job.jobId, { counts, chunks, toEnroll: toEnroll.toString('base64') }, clock);
  // Every row is in the chunks now: the file and the detector's segments go.
  await Promise.all(
    [staged.file, ...Array.from({ length: segments }, (_, i) => segmentFile(job.jobId, i))].map((f) =>
      files.delete(f).catch(() => undefined),
    ),
  );
  return 'validated';
}

/** Queues the chunks with rows to enroll, then says "enrolling": a crash in between leaves the job validating. */
async function enrollValidated(
  deps: ValidationDeps,
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

/** The job fails with its reason; `import.completed` says so. */
export async function failJob(
  deps: Pick<ValidationDeps, 'events'>,
  jobs: ImportJobRepository,
  jobId: string,
  reason: string,
  clock: () => Date,
): Promise<JobDocument | undefined> {
  const job = await jobs.update(jobId, (d) => ({
    ...d,
    status: 'failed',
    reason,
    updatedAt: clock().toISOString(),
  }));
  if (job) await publishJob(deps, 'import.completed', job);
  return job;
}
