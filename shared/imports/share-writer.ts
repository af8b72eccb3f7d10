/**
 * What one share of validation writes: rows gather into chunk documents, and every checkpoint saves the position, the
 * counts, the chunks to enroll and what the duplicate detector learnt (one segment file a checkpoint), so the next
 * share — or the retry after a crash — starts where this one saved.
 */
import { ConflictError } from '../errors';
import { type StagedFilesPort } from '../ports';
import {
  CHUNK_ROWS,
  type ChunkDocument,
  chunkId,
  type ImportJobRepository,
  type RowRecord,
  type ValidationCheckpoint,
} from './job-store';
import { FileDuplicates } from './rules/duplicates';
import { type SourcePosition, START } from './rules/row-sources';

const MAX_WRITES_IN_FLIGHT = 4;

export const segmentFile = (jobId: string, segment: number) => `${jobId}/duplicates/${segment}`;

export const freshCheckpoint = (): ValidationCheckpoint => ({
  position: START,
  counts: { rows: 0, valid: 0, invalid: 0, duplicate: 0 },
  chunks: 0,
  segments: 0,
  toEnroll: '',
});

/** What the duplicate detector knew at the checkpoint: the segments saved with it. */
export async function restoredDuplicates(
  files: StagedFilesPort,
  jobId: string,
  segments: number,
): Promise<FileDuplicates> {
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
export class ShareWriter {
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
