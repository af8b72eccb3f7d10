/**
 * StagedFilesPort on `@azure/storage-blob`: makers' uploads as block blobs in the `import-uploads` container. A file
 * streams in through the function (uploadStream: 4 MB blocks, two in flight, so memory stays flat) or straight from
 * the maker with a SAS URL for that one blob, create and write only: a user-delegation SAS signed with the app's
 * identity in Azure, a service SAS with the account key locally. Reads go by 8 MB ranges from an offset, so a
 * validation that stopped resumes where it was without reading the file again.
 *
 * A file is pinned with a blob snapshot when its import starts. An upload URL cannot be recalled before it expires (a
 * user-delegation SAS can only be revoked with every key of the account, and cannot name a stored access policy), so
 * the URL keeps writing the base blob for its hour; a snapshot is read-only to everyone, the URL included, so the
 * signature check and every validation share read exactly the started bytes. Snapshots over the other choices: blob
 * versioning would need `isVersioningEnabled` on the whole account and Azurite does not implement it; If-Match reads
 * of the base blob alone would fail a job over a write but never keep the bytes that were started. Snapshots need
 * nothing deployed (infra/modules/storage.bicep as it is; the app's Storage Blob Data Contributor role on import-uploads covers them) and
 * Azurite implements them.
 *
 * Deadlines (storage-calls.ts): every point call (properties, snapshot, delete, container, delegation key) is
 * abandoned after 30 s without an answer and tried again — each may run twice. A snapshot taken twice (the first
 * try's answer lost) leaves a second snapshot of the same etag: the pin names the one whose answer came, both hold
 * exactly the bytes of that etag (the retry is under If-Match, so a file written meanwhile fails the pin instead),
 * and `delete` removes every snapshot with the file, so the spare costs nothing but its blocks' metadata for the job's
 * life. The streams (the upload, a range read) are abandoned when no bytes moved for 30 s: an upload then fails
 * (staged-upload.ts), a range read resumes from the byte it stopped at, so no byte is read twice downstream.
 */
import {
  type BlobClient,
  BlobSASPermissions,
  type BlobServiceClient,
  type ContainerClient,
  generateBlobSASQueryParameters,
  SASProtocol,
} from '@azure/storage-blob';

import { ConflictError, TransientError } from '../errors';
import type { FilePin, StagedFilesPort } from '../ports';
import { type BlobAuth, blobServiceClient } from './blobs';
import { uploadBlocks } from './staged-upload';
import { type StorageCallOptions, StorageCalls } from './storage-calls';

export const UPLOADS_CONTAINER = 'import-uploads';
const RANGE_BYTES = 8 * 1024 * 1024;
const statusOf = (err: unknown) => (err as { statusCode?: number }).statusCode;

export class StorageStagedFiles implements StagedFilesPort {
  private readonly service: BlobServiceClient;
  private readonly byKey: boolean;
  private readonly calls: StorageCalls;
  private ready: Promise<unknown> | undefined;

  constructor(auth: BlobAuth, options: StorageCallOptions = {}) {
    this.byKey = 'connectionString' in auth;
    this.service = blobServiceClient(auth);
    this.calls = new StorageCalls(options);
  }

  private async container(): Promise<ContainerClient> {
    const client = this.service.getContainerClient(UPLOADS_CONTAINER);
    this.ready ??= this.calls
      .idempotent(`create container ${UPLOADS_CONTAINER}`, (abortSignal) => client.createIfNotExists({ abortSignal }))
      .catch((err: unknown) => {
        this.ready = undefined;
        throw err;
      });
    await this.ready;
    return client;
  }

  async write(
    name: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
  ): Promise<{ bytes: number; etag: string }> {
    return uploadBlocks((await this.container()).getBlockBlobClient(name), body, maxBytes, this.calls);
  }

