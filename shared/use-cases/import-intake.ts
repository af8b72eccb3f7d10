/**
 * Taking a maker's file: the job is recorded, the upload is streamed row by row through the pure checks
 * (shared/enrollment), every row's verdict lands in a chunk document, and once the whole file is read the chunks
 * with rows to enroll are queued for the worker. Memory stays flat: rows are never held beyond the chunk being
 * filled, and at most a few chunk writes are in flight. A retried upload (same Idempotency-Key) of a job that never
 * finished validating starts it again; chunks already written are kept (the same file gives the same chunks).
 */
import { createHash, randomUUID } from 'node:crypto';

import { QUEUES } from '../containers';
import { FileDuplicates } from '../enrollment/duplicates';
import type { FileVerifier } from '../enrollment/file-signature';
import { type RowRules, validateRow } from '../enrollment/row';
import { type ImportFormat, isBroken, rowsOf } from '../enrollment/row-sources';
import { ConflictError } from '../errors';
import type { DocumentStore, EventsPort, QueuePort } from '../ports';
import {
  bitIsSet,
  CHUNK_ROWS,
  type ChunkDocument,
  chunkId,
  type Counts,
  type JobDocument,
  jobsContainer,
  type RowRecord,
  setBit,
  updateJob,
  zeroCounts,
} from './import-jobs';
import { finishIfComplete, publishJob } from './import-progress';

export interface IntakeDeps {
  store: () => Promise<DocumentStore>;
  queues: () => Promise<QueuePort>;
  events: () => Promise<EventsPort>;
  clock?: () => Date;
}

export interface ImportRequest {
  rules: RowRules;
  createdBy: string;
  format: ImportFormat;
  body: AsyncIterable<Uint8Array>;
  idempotencyKey?: string;
  fileName?: string;
  /** The manufacturer's detached signature over the file, checked as it streams by (when it signs its files). */
  signature?: FileVerifier;
}

export type IntakeResult = { kind: 'accepted' | 'existing'; job: JobDocument };

const MAX_WRITES_IN_FLIGHT = 4;
/** Validation saves progress every PROGRESS_EVERY_CHUNKS chunks (well under a second); silence this long means it died. */
const ABANDONED_AFTER_MS = 2 * 60_000;
const QUEUE_SENDS_IN_FLIGHT = 16;
/** How often (in chunks) the job's counts are saved while a big file is read, for whoever watches. */
const PROGRESS_EVERY_CHUNKS = 50;

export function jobIdFor(manufacturerId: string, idempotencyKey?: string): string {
  return idempotencyKey
    ? `${manufacturerId}-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`
    : `${manufacturerId}-${randomUUID()}`;
}

