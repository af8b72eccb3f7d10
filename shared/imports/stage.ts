/**
 * Taking a maker's file: the job is recorded and the file is staged in Blob storage — streamed through the request,
 * or uploaded by the maker straight to a short-lived URL for that one blob — and the job is handed to the
 * `import-validation` queue. Nothing is validated while the maker waits, so the answer comes as soon as the file is
 * stored, whatever it holds. A retried upload (same Idempotency-Key) finds its job; one whose upload broke is staged
 * again. The file is pinned as it is handed over: an upload URL stays writable until it expires, so validation reads
 * the pinned bytes, never the file as it is later (shared/azure/staged-files.ts says how).
 */
import { createHash, randomUUID } from 'node:crypto';

import type { CertificatePolicyRef } from '../certificate-policy';
import { QUEUES } from '../containers';
import { ConflictError, PayloadTooLargeError, TransientError, ValidationError } from '../errors';
import { type FilePin, timeOf } from '../ports';
import { type JobDocument, type JobStatus, zeroCounts } from './job-store';
import { failJob, publishJob } from './progress';
import type { ImportFormat } from './rules/row-sources';
import { freshCheckpoint } from './share-writer';
import { type ValidationDeps } from './validate';

/** The same services as validation: the job, its queue, its events and the staged file. */
export type StagingDeps = ValidationDeps;

export interface NewImport {
  manufacturerId: string;
  createdBy: string;
  format: ImportFormat;
  idempotencyKey?: string;
  fileName?: string;
  /** The job's certificate policy (the upload's `certificatePolicy` parameter), already read. */
  certificatePolicy?: CertificatePolicyRef | 'none';
}

export type StagingResult = { kind: 'accepted' | 'existing'; job: JobDocument };

/** A staging that has said nothing for this long died with its request; a retry stages the file again. */
const ABANDONED_AFTER_MS = 2 * 60_000;
const UPLOAD_URL_MINUTES = 60;

export function jobIdFor(manufacturerId: string, idempotencyKey?: string): string {
  return idempotencyKey
    ? `${manufacturerId}-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`
    : `${manufacturerId}-${randomUUID()}`;
}

const stagedFileOf = (jobId: string) => `${jobId}/upload`;

