/**
 * Import jobs as stored: one Cosmos partition per job holds the job document and its chunks (≤ CHUNK_ROWS rows
 * each, every row's verdict and outcome). The job counts what is settled; a bitmap of counted chunks makes counting
 * exactly-once however often a chunk's message is delivered. Also the read side: the job's view and its rows.
 */
import type { CertificatePolicyRef } from '../certificate-policy';
import type { FilePin, Page, StoredDocument } from '../ports';
import type { RefusedRow, ValidRow } from './rules/row';
import type { ImportFormat, SourcePosition } from './rules/row-sources';

/** Rows per chunk: ten DPS bulk calls, one queue message, one checkpointed document of ~60 KB. */
export const CHUNK_ROWS = 100;

export type RowOutcome = 'enrolled' | 'alreadyEnrolled' | 'failed';
export type RowStatus = ValidRow['status'] | RefusedRow['status'] | RowOutcome;
export const ROW_STATUSES: readonly RowStatus[] = [
  'valid',
  'invalid',
  'duplicate',
  'enrolled',
  'alreadyEnrolled',
  'failed',
];

/** A row as the chunk keeps it: the verdict, then the outcome (`status` moves from valid to an outcome). */
export type RowRecord = (Omit<ValidRow, 'status'> | Omit<RefusedRow, 'status'>) & {
  status: RowStatus;
  reason?: string;
};

export interface Counts {
  rows: number;
  valid: number;
  invalid: number;
  duplicate: number;
  enrolled: number;
  alreadyEnrolled: number;
  failed: number;
}

export const zeroCounts = (): Counts => ({
  rows: 0,
  valid: 0,
  invalid: 0,
  duplicate: 0,
  enrolled: 0,
  alreadyEnrolled: 0,
  failed: 0,
});

/**
 * awaitingUpload: a direct-upload URL was handed out; staging: the file is streaming into Blob storage; validating:
 * the queue-driven validation reads it; enrolling: chunks are queued for DPS; then done or failed.
 */
export type JobStatus = 'awaitingUpload' | 'staging' | 'validating' | 'enrolling' | 'done' | 'failed';

/** Where validation stands, saved every few thousand rows: a crash or the end of a share resumes from here. */
export interface ValidationCheckpoint {
  position: SourcePosition;
  counts: Pick<Counts, 'rows' | 'valid' | 'invalid' | 'duplicate'>;
  /** Chunks written (each complete) and the saved duplicate-detector segments, one per checkpoint. */
  chunks: number;
  segments: number;
  /** Base64 bitmap: bit i set = chunk i has rows to enroll. */
  toEnroll: string;
  signatureChecked?: boolean;
}

export interface JobDocument extends StoredDocument {
  jobId: string;
  type: 'job';
  manufacturerId: string;
  createdBy: string;
  idempotencyKey?: string;
  format: ImportFormat;
  fileName?: string;
  /** The upload's `certificatePolicy` parameter: its rows name this policy (or none) unless a row says otherwise. */
  certificatePolicy?: CertificatePolicyRef | 'none';
  status: JobStatus;
  /**
   * The uploaded file in Blob storage, pinned when the job started (validation reads only the pinned bytes), and the
   * maker's detached signature over it when it signs its files.
   */
  staged?: { file: string; bytes: number; signature?: string; pin?: FilePin };
  validation?: ValidationCheckpoint;
  reason?: string;
  createdAt: string;
  updatedAt: string;
  validatedAt?: string;
  completedAt?: string;
  counts: Counts;
  /** Chunks written; final once validation is over. */
  chunks: number;
  chunksDone: number;
  /** Base64 bitmap: bit i set = chunk i's outcomes are in `counts`. */
  countedChunks: string;
}

export interface ChunkDocument extends StoredDocument {
  jobId: string;
  type: 'chunk';
  index: number;
  state: 'pending' | 'done';
  rows: RowRecord[];
}

export const chunkId = (jobId: string, index: number) => `${jobId}.${index}`;

/**
 * The import jobs and their chunks (one partition a job), as the use cases keep them; the Cosmos implementation is
 * `store/cosmos-jobs.ts`.
 */
