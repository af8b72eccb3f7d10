/** QueuePort on `@azure/storage-queue`. Messages are base64 JSON, the encoding the Functions queue trigger expects. */
import type { TokenCredential } from '@azure/identity';
import { QueueServiceClient } from '@azure/storage-queue';

import type { QueuePort } from '../ports';

export type QueueAuth = { connectionString: string } | { serviceUri: string; credential: TokenCredential };

export function queueService(auth: QueueAuth): QueueServiceClient {
  return 'connectionString' in auth
    ? QueueServiceClient.fromConnectionString(auth.connectionString)
    : new QueueServiceClient(auth.serviceUri, auth.credential);
}

export function encodeQueueMessage(message: unknown): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

export class StorageQueues implements QueuePort {
  constructor(private readonly service: QueueServiceClient) {}

  async send(queueName: string, message: unknown, options: { visibilityDelayMs?: number } = {}): Promise<void> {
    await this.service.getQueueClient(queueName).sendMessage(encodeQueueMessage(message), {
      visibilityTimeout: options.visibilityDelayMs ? Math.ceil(options.visibilityDelayMs / 1000) : undefined,
    });
  }
}
