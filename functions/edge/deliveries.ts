/**
 * A queue message that keeps failing goes to `<queue>-poison` after the host's `maxDequeueCount` deliveries (host.json:
 * 5, Azure Functions' default). Before the last delivery's failure hands it there, the job or incident it was doing
 * work for is marked, so nothing looks alive that no message will ever move again.
 */
import type { InvocationContext } from '@azure/functions';

/** host.json `extensions.queues.maxDequeueCount` (a unit test keeps the two equal). */
export const MAX_DEQUEUE_COUNT = 5;

/** The delivery count the queue trigger hands the function (1 on the first delivery). */
export function dequeueCount(context: InvocationContext): number {
  const count = Number(context.triggerMetadata?.dequeueCount);
  return Number.isFinite(count) && count > 0 ? count : 1;
}

/**
 * Runs the work; when it fails on the message's last delivery, `mark` records why before the error reaches the host
 * (which then moves the message to the poison queue). A mark that fails too is logged: the work's error stands.
 */
export async function markOnLastDelivery(
  context: InvocationContext,
  work: () => Promise<void>,
  mark: (reason: string, fault: unknown) => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (err) {
    const count = dequeueCount(context);
    if (count >= MAX_DEQUEUE_COUNT) {
      const reason = `failed ${count} deliveries, the last with: ${err instanceof Error ? err.message : String(err)}`;
      await mark(reason, err).catch((markErr: unknown) =>
        context.error(`could not record the poisoned message (${reason}): ${String(markErr)}`),
      );
    }
    throw err;
  }
}
