/**
 * BlobsPort on `@azure/storage-blob`. With an account key (Azurite locally) a hub gets a short-lived SAS URL of the
 * container; with managed identity it gets the plain URL and reads it with its own identity (infra grants each hub
 * blob reads and writes on the containers named for its jobs only: infra/modules/rbac.bicep).
 */
import type { TokenCredential } from '@azure/identity';
import { BlobServiceClient, ContainerSASPermissions } from '@azure/storage-blob';

import type { BlobContainerRef, BlobsPort } from '../ports';

export type BlobAuth = { connectionString: string } | { serviceUri: string; credential: TokenCredential };

const SAS_HOURS = 24;

/** The Blob service by account key (Azurite locally) or by identity (Azure). */
export function blobServiceClient(auth: BlobAuth): BlobServiceClient {
  return 'connectionString' in auth
    ? BlobServiceClient.fromConnectionString(auth.connectionString)
    : new BlobServiceClient(auth.serviceUri, auth.credential);
}

export class StorageBlobs implements BlobsPort {
  private readonly service: BlobServiceClient;
  private readonly byKey: boolean;

  constructor(auth: BlobAuth) {
    this.byKey = 'connectionString' in auth;
    this.service = blobServiceClient(auth);
  }

  async put(container: string, name: string, text: string): Promise<void> {
    const client = this.service.getContainerClient(container);
    await client.createIfNotExists();
    await client
      .getBlockBlobClient(name)
      .upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'text/plain' } });
  }

  async append(container: string, name: string, text: string): Promise<void> {
    const blob = this.service.getContainerClient(container).getAppendBlobClient(name);
    try {
      await blob.appendBlock(text, Buffer.byteLength(text));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      await this.service.getContainerClient(container).createIfNotExists();
      await blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: 'application/x-ndjson' } });
      await blob.appendBlock(text, Buffer.byteLength(text));
    }
  }

  async get(container: string, name: string): Promise<string | undefined> {
    try {
      return (await this.service.getContainerClient(container).getBlobClient(name).downloadToBuffer()).toString('utf8');
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  async containerForHub(container: string): Promise<BlobContainerRef> {
    const client = this.service.getContainerClient(container);
    await client.createIfNotExists();
    if (!this.byKey) return { url: client.url, byIdentity: true };
    const url = await client.generateSasUrl({
      permissions: ContainerSASPermissions.parse('rwdl'),
      expiresOn: new Date(Date.now() + SAS_HOURS * 3_600_000),
    });
    return { url, byIdentity: false };
  }
}