/** Creates the job, or finds the one this idempotency key made; a job that never got its file is taken over. */
async function openJob(deps: StagingDeps, request: NewImport, status: JobStatus): Promise<StagingResult> {
  const clock = timeOf(deps);
  const now = clock().toISOString();
  const jobs = await deps.importJobs();
  const jobId = jobIdFor(request.manufacturerId, request.idempotencyKey);
  const fresh: JobDocument = {
    id: jobId,
    jobId,
    type: 'job',
    manufacturerId: request.manufacturerId,
    createdBy: request.createdBy,
    ...(request.idempotencyKey ? { idempotencyKey: request.idempotencyKey } : {}),
    format: request.format,
    fileName: request.fileName,
    ...(request.certificatePolicy ? { certificatePolicy: request.certificatePolicy } : {}),
    status,
    createdAt: now,
    updatedAt: now,
    counts: zeroCounts(),
    chunks: 0,
    chunksDone: 0,
    countedChunks: '',
  };
  try {
    return { kind: 'accepted', job: await jobs.create(fresh) };
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
  const existing = (await jobs.get(jobId)) as JobDocument;
  const abandoned =
    existing.status === 'staging' && Date.parse(now) - Date.parse(existing.updatedAt) > ABANDONED_AFTER_MS;
  const refusedBeforeValidation = existing.status === 'failed' && existing.validatedAt === undefined;
  const waitingForUpload = existing.status === 'awaitingUpload';
  if (!abandoned && !refusedBeforeValidation && !waitingForUpload) return { kind: 'existing', job: existing };
  const restarted = await jobs.replace({
    ...fresh,
    _etag: existing._etag,
    createdAt: existing.createdAt,
  });
  return { kind: 'accepted', job: restarted };
}

/** The file is staged: validation takes it from here. */
async function handOver(
  deps: StagingDeps,
  job: JobDocument,
  staged: NonNullable<JobDocument['staged']>,
): Promise<JobDocument> {
  const clock = timeOf(deps);
  let handed = false;
  // Only a job still waiting for its file is handed over: of two `start` calls racing, the second finds it validating
  // and changes nothing — never a new pin under a checkpoint whose signature was checked over the first.
  const validating =
    (await (
      await deps.importJobs()
    ).update(job.jobId, (d) => {
      if (d.status !== 'awaitingUpload' && d.status !== 'staging') return undefined;
      handed = true;
      return {
        ...d,
        status: 'validating',
        staged,
        validation: freshCheckpoint(),
        counts: zeroCounts(),
        chunks: 0,
        updatedAt: clock().toISOString(),
      };
    })) ?? job;
  if (!handed) return validating;
  await (await deps.queues()).send(QUEUES.importValidation, { jobId: job.jobId });
  await publishJob(deps, 'import.started', validating, {
    format: validating.format,
    fileName: validating.fileName,
    bytes: staged.bytes,
  });
  return validating;
}

/**
 * A job handed over whose validation has not begun may never have had its message: handOver's send failed or its
 * answer was lost after the job said "validating" (the maker got a 503 and retries under the same key). The retry
 * sends it again. Validation takes a duplicate message in its stride, as it must (queues deliver at least once):
 * chunks are created (the first write stands), checkpoints are saved only while the job is validating, the move to
 * enrolling happens once under the etag, and a share fails the job only while it is validating.
 */
async function resendIfNotStarted(deps: StagingDeps, job: JobDocument): Promise<JobDocument> {
  const v = job.validation;
  const untouched = !v || (v.chunks === 0 && v.segments === 0 && !v.signatureChecked);
  if (job.status === 'validating' && job.staged && untouched)
    await (await deps.queues()).send(QUEUES.importValidation, { jobId: job.jobId });
  return job;
}

/**
 * Fails the job only as this request opened (or read) it: same status, same etag. A slow request taken over by a
 * retry under the same Idempotency-Key (ABANDONED_AFTER_MS) must not fail the job the retry staged and handed over.
 */
const failAsOpened = (deps: StagingDeps, job: JobDocument, reason: string) =>
  deps
    .importJobs()
    .then((jobs) =>
      failJob(deps, jobs, job.jobId, reason, timeOf(deps), (d) => d.status === job.status && d._etag === job._etag),
    );

/** The file over its limit: the job fails saying so, and the caller answers 413. */
async function tooLarge(deps: StagingDeps, job: JobDocument, limit: number, hint: string): Promise<never> {
  await failAsOpened(deps, job, `the file is larger than ${limit} bytes${hint}`);
  throw new PayloadTooLargeError(limit, hint);
}

/**
 * The upload broke off before its file was stored and pinned (Storage stalled or failed, or the body broke): the job
 * says so, as a job refused before validation, so a retry under the same Idempotency-Key stages the file again at once
 * instead of finding a job "staging" with nothing behind it. Best effort: if the job cannot be written either, it is
 * taken over as abandoned after ABANDONED_AFTER_MS. Only this request's own staging attempt is failed (failAsOpened).
 * The caller's error (503 for a TransientError, 400 for an empty body) is thrown on.
 */
async function brokeOff(deps: StagingDeps, job: JobDocument, err: unknown, reason?: string): Promise<never> {
  const why = err instanceof TransientError ? 'Storage did not answer in time' : 'the upload failed';
  await failAsOpened(
    deps,
    job,
    reason ?? `the upload broke off before the file was stored (${why}); send it again`,
  ).catch(() => undefined);
  throw err;
}

/** `POST …/imports`: the body streams into Blob storage (at most `maxBytes`); answers once it is stored. */
export async function stageUpload(
  deps: StagingDeps,
  request: NewImport & { body: AsyncIterable<Uint8Array>; signature?: string; maxBytes: number; hint?: string },
): Promise<StagingResult> {
  const opened = await openJob(deps, request, 'staging');
  if (opened.kind === 'existing') return { kind: 'existing', job: await resendIfNotStarted(deps, opened.job) };
  const job = opened.job;
  const file = stagedFileOf(job.jobId);
  const files = await deps.stagedFiles();
  let written: { bytes: number; etag: string };
  try {
    written = await files.write(file, request.body, request.maxBytes);
  } catch (err) {
    if (err instanceof PayloadTooLargeError) return tooLarge(deps, job, request.maxBytes, request.hint ?? '');
    return brokeOff(deps, job, err);
  }
  if (written.bytes === 0)
    return brokeOff(deps, job, new ValidationError('the body is empty'), 'the body was empty; send the file');
  // Pinned as written: an upload URL handed out earlier under the same Idempotency-Key can still write this blob.
  let pinned: Awaited<ReturnType<typeof files.pin>>;
  try {
    pinned = await files.pin(file, written.etag);
  } catch (err) {
    return brokeOff(deps, job, err);
  }
  if (!pinned)
    return brokeOff(
      deps,
      job,
      new Error(`the staged file ${file} vanished as it was stored`),
      'the file vanished as it was stored; send it again',
    );
  return { kind: 'accepted', job: await handOver(deps, job, stagedAs(file, pinned, request.signature)) };
}

const stagedAs = (file: string, pinned: FilePin & { bytes: number }, signature?: string) => ({
  file,
  bytes: pinned.bytes,
  signature,
  pin: { snapshot: pinned.snapshot, etag: pinned.etag },
});

/** `POST …/imports/uploads`: a job waiting for its file, and the URL the maker PUTs it to. */
export async function openUploadSlot(
  deps: StagingDeps,
  request: NewImport,
): Promise<StagingResult & { uploadUrl?: string; expiresOn?: string }> {
  const opened = await openJob(deps, request, 'awaitingUpload');
  if (opened.job.status !== 'awaitingUpload') return opened;
  const expiresOn = new Date(timeOf(deps)().getTime() + UPLOAD_URL_MINUTES * 60_000);
  const uploadUrl = await (await deps.stagedFiles()).uploadUrl(stagedFileOf(opened.job.jobId), expiresOn);
  return { ...opened, uploadUrl, expiresOn: expiresOn.toISOString() };
}

/** `POST …/imports/{jobId}/start`: the maker has uploaded its file to the URL; it is checked and handed over. */
export async function startUploaded(
  deps: StagingDeps,
  job: JobDocument,
  request: { signature?: string; maxBytes: number },
): Promise<StagingResult> {
  if (job.status !== 'awaitingUpload') return { kind: 'existing', job: await resendIfNotStarted(deps, job) };
  const file = stagedFileOf(job.jobId);
  const files = await deps.stagedFiles();
  // The upload URL cannot be recalled: what it writes after this moment never reaches the pinned copy validated.
  const pinned = await files.pin(file);
  if (!pinned?.bytes)
    throw new ValidationError('nothing was uploaded to the upload URL yet: PUT the file to it, then start');
  if (pinned.bytes > request.maxBytes) {
    await files.delete(file);
    return tooLarge(deps, job, request.maxBytes, '');
  }
  return { kind: 'accepted', job: await handOver(deps, job, stagedAs(file, pinned, request.signature)) };
}
