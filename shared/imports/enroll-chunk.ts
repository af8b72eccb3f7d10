/**
 * Enrolling one chunk: its rows go to DPS in bulk creates of DPS_BATCH, each throttled call waited out by its
 * Retry-After, and the chunk document is checkpointed after every call. Idempotent on the EK: each EK is first
 * claimed in the `endorsementKeys` container (one EK, one registration ID, across all jobs), and a create that meets
 * an existing enrollment reads it to tell this job's own earlier work from a device already enrolled or a conflict.
 * So a crash, a redeploy or a re-delivered message resumes, and nothing is enrolled twice.
 */
import { audit, auditDay } from '../audit';
import type { CustomAllocationDefinition } from '../dps-types';
import { ConflictError } from '../errors';
import { DPS_BATCH } from '../limits';
import {
  type Clock,
  type DocumentStore,
  type EnrollmentsPort,
  type EventsPort,
  type MetricsPort,
  timeOf,
} from '../ports';
import { retryIdempotent, type RetryOptions } from '../retry';
import { type EkClaimRepository, raiseEkClaimConflict } from './ek-claims';
import { type ChunkDocument, type ImportJobRepository, type RowRecord } from './job-store';
import { countChunk } from './progress';
import { enrollmentOf, judgeExisting } from './rules/enrollment';
import type { ValidRow } from './rules/row';

export interface WorkerDeps {
  /** The audit and the findings. */
  store: () => Promise<DocumentStore>;
  importJobs: () => Promise<ImportJobRepository>;
  /** One EK, one registration ID, across all jobs. */
  ekClaims: () => Promise<EkClaimRepository>;
  enrollments: () => Promise<EnrollmentsPort>;
  events: () => Promise<EventsPort>;
  /** Enrollments point at our allocation webhook when it is configured. */
  allocation?: CustomAllocationDefinition;
  retry?: RetryOptions;
  /** Rows settled, for Azure Monitor. */
  metrics?: MetricsPort;
  log?: (line: string) => void;
  clock?: Clock;
}

export interface ChunkMessage {
  jobId: string;
  chunk: number;
}

type Settled = { status: 'enrolled' | 'alreadyEnrolled' | 'failed'; reason?: string };

/** What a maker is told when its row's EK is claimed by a registration ID it did not give: nothing about who holds it. */
export const EK_CLAIMED_ELSEWHERE =
  'this endorsement key is already claimed by another enrollment; the administrators have been told (finding EK_CLAIM_CONFLICT)';

