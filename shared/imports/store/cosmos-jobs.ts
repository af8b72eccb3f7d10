/** Import jobs on Cosmos: the `imports` container, one partition a job for the job document and its chunks. */
import { CONTAINERS } from '../../containers';
import { ConflictError } from '../../errors';
import type { DocumentContainer, DocumentStore } from '../../ports';
import { type ChunkDocument, chunkId, type ImportJobRepository, type JobDocument } from '../job-store';

export class CosmosImportJobRepository implements ImportJobRepository {
  private readonly container: DocumentContainer<JobDocument | ChunkDocument>;

  constructor(store: DocumentStore) {
    this.container = store.container<JobDocument | ChunkDocument>(CONTAINERS.imports.name);
  }

  async get(jobId: string): Promise<JobDocument | undefined> {
    const doc = await this.container.read(jobId, jobId);
    return doc?.type === 'job' ? doc : undefined;
  }

  async create(job: JobDocument): Promise<JobDocument> {
    return (await this.container.create(job)) as JobDocument;
  }

  async replace(job: JobDocument): Promise<JobDocument> {
    return (await this.container.replace(job)) as JobDocument;
  }

  async update(
    jobId: string,
    change: (current: JobDocument) => JobDocument | undefined,
  ): Promise<JobDocument | undefined> {
    for (;;) {
      const current = (await this.container.read(jobId, jobId)) as JobDocument | undefined;
      if (!current || current.type !== 'job') return undefined;
      const next = change(current);
      if (!next) return current;
      try {
        return (await this.container.replace(next)) as JobDocument;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
      }
    }
  }

  async list(pageSize: number, continuationToken?: string) {
    const page = await this.container.query(
      'SELECT * FROM c WHERE c.type = "job" ORDER BY c.createdAt DESC',
      {},
      { maxItems: pageSize, continuationToken },
    );
    return { items: page.items as JobDocument[], continuationToken: page.continuationToken };
  }

  async chunk(jobId: string, index: number): Promise<ChunkDocument | undefined> {
    return (await this.container.read(chunkId(jobId, index), jobId)) as ChunkDocument | undefined;
  }

  async createChunk(chunk: ChunkDocument): Promise<void> {
    await this.container.create(chunk);
  }

  async replaceChunk(chunk: ChunkDocument): Promise<ChunkDocument> {
    return (await this.container.replace(chunk)) as ChunkDocument;
  }

  async chunksOf(jobId: string, pageSize: number, continuationToken?: string) {
    const page = await this.container.query(
      'SELECT * FROM c WHERE c.jobId = @jobId AND c.type = "chunk" ORDER BY c["index"]',
      { '@jobId': jobId },
      { partitionKey: jobId, maxItems: pageSize, continuationToken },
    );
    return { items: page.items as ChunkDocument[], continuationToken: page.continuationToken };
  }
}
