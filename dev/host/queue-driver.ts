/**
 * Drives queue-triggered functions from Azurite as the Functions host does: a message is base64 JSON (or text),
 * handed to the handler with its trigger metadata, deleted on success, made visible again after a failure, and
 * moved to `<queue>-poison` after `maxDequeueCount` failures.
 */
import { InvocationContext, type StorageQueueHandler } from '@azure/functions';
import { type DequeuedMessageItem, QueueServiceClient } from '@azure/storage-queue';

export interface QueueDriverOptions {
  connectionString: string;
  queueName: string;
  functionName: string;
  handler: StorageQueueHandler;
  batchSize: number;
  maxDequeueCount: number;
  retryDelaySeconds: number;
  /** How long a received message stays invisible: if this host dies, the message comes back after it. */
  visibilityTimeoutSeconds?: number;
  log: (line: string) => void;
}

export function decodeQueueMessage(text: string): unknown {
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64').toString('utf8') : text;
  try {
    return JSON.parse(decoded);
  } catch {
    return decoded;
  }
}

export function startQueueDriver(options: QueueDriverOptions): { stop(): Promise<void> } {
  const service = QueueServiceClient.fromConnectionString(options.connectionString);
  const queue = service.getQueueClient(options.queueName);
  const poison = service.getQueueClient(`${options.queueName}-poison`);
  let running = true;
  let idleMs = 50;

  async function handle(message: DequeuedMessageItem): Promise<void> {
    const context = new InvocationContext({
      functionName: options.functionName,
      invocationId: message.messageId,
      triggerMetadata: {
        id: message.messageId,
        dequeueCount: message.dequeueCount,
        popReceipt: message.popReceipt,
        insertionTime: message.insertedOn,
        queueTrigger: message.messageText,
      },
      logHandler: (level, ...args) => options.log(`[${options.functionName}] ${level}: ${args.map(String).join(' ')}`),
    });
    try {
      await options.handler(decodeQueueMessage(message.messageText), context);
      await queue.deleteMessage(message.messageId, message.popReceipt);
    } catch (err) {
      options.log(`[${options.functionName}] failed (attempt ${message.dequeueCount}): ${String(err)}`);
      if (message.dequeueCount >= options.maxDequeueCount) {
        await poison.createIfNotExists();
        await poison.sendMessage(message.messageText);
        await queue.deleteMessage(message.messageId, message.popReceipt);
      } else {
        await queue.updateMessage(message.messageId, message.popReceipt, undefined, options.retryDelaySeconds);
      }
    }
  }

  const loop = (async () => {
    let created = false;
    while (running) {
      try {
        if (!created) created = !!(await queue.createIfNotExists());
        const { receivedMessageItems } = await queue.receiveMessages({
          numberOfMessages: options.batchSize,
          visibilityTimeout: options.visibilityTimeoutSeconds ?? 300,
        });
        if (receivedMessageItems.length === 0) {
          idleMs = Math.min(idleMs * 2, 1000);
          await new Promise((r) => setTimeout(r, idleMs));
          continue;
        }
        idleMs = 50;
        await Promise.all(receivedMessageItems.map(handle));
      } catch (err) {
        if (running) options.log(`[${options.functionName}] queue poll failed: ${String(err)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();

  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
