/** QueuePort on `@azure/storage-queue`. Messages are base64 JSON, the encoding the Functions queue trigger expects. */
import type { TokenCredential } from '@azure/identity';
import { QueueServiceClient } from '@azure/storage-queue';

import type { QueuePort } from '../ports';
import { type StorageCallOptions, StorageCalls } from './storage-calls';

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
  private readonly calls: StorageCalls;

  constructor(
    private readonly service: QueueServiceClient,
    options: StorageCallOptions = {},
  ) {
    this.calls = new StorageCalls(options);
  }

  /**
   * Under a deadline, and not tried again here when it passes: a send that stalled may have been enqueued, and another
   * would be a second message. The caller's invocation fails instead and its own message comes back. (The SDK itself
   * sends again after a dropped connection, so a message can arrive twice: queue delivery is at least once anyway,
   * and every worker takes a message it already handled.)
   */
  async send(queueName: string, message: unknown, options: { visibilityDelayMs?: number } = {}): Promise<void> {
    await this.calls.once(`send to queue ${queueName}`, (abortSignal) =>
      this.service.getQueueClient(queueName).sendMessage(encodeQueueMessage(message), {
        visibilityTimeout: options.visibilityDelayMs ? Math.ceil(options.visibilityDelayMs / 1000) : undefined,
        abortSignal,
      }),
    );
  }
}