  /** The blob's (or snapshot's) properties, under If-Match `etag` when given; undefined when it is not there. */
  private async properties(blob: BlobClient, etag?: string) {
    return this.calls.idempotent(`read the properties of ${UPLOADS_CONTAINER}/${blob.name}`, async (abortSignal) => {
      try {
        return await blob.getProperties({ conditions: etag ? { ifMatch: etag } : undefined, abortSignal });
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    });
  }

  private async blob(name: string): Promise<BlobClient> {
    return (await this.container()).getBlobClient(name);
  }

  async size(name: string): Promise<number | undefined> {
    return (await this.properties(await this.blob(name)))?.contentLength;
  }

  async pin(name: string, etag?: string): Promise<(FilePin & { bytes: number }) | undefined> {
    const blob = await this.blob(name);
    try {
      const properties = await this.properties(blob, etag);
      if (!properties) return undefined;
      // Under the etag just read: the snapshot holds exactly the bytes whose size the caller checks. Tried again
      // after a lost answer (see the header: a spare snapshot of the same etag is harmless).
      const { snapshot } = await this.calls.idempotent(`snapshot ${UPLOADS_CONTAINER}/${name}`, (abortSignal) =>
        blob.createSnapshot({ conditions: { ifMatch: properties.etag }, abortSignal }),
      );
      return { snapshot: snapshot as string, etag: properties.etag as string, bytes: properties.contentLength ?? 0 };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      if (statusOf(err) === 412)
        throw new ConflictError('the file was written again while its import was starting', 412);
      throw err;
    }
  }

  async unchangedSince(name: string, pin: FilePin): Promise<boolean> {
    return (await this.properties(await this.blob(name)))?.etag === pin.etag;
  }

  async *read(name: string, offset: number, pin?: FilePin): AsyncIterable<Uint8Array> {
    const base = await this.blob(name);
    const blob = pin ? base.withSnapshot(pin.snapshot) : base;
    // A file (or pin) that is gone fails the read with its 404: never read as an empty file.
    const { contentLength: size = 0 } = await this.calls.idempotent(
      `read the properties of ${UPLOADS_CONTAINER}/${name}`,
      (abortSignal) => blob.getProperties({ abortSignal }),
    );
    for (let start = offset; start < size; start += RANGE_BYTES)
      yield* this.range(blob, start, Math.min(start + RANGE_BYTES, size));
  }

  /**
   * Bytes [start, end) of the blob, watched: when no bytes moved for the deadline (or the connection broke past the
   * SDK's own resumes), the range is asked again from the first byte not yet yielded. The watch is idle while the
   * consumer holds a chunk: a validation busy with its rows is not a stalled read.
   */
  private async *range(blob: BlobClient, start: number, end: number): AsyncIterable<Uint8Array> {
    let at = start;
    for (let failed = 0; at < end;) {
      const watch = this.calls.watch();
      try {
        watch.moved();
        const answer = await blob.download(at, end - at, {
          abortSignal: watch.signal,
          maxRetryRequests: 5,
          onProgress: () => watch.moved(),
        });
        for await (const chunk of answer.readableStreamBody as AsyncIterable<Buffer>) {
          at += chunk.byteLength;
          watch.idle();
          yield chunk;
          watch.moved();
        }
        if (at < end) throw new TransientError(`the range ended at byte ${at}, before ${end}`, undefined);
      } catch (err) {
        const failure = this.calls.streamFailure(err, `read ${UPLOADS_CONTAINER}/${blob.name} at byte ${at}`, watch);
        if (!(failure instanceof TransientError) || ++failed >= this.calls.streamTries) throw failure;
        await this.calls.pauseAfter(failed);
      } finally {
        watch.stop();
      }
    }
  }

  async uploadUrl(name: string, expiresOn: Date): Promise<string> {
    const blob = (await this.container()).getBlockBlobClient(name);
    const permissions = BlobSASPermissions.parse('cw');
    if (this.byKey) return blob.generateSasUrl({ permissions, expiresOn });
    const startsOn = new Date(Date.now() - 5 * 60_000); // clock skew
    const key = await this.calls.idempotent('get a user delegation key', (abortSignal) =>
      this.service.getUserDelegationKey(startsOn, expiresOn, { abortSignal }),
    );
    const sas = generateBlobSASQueryParameters(
      {
        containerName: UPLOADS_CONTAINER,
        blobName: name,
        permissions,
        startsOn,
        expiresOn,
        protocol: SASProtocol.Https,
      },
      key,
      this.service.accountName,
    );
    return `${blob.url}?${sas.toString()}`;
  }

  async delete(name: string): Promise<void> {
    const blob = await this.blob(name);
    await this.calls.idempotent(`delete ${UPLOADS_CONTAINER}/${name} and its snapshots`, (abortSignal) =>
      blob.deleteIfExists({ deleteSnapshots: 'include', abortSignal }),
    );
  }
}