export interface ImportJobRepository {
  get(jobId: string): Promise<JobDocument | undefined>;
  /** Creates the job (a ConflictError when the id is taken). */
  create(job: JobDocument): Promise<JobDocument>;
  /** Writes the job over the one read, under its etag (a ConflictError when written meanwhile). */
  replace(job: JobDocument): Promise<JobDocument>;
  /**
   * Read, change, write under the etag, again while someone else wrote meanwhile: the one way the job document
   * changes. `change` answers the new document, or undefined to leave the job as it is (answered as read).
   */
  update(jobId: string, change: (current: JobDocument) => JobDocument | undefined): Promise<JobDocument | undefined>;
  /** Every maker's jobs, newest first, a page at a time. */
  list(pageSize: number, continuationToken?: string): Promise<Page<JobDocument>>;
  chunk(jobId: string, index: number): Promise<ChunkDocument | undefined>;
  /** Creates the chunk (a ConflictError when it was written before: the first write stands). */
  createChunk(chunk: ChunkDocument): Promise<void>;
  replaceChunk(chunk: ChunkDocument): Promise<ChunkDocument>;
  /** The job's chunks in file order, a page of `pageSize` chunks at a time. */
  chunksOf(jobId: string, pageSize: number, continuationToken?: string): Promise<Page<ChunkDocument>>;
}

/** Every maker's jobs, newest first, a page at a time (the console's list; an admin's or reader's view). */
export async function listJobs(
  jobs: ImportJobRepository,
  pageSize: number,
  continuationToken?: string,
): Promise<{ items: ReturnType<typeof jobView>[]; continuationToken?: string }> {
  const page = await jobs.list(pageSize, continuationToken);
  return { items: page.items.map((job) => jobView(job)), continuationToken: page.continuationToken };
}

export function bitIsSet(bitmap: string, index: number): boolean {
  const bytes = Buffer.from(bitmap, 'base64');
  return (bytes[index >> 3] ?? 0) & (1 << (index & 7)) ? true : false;
}

export function setBit(bitmap: string, index: number): string {
  const old = Buffer.from(bitmap, 'base64');
  const bytes = Buffer.alloc(Math.max(old.length, (index >> 3) + 1));
  old.copy(bytes);
  bytes[index >> 3] |= 1 << (index & 7);
  return bytes.toString('base64');
}

/** What the API shows of a job: counts, progress, rate and ETA of the enrolment. */
export function jobView(job: JobDocument, now = new Date()) {
  const { counts } = job;
  const settled = counts.enrolled + counts.alreadyEnrolled + counts.failed;
  const since = job.validatedAt ? Date.parse(job.validatedAt) : undefined;
  const minutes = since
    ? Math.max((Date.parse(job.completedAt ?? now.toISOString()) - since) / 60_000, 1 / 600)
    : undefined;
  const ratePerMinute = minutes && settled ? Math.round(settled / minutes) : 0;
  const left = counts.valid - settled;
  return {
    jobId: job.jobId,
    manufacturerId: job.manufacturerId,
    status: job.status,
    ...(job.reason ? { reason: job.reason } : {}),
    format: job.format,
    fileName: job.fileName,
    createdAt: job.createdAt,
    validatedAt: job.validatedAt,
    completedAt: job.completedAt,
    counts,
    percent: job.status === 'done' ? 100 : counts.valid ? Math.floor((settled / counts.valid) * 1000) / 10 : 0,
    ratePerMinute,
    etaSeconds: job.status === 'enrolling' && ratePerMinute ? Math.ceil((left / ratePerMinute) * 60) : undefined,
    chunks: job.chunks,
    chunksDone: job.chunksDone,
  };
}

export interface RowsPage {
  rows: Array<Pick<RowRecord, 'line' | 'registrationId' | 'status' | 'reason'>>;
  continuationToken?: string;
}

/** Rows of a job, in file order, optionally of one status; paged by chunk. */
export async function listRows(
  jobs: ImportJobRepository,
  jobId: string,
  status: RowStatus | undefined,
  continuationToken?: string,
  chunksPerPage = 20,
): Promise<RowsPage> {
  const page = await jobs.chunksOf(jobId, chunksPerPage, continuationToken);
  const rows = page.items.flatMap((chunk) =>
    chunk.rows
      .filter((r) => !status || r.status === status)
      .map((r) => ({
        line: r.line,
        registrationId: r.registrationId,
        status: r.status,
        ...(r.reason ? { reason: r.reason } : {}),
      })),
  );
  return { rows, continuationToken: page.continuationToken };
}