/** Creates the job, or finds the one this idempotency key already made. */
async function openJob(deps: IntakeDeps, request: ImportRequest, now: string): Promise<IntakeResult> {
  const container = jobsContainer(await deps.store());
  const jobId = jobIdFor(request.rules.manufacturerId, request.idempotencyKey);
  const fresh: JobDocument = {
    id: jobId,
    jobId,
    type: 'job',
    manufacturerId: request.rules.manufacturerId,
    createdBy: request.createdBy,
    ...(request.idempotencyKey ? { idempotencyKey: request.idempotencyKey } : {}),
    format: request.format,
    fileName: request.fileName,
    status: 'validating',
    createdAt: now,
    updatedAt: now,
    counts: zeroCounts(),
    chunks: 0,
    chunksDone: 0,
    countedChunks: '',
  };
  try {
    return { kind: 'accepted', job: (await container.create(fresh)) as JobDocument };
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
  const existing = (await container.read(jobId, jobId)) as JobDocument;
  // Validation that did not finish (the upload broke, the instance died: no progress saved for a while) is started
  // again; one still under way, or anything later, stands.
  const abandoned =
    existing.status === 'validating' && Date.parse(now) - Date.parse(existing.updatedAt) > ABANDONED_AFTER_MS;
  const refused = existing.status === 'failed' && existing.validatedAt === undefined;
  if (!abandoned && !refused) return { kind: 'existing', job: existing };
  const restarted = (await container.replace({
    ...fresh,
    _etag: existing._etag,
    createdAt: existing.createdAt,
    countedChunks: existing.countedChunks,
    chunksDone: existing.chunksDone,
    counts: {
      ...zeroCounts(),
      enrolled: existing.counts.enrolled,
      alreadyEnrolled: existing.counts.alreadyEnrolled,
      failed: existing.counts.failed,
    },
  })) as JobDocument;
  return { kind: 'accepted', job: restarted };
}

function countVerdict(counts: Counts, status: RowRecord['status']): void {
  counts.rows++;
  if (status === 'valid') counts.valid++;
  else if (status === 'invalid') counts.invalid++;
  else if (status === 'duplicate') counts.duplicate++;
}

/** Reads the whole upload into chunk documents; answers the job once every row has its verdict and the chunks are queued. */
export async function startImport(deps: IntakeDeps, request: ImportRequest): Promise<IntakeResult> {
  const clock = deps.clock ?? (() => new Date());
  const opened = await openJob(deps, request, clock().toISOString());
  if (opened.kind === 'existing') return opened;
  let job = opened.job;
  await publishJob(deps, 'import.started', job, { format: job.format, fileName: job.fileName });

  const store = await deps.store();
  const container = jobsContainer(store);
  const counts = zeroCounts();
  const duplicates = new FileDuplicates();
  const toEnroll: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let rows: RowRecord[] = [];
  let chunks = 0;

  const flush = async () => {
    const doc: ChunkDocument = {
      id: chunkId(job.jobId, chunks),
      jobId: job.jobId,
      type: 'chunk',
      index: chunks,
      state: 'pending',
      rows,
    };
    if (rows.some((r) => r.status === 'valid')) toEnroll.push(chunks);
    chunks++;
    rows = [];
    // create, not upsert: a restarted validation must not undo what the worker already did with this chunk.
    const write = container.create(doc).then(
      () => undefined,
      (err: unknown) => {
        if (!(err instanceof ConflictError)) throw err;
      },
    );
    inFlight.add(write);
    void write.finally(() => inFlight.delete(write)).catch(() => undefined);
    if (inFlight.size >= MAX_WRITES_IN_FLIGHT) await Promise.race(inFlight);
    if (chunks % PROGRESS_EVERY_CHUNKS === 0) {
      // Progress for whoever watches (and the sign of life that tells a live validation from an abandoned one).
      job =
        (await updateJob(store, job.jobId, (d) => ({
          ...d,
          counts: { ...d.counts, ...pick(counts) },
          chunks,
          updatedAt: clock().toISOString(),
        }))) ?? job;
    }
  };

  const signature = request.signature;
  const body = signature
    ? (async function* () {
        for await (const chunk of request.body) {
          signature.update(chunk);
          yield chunk;
        }
      })()
    : request.body;
  try {
    for await (const source of rowsOf(request.format, body)) {
      const verdict = isBroken(source)
        ? { status: 'invalid' as const, line: source.line, reason: source.error }
        : validateRow(source, request.rules);
      const final = verdict.status === 'valid' ? duplicates.check(verdict) : verdict;
      countVerdict(counts, final.status);
      rows.push(final);
      if (rows.length === CHUNK_ROWS) await flush();
    }
    if (rows.length) await flush();
    await Promise.all(inFlight);
  } catch (err) {
    await Promise.allSettled(inFlight);
    const reason = `the upload could not be read past line ${counts.rows}: ${(err as Error).message}`;
    return failJob(deps, store, job.jobId, reason, clock);
  }

  if (signature && !signature.verify()) {
    // Its chunks go too: a retry under the same key must not find rows of the refused file.
    await Promise.all(
      Array.from({ length: chunks }, (_, i) =>
        container.delete(chunkId(job.jobId, i), job.jobId).catch(() => undefined),
      ),
    );
    const reason =
      "the file's signature does not verify with the manufacturer's signing certificate: the file was changed or signed by someone else; nothing was enrolled";
    return failJob(deps, store, job.jobId, reason, clock, (d) => ({
      counts: { ...d.counts, ...pick(counts) },
      chunks,
    }));
  }

  // Queue first, then say "enrolling": a crash in between leaves the job validating, and a retried upload redoes both.
  const queues = await deps.queues();
  for (let i = 0; i < toEnroll.length; i += QUEUE_SENDS_IN_FLIGHT) {
    await Promise.all(
      toEnroll
        .slice(i, i + QUEUE_SENDS_IN_FLIGHT)
        .map((index) => queues.send(QUEUES.importChunks, { jobId: job.jobId, chunk: index })),
    );
  }
  const enrolling = new Set(toEnroll);
  job =
    (await updateJob(store, job.jobId, (d) => {
      let { countedChunks, chunksDone } = d;
      // Chunks with nothing to enroll are settled as they are.
      for (let i = 0; i < chunks; i++)
        if (!enrolling.has(i) && !bitIsSet(countedChunks, i)) {
          countedChunks = setBit(countedChunks, i);
          chunksDone++;
        }
      const now = clock().toISOString();
      return {
        ...d,
        status: 'enrolling',
        chunks,
        chunksDone,
        countedChunks,
        validatedAt: now,
        updatedAt: now,
        counts: { ...d.counts, ...pick(counts) },
      };
    })) ?? job;
  await publishJob(deps, 'import.progress', job);
  job = await finishIfComplete(deps, job);
  return { kind: 'accepted', job };
}

/** The job fails with its reason (and what `patch` adds); `import.completed` says so. */
async function failJob(
  deps: IntakeDeps,
  store: DocumentStore,
  jobId: string,
  reason: string,
  clock: () => Date,
  patch: (d: JobDocument) => Partial<JobDocument> = () => ({}),
): Promise<IntakeResult> {
  const job = (await updateJob(store, jobId, (d) => ({
    ...d,
    ...patch(d),
    status: 'failed',
    reason,
    updatedAt: clock().toISOString(),
  }))) as JobDocument;
  await publishJob(deps, 'import.completed', job);
  return { kind: 'accepted', job };
}

const pick = (c: Counts) => ({ rows: c.rows, valid: c.valid, invalid: c.invalid, duplicate: c.duplicate });
