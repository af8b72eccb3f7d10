/**
 * BlobsPort on `@azure/storage-blob`. With an account key (Azurite locally) a hub gets a short-lived SAS URL of the
 * container; with managed identity it gets the plain URL and reads it with its own identity (infra grants each hub
 * blob reads and writes on the containers named for its jobs only: infra/modules/rbac.bicep).
 *
 * Every call has a deadline (storage-calls.ts); reads, whole-blob writes and container creation are tried again after
 * a transient fault; an append is tried again only once the blob's tail shows the lost try did not add its block.
 */
import type { TokenCredential } from '@azure/identity';
import { type AppendBlobClient, BlobServiceClient, ContainerSASPermissions } from '@azure/storage-blob';

import { TransientError } from '../errors';
import type { BlobContainerRef, BlobsPort } from '../ports';
import { type StorageCallOptions, StorageCalls } from './storage-calls';

export type BlobAuth = { connectionString: string } | { serviceUri: string; credential: TokenCredential };

const SAS_HOURS = 24;
/** Tries of one append after lost answers (each judged by the tail first). */
const APPEND_TRIES = 4;
/** How far back a lost append is looked for: other appends of this writer may have landed after it meanwhile. */
const TAIL_WINDOW_BYTES = 1_048_576;

/** The Blob service by account key (Azurite locally) or by identity (Azure). */
export function blobServiceClient(auth: BlobAuth): BlobServiceClient {
  return 'connectionString' in auth
    ? BlobServiceClient.fromConnectionString(auth.connectionString)
    : new BlobServiceClient(auth.serviceUri, auth.credential);
}

const statusOf = (err: unknown) => (err as { statusCode?: number }).statusCode;

export class StorageBlobs implements BlobsPort {
  private readonly service: BlobServiceClient;
  private readonly byKey: boolean;
  private readonly calls: StorageCalls;

  constructor(auth: BlobAuth, options: StorageCallOptions = {}) {
    this.byKey = 'connectionString' in auth;
    this.service = blobServiceClient(auth);
    this.calls = new StorageCalls(options);
  }

  private createContainer(container: string): Promise<unknown> {
    return this.calls.idempotent(`create container ${container}`, (abortSignal) =>
      this.service.getContainerClient(container).createIfNotExists({ abortSignal }),
    );
  }

  async put(container: string, name: string, text: string): Promise<void> {
    await this.createContainer(container);
    const bytes = Buffer.byteLength(text);
    await this.calls.idempotent(
      `write blob ${container}/${name}`,
      (abortSignal) =>
        this.service
          .getContainerClient(container)
          .getBlockBlobClient(name)
          .upload(text, bytes, { blobHTTPHeaders: { blobContentType: 'text/plain' }, abortSignal }),
      bytes,
    );
  }

  async append(container: string, name: string, text: string): Promise<void> {
    const blob = this.service.getContainerClient(container).getAppendBlobClient(name);
    const bytes = Buffer.byteLength(text);
    const what = `append to blob ${container}/${name}`;
    const appendOnce = () =>
      this.calls.once(what, (abortSignal) => blob.appendBlock(text, bytes, { abortSignal }), bytes);
    // A lost answer may hide an applied block: the blob's tail is read, and the block sent again only when its text is
    // not there (each line of ours is unique: it carries its record's id), so a line is appended once.
    const appendBlock = async () => {
      for (let tries = 1; ; tries++) {
        try {
          return await appendOnce();
        } catch (err) {
          if (!(err instanceof TransientError) || tries >= APPEND_TRIES) throw err;
          if (await this.endsWithin(blob, text, bytes)) return;
        }
      }
    };
    try {
      await appendBlock();
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      await this.createContainer(container);
      await this.calls.idempotent(`create blob ${container}/${name}`, (abortSignal) =>
        blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: 'application/x-ndjson' }, abortSignal }),
      );
      await appendBlock();
    }
  }

  /** Whether `text` is among the blob's last bytes (a window wide enough for the appends that may have followed it). */
  private async endsWithin(blob: AppendBlobClient, text: string, bytes: number): Promise<boolean> {
    return this.calls.idempotent(`read the tail of ${blob.name}`, async (abortSignal) => {
      let length: number;
      try {
        length = (await blob.getProperties({ abortSignal })).contentLength ?? 0;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
      const window = Math.min(length, TAIL_WINDOW_BYTES + bytes);
      if (window < bytes) return false;
      const tail = await blob.downloadToBuffer(length - window, window, { abortSignal });
      return tail.includes(Buffer.from(text, 'utf8'));
    });
  }

  async get(container: string, name: string): Promise<string | undefined> {
    return this.calls.idempotent(`read blob ${container}/${name}`, async (abortSignal) => {
      try {
        const blob = this.service.getContainerClient(container).getBlobClient(name);
        return (await blob.downloadToBuffer(undefined, undefined, { abortSignal })).toString('utf8');
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    });
  }

  async containerForHub(container: string): Promise<BlobContainerRef> {
    await this.createContainer(container);
    const client = this.service.getContainerClient(container);
    if (!this.byKey) return { url: client.url, byIdentity: true };
    const url = await client.generateSasUrl({
      permissions: ContainerSASPermissions.parse('rwdl'),
      expiresOn: new Date(Date.now() + SAS_HOURS * 3_600_000),
    });
    return { url, byIdentity: false };
  }
}
