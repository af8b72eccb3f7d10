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

/** A signed file is read whole through the maker's certificates once, before its first row: false when it does not verify. */
async function signatureChecked(
  files: StagedFilesPort,
  staged: StagedFile,
  rules: ValidationOptions['rules'],
  checkpoint: ValidationCheckpoint,
): Promise<boolean> {
  const certificates = rules.signingCertificates ?? [];
  if (!certificates.length || checkpoint.signatureChecked) return true;
  if (!(await signatureHolds(files, staged, certificates))) return false;
  checkpoint.signatureChecked = true;
  return true;
}

/** What the duplicate detector knew at the checkpoint: the segments saved with it. */
async function restoredDuplicates(files: StagedFilesPort, jobId: string, segments: number): Promise<FileDuplicates> {
  const duplicates = new FileDuplicates();
  for (let segment = 0; segment < segments; segment++) {
    const parts: Buffer[] = [];
    for await (const chunk of files.read(segmentFile(jobId, segment), 0)) parts.push(Buffer.from(chunk));
    duplicates.restore(Buffer.concat(parts));
  }
  return duplicates;
}

/**
 * One share's writing: rows gather into chunks (written as they fill, a few at a time), chunks with valid rows are
 * marked to enroll, and a checkpoint saves the position, the counts and what the duplicate detector learnt.
 */
class ShareWriter {
  readonly counts: ValidationCheckpoint['counts'];
  chunks: number;
  segments: number;
  position: SourcePosition;
  private toEnroll: Buffer;
  private rows: RowRecord[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly jobs: ImportJobRepository,
    private readonly files: StagedFilesPort,
    private readonly jobId: string,
    private readonly checkpoint: ValidationCheckpoint,
    readonly duplicates: FileDuplicates,
    private readonly clock: () => Date,
  ) {
    this.counts = { ...checkpoint.counts };
    this.toEnroll = Buffer.from(checkpoint.toEnroll, 'base64');
    this.chunks = checkpoint.chunks;
    this.segments = checkpoint.segments;
    this.position = checkpoint.position;
  }

  /** Adds a row's verdict; answers true when a chunk filled up and was handed to be written. */
  async add(row: RowRecord, next: SourcePosition): Promise<boolean> {
    this.counts.rows++;
    if (row.status === 'valid') this.counts.valid++;
    else if (row.status === 'invalid') this.counts.invalid++;
    else this.counts.duplicate++;
    this.rows.push(row);
    this.position = next;
    if (this.rows.length < CHUNK_ROWS) return false;
    await this.flush();
    return true;
  }

  async flush(): Promise<void> {
    if (!this.rows.length) return;
    const index = this.chunks;
    const doc: ChunkDocument = {
      id: chunkId(this.jobId, index),
      jobId: this.jobId,
      type: 'chunk',
      index,
      state: 'pending',
      rows: this.rows,
    };
    if (this.rows.some((r) => r.status === 'valid')) {
      if (this.toEnroll.length <= index >> 3)
        this.toEnroll = Buffer.concat([this.toEnroll, Buffer.alloc(this.toEnroll.length + 64)]);
      this.toEnroll[index >> 3] |= 1 << (index & 7);
    }
    this.chunks++;
    this.rows = [];
    // create, not upsert: a chunk written again after a crash is the same chunk, and the first write stands.
    const write = this.jobs.createChunk(doc).then(
      () => undefined,
      (err: unknown) => {
        if (!(err instanceof ConflictError)) throw err;
      },
    );
    this.inFlight.add(write);
    void write.finally(() => this.inFlight.delete(write)).catch(() => undefined);
    if (this.inFlight.size >= MAX_WRITES_IN_FLIGHT) await Promise.race(this.inFlight);
  }

  /** Every chunk handed over is written (or has failed). */
  written(): Promise<unknown> {
    return Promise.all(this.inFlight);
  }

  settled(): Promise<unknown> {
    return Promise.allSettled(this.inFlight);
  }

  /** A checkpoint counts only chunks that are written. */
  async save(): Promise<void> {
    await this.written();
    const duplicates = this.duplicates;
    await this.files.write(
      segmentFile(this.jobId, this.segments),
      (async function* () {
        yield duplicates.takeSaved();
      })(),
      Number.MAX_SAFE_INTEGER,
    );
    this.segments++;
    const saved: ValidationCheckpoint = {
      ...this.checkpoint,
      position: this.position,
      counts: { ...this.counts },
      chunks: this.chunks,
      segments: this.segments,
      toEnroll: this.toEnroll.toString('base64'),
    };
    const { counts, chunks } = this;
    await this.jobs.update(this.jobId, (d) =>
      d.status === 'validating'
        ? { ...d, validation: saved, counts: { ...d.counts, ...counts }, chunks, updatedAt: this.clock().toISOString() }
        : undefined,
    );
  }

  result(): Pick<ValidationCheckpoint, 'counts' | 'chunks' | 'toEnroll'> {
    return { counts: this.counts, chunks: this.chunks, toEnroll: this.toEnroll.toString('base64') };
  }
}

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
    await failJob(deps, jobs, job.jobId, reason, clock);
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

/** Every row is in the chunks: the job moves on to enrolling, and the file and the detector's segments go. */
async function finishValidation(
  deps: ValidationDeps,
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
