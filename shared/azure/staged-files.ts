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
 */
import { Readable } from 'node:stream';

import {
  BlobSASPermissions,
  type BlobServiceClient,
  type ContainerClient,
  generateBlobSASQueryParameters,
  SASProtocol,
} from '@azure/storage-blob';

import { ConflictError, PayloadTooLargeError } from '../errors';
import type { FilePin, StagedFilesPort } from '../ports';
import { type BlobAuth, blobServiceClient } from './blobs';

export const UPLOADS_CONTAINER = 'import-uploads';
const RANGE_BYTES = 8 * 1024 * 1024;
const BLOCK_BYTES = 4 * 1024 * 1024;
const statusOf = (err: unknown) => (err as { statusCode?: number }).statusCode;

export class StorageStagedFiles implements StagedFilesPort {
  private readonly service: BlobServiceClient;
  private readonly byKey: boolean;
  private ready: Promise<unknown> | undefined;

  constructor(auth: BlobAuth) {
    this.byKey = 'connectionString' in auth;
    this.service = blobServiceClient(auth);
  }

  private async container(): Promise<ContainerClient> {
    const client = this.service.getContainerClient(UPLOADS_CONTAINER);
    this.ready ??= client.createIfNotExists().catch((err: unknown) => {
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
    let bytes = 0;
    const limited = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          bytes += chunk.byteLength;
          // Nothing is committed: the blocks already sent are dropped by the service.
          if (bytes > maxBytes) throw new PayloadTooLargeError(maxBytes);
          // uploadStream copies Buffers; an HTTP body gives plain Uint8Arrays.
          yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        }
      })(),
    );
    const { etag } = await (await this.container()).getBlockBlobClient(name).uploadStream(limited, BLOCK_BYTES, 2);
    return { bytes, etag: etag as string };
  }

  private async properties(name: string) {
    try {
      return await (await this.container()).getBlobClient(name).getProperties();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async size(name: string): Promise<number | undefined> {
    return (await this.properties(name))?.contentLength;
  }

  async pin(name: string, etag?: string): Promise<(FilePin & { bytes: number }) | undefined> {
    const blob = (await this.container()).getBlobClient(name);
    try {
      const properties = await blob.getProperties({ conditions: etag ? { ifMatch: etag } : undefined });
      // Under the etag just read: the snapshot holds exactly the bytes whose size the caller checks.
      const { snapshot } = await blob.createSnapshot({ conditions: { ifMatch: properties.etag } });
      return { snapshot: snapshot as string, etag: properties.etag as string, bytes: properties.contentLength ?? 0 };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      if (statusOf(err) === 412)
        throw new ConflictError('the file was written again while its import was starting', 412);
      throw err;
    }
  }

  async unchangedSince(name: string, pin: FilePin): Promise<boolean> {
    return (await this.properties(name))?.etag === pin.etag;
  }

  async *read(name: string, offset: number, pin?: FilePin): AsyncIterable<Uint8Array> {
    const base = (await this.container()).getBlobClient(name);
    const blob = pin ? base.withSnapshot(pin.snapshot) : base;
    const size = (await blob.getProperties()).contentLength ?? 0;
    for (let at = offset; at < size; at += RANGE_BYTES) {
      const range = await blob.download(at, Math.min(RANGE_BYTES, size - at), { maxRetryRequests: 5 });
      for await (const chunk of range.readableStreamBody as AsyncIterable<Buffer>) yield chunk;
    }
  }

  async uploadUrl(name: string, expiresOn: Date): Promise<string> {
    const blob = (await this.container()).getBlockBlobClient(name);
    const permissions = BlobSASPermissions.parse('cw');
    if (this.byKey) return blob.generateSasUrl({ permissions, expiresOn });
    const startsOn = new Date(Date.now() - 5 * 60_000); // clock skew
    const key = await this.service.getUserDelegationKey(startsOn, expiresOn);
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
    await (await this.container()).getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
  }
}
