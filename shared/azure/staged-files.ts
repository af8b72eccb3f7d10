/**
 * StagedFilesPort on `@azure/storage-blob`: makers' uploads as block blobs in the `import-uploads` container. A file
 * streams in through the function (uploadStream: 4 MB blocks, two in flight, so memory stays flat) or straight from
 * the maker with a SAS URL for that one blob, create and write only: a user-delegation SAS signed with the app's
 * identity in Azure, a service SAS with the account key locally. Reads go by 8 MB ranges from an offset, so a
 * validation that stopped resumes where it was without reading the file again.
 */
import { Readable } from 'node:stream';

import {
  BlobSASPermissions,
  type BlobServiceClient,
  type ContainerClient,
  generateBlobSASQueryParameters,
  SASProtocol,
} from '@azure/storage-blob';

import { PayloadTooLargeError } from '../errors';
import type { StagedFilesPort } from '../ports';
import { type BlobAuth, blobServiceClient } from './blobs';

export const UPLOADS_CONTAINER = 'import-uploads';
const RANGE_BYTES = 8 * 1024 * 1024;
const BLOCK_BYTES = 4 * 1024 * 1024;

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

  async write(name: string, body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<{ bytes: number }> {
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
    await (await this.container()).getBlockBlobClient(name).uploadStream(limited, BLOCK_BYTES, 2);
    return { bytes };
  }

  async size(name: string): Promise<number | undefined> {
    try {
      return (await (await this.container()).getBlobClient(name).getProperties()).contentLength;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  async *read(name: string, offset: number): AsyncIterable<Uint8Array> {
    const blob = (await this.container()).getBlobClient(name);
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
    await (await this.container()).getBlobClient(name).deleteIfExists();
  }
}