/** One EK, one registration ID: why not, or undefined when this row may have it. */
async function claimEk(
  deps: WorkerDeps,
  store: DocumentStore,
  claims: EkClaimRepository,
  row: ValidRow,
  manufacturerId: string,
  jobId: string,
): Promise<string | undefined> {
  const attempt = { id: row.ekHash, registrationId: row.registrationId, manufacturerId, jobId, line: row.line };
  try {
    await claims.create(attempt);
    return undefined;
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
  const existing = await claims.read(row.ekHash);
  if (!existing) return undefined;
  // Held for another maker (or for an enrollment no import made): the first claim stands, whoever sends the EK next.
  if (existing.manufacturerId !== manufacturerId) {
    await raiseEkClaimConflict(store, await deps.events(), existing, attempt, timeOf(deps)());
    return EK_CLAIMED_ELSEWHERE;
  }
  if (existing.registrationId === row.registrationId) return undefined;
  return `conflict: this endorsement key is already enrolled as ${existing.registrationId}`; // one of its own devices
}

async function enrollBatch(
  deps: WorkerDeps,
  rows: ValidRow[],
  manufacturerId: string,
  jobId: string,
  chunkIndex: number,
  /** The job's creation day: its audit records are filed under it (audit.ts), whatever day a chunk runs or is replayed. */
  filingDay: string,
): Promise<Map<string, Settled>> {
  const store = await deps.store();
  const claims = await deps.ekClaims();
  const dps = await deps.enrollments();
  const settled = new Map<string, Settled>();
  const claimed: ValidRow[] = [];
  await Promise.all(
    rows.map(async (row) => {
      const refused = await claimEk(deps, store, claims, row, manufacturerId, jobId);
      if (refused) settled.set(row.registrationId, { status: 'failed', reason: refused });
      else claimed.push(row);
    }),
  );
  if (claimed.length === 0) return settled;
  // Safe to send again after a lost answer: a row the lost call applied comes back 409, and the enrollment DPS holds
  // (this EK, this job's tag) says it is this job's own work — counted as enrolled, once (the chunk checkpoint).
  const result = await retryIdempotent(
    () =>
      dps.bulkEnrollments(
        'create',
        claimed.map((r) => enrollmentOf(r, manufacturerId, jobId, deps.allocation)),
      ),
    deps.retry,
  );
  const errors = new Map(result.errors.map((e) => [e.registrationId.toLowerCase(), e]));
  /** Enrolled by this job: created by this call, or by an earlier one whose answer was lost. */
  const created: string[] = [];
  await Promise.all(
    claimed.map(async (row) => {
      const error = errors.get(row.registrationId);
      if (!error) {
        created.push(row.registrationId);
        return settled.set(row.registrationId, { status: 'enrolled' });
      }
      if (String(error.errorCode).startsWith('409')) {
        const existing = await retryIdempotent(() => dps.getEnrollment(row.registrationId), deps.retry);
        const verdict = judgeExisting(row, manufacturerId, jobId, existing);
        if (verdict.status === 'enrolled') created.push(row.registrationId);
        return settled.set(row.registrationId, verdict);
      }
      settled.set(row.registrationId, { status: 'failed', reason: `DPS ${error.errorCode}: ${error.errorStatus}` });
    }),
  );
  // A row that ended refused gives back the EK it claimed, so the EK can be enrolled under its rightful ID later.
  await Promise.all(
    claimed
      .filter((r) => settled.get(r.registrationId)?.status === 'failed')
      .map(async (row) => {
        const claim = await claims.read(row.ekHash);
        if (claim?.jobId === jobId && claim.line === row.line) await claims.delete(row.ekHash, claim._etag as string);
      }),
  );
  if (created.length) {
    // One id per batch (its chunk and first line): a batch replayed after a crash before its checkpoint is audited once.
    await audit(
      store,
      {
        actor: `import:${jobId}`,
        action: 'enrollments.created',
        target: { kind: 'enrollment', id: created[0], ids: created },
        after: { manufacturerId, attestation: 'tpm', provisioningStatus: 'enabled' },
      },
      undefined,
      { id: `import.${jobId}.${chunkIndex}.${rows[0].line}`, day: filingDay },
    );
  }
  return settled;
}

/**
 * Writes the chunk under its etag. A 412 may be our own write whose answer was lost (the store tried again): when the
 * chunk as stored is what we meant to write, that is our checkpoint; anything else is another writer, and fails.
 */
async function checkpoint(jobs: ImportJobRepository, next: ChunkDocument): Promise<ChunkDocument> {
  try {
    return await jobs.replaceChunk(next);
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const stored = await jobs.chunk(next.jobId, next.index);
    if (stored && stored.state === next.state && JSON.stringify(stored.rows) === JSON.stringify(next.rows))
      return stored;
    throw err;
  }
}

/** Enrolls what is left of one chunk, checkpointing as it goes, then counts it into its job. */
export async function enrollChunk(deps: WorkerDeps, message: ChunkMessage): Promise<ChunkDocument | undefined> {
  const jobs = await deps.importJobs();
  const job = await jobs.get(message.jobId);
  let chunk = await jobs.chunk(message.jobId, message.chunk);
  if (!job || !chunk) {
    deps.log?.(`import ${message.jobId} chunk ${message.chunk}: not found`);
    return undefined;
  }
  while (chunk.state !== 'done') {
    const pending = chunk.rows.filter((r): r is RowRecord & ValidRow => r.status === 'valid').slice(0, DPS_BATCH);
    if (pending.length === 0) {
      chunk = await checkpoint(jobs, { ...chunk, state: 'done' });
      break;
    }
    const settled = await enrollBatch(
      deps,
      pending,
      job.manufacturerId,
      job.jobId,
      chunk.index,
      auditDay(job.createdAt),
    );
    for (const status of ['enrolled', 'alreadyEnrolled', 'failed'] as const)
      deps.metrics?.importRows(
        job.manufacturerId,
        status,
        [...settled.values()].filter((o) => o.status === status).length,
      );
    const rows = chunk.rows.map((r) => {
      const outcome = r.status === 'valid' ? settled.get(r.registrationId as string) : undefined;
      if (!outcome) return r;
      // The EK stays in the record only while it is needed to enroll.
      const { endorsementKey: _ek, ekCertificate: _cert, ...rest } = r as RowRecord & Partial<ValidRow>;
      return { ...rest, status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}) } as RowRecord;
    });
    chunk = await checkpoint(jobs, { ...chunk, rows });
  }
  await countChunk(deps, chunk);
  return chunk;
}
