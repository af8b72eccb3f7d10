/**
 * A maker's upload streamed into a block blob: 4 MB blocks, two in flight, so memory stays flat whatever the size (up
 * to 10 GB), then one commit of the block list. The SDK's `uploadStream` does the same but hands its block writes no
 * abort signal, so a block that stalls holds it (and its socket) for ever: here every block goes under the stream's
 * watch (stall-watch.ts), which fires when Storage moved no bytes for the deadline, and the commit, a small call made
 * again safely (the same list names the same blocks), goes under an ordinary deadline.
 *
 * A stall fails the upload with TransientError: the maker's body is read once and is not ours to replay. Nothing is
 * committed then: the blocks already sent are dropped by the service (uncommitted blocks live a week at most).
 */
import { randomUUID } from 'node:crypto';

import type { BlockBlobClient } from '@azure/storage-blob';

import { PayloadTooLargeError } from '../errors';
import type { StorageCalls } from './storage-calls';

export const BLOCK_BYTES = 4 * 1024 * 1024;
const IN_FLIGHT = 2;

/** The next chunk of the body, or undefined once `signal` is aborted first (a block failed while the maker is slow). */
function nextOrAborted<T>(
  next: Promise<IteratorResult<T>>,
  signal: AbortSignal,
): Promise<IteratorResult<T> | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const aborted = () => resolve(undefined);
    signal.addEventListener('abort', aborted, { once: true });
    next.then(
      (r) => (signal.removeEventListener('abort', aborted), resolve(r)),
      (err: unknown) => (signal.removeEventListener('abort', aborted), reject(err)),
    );
  });
}

export async function uploadBlocks(
  blob: BlockBlobClient,
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
  calls: StorageCalls,
): Promise<{ bytes: number; etag: string }> {
  const what = `upload ${blob.containerName}/${blob.name}`;
  const watch = calls.watch();
  const prefix = randomUUID();
  const ids: string[] = [];
  const pending = new Set<Promise<void>>();
  let failure: unknown;

  const stage = (block: Buffer) => {
    // The ids of one blob's blocks must all be as long: a counter of fixed width after one prefix.
    const id = Buffer.from(`${prefix}-${String(ids.length).padStart(7, '0')}`).toString('base64');
    ids.push(id);
    watch.moved();
    const staged: Promise<void> = blob
      .stageBlock(id, block, block.byteLength, { abortSignal: watch.signal, onProgress: () => watch.moved() })
      .then(
        () => watch.moved(),
        (err: unknown) => {
          failure ??= err;
          watch.abort(); // the other block in flight is not worth finishing
        },
      )
      .finally(() => {
        pending.delete(staged);
        // Storage owes nothing now: waiting for the maker's next bytes is not a stall.
        if (pending.size === 0) watch.idle();
      });
    pending.add(staged);
  };

  let bytes = 0;
  const iterator = body[Symbol.asyncIterator]();
  try {
    let filling: Buffer[] = [];
    let filled = 0;
    for (;;) {
      const next = await nextOrAborted(iterator.next(), watch.signal);
      if (!next || next.done || failure !== undefined) break;
      const chunk = next.value;
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw new PayloadTooLargeError(maxBytes);
      filling.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      filled += chunk.byteLength;
      if (filled < BLOCK_BYTES) continue;
      // A copy: the body's own buffers are not held while their block is sent.
      const all = Buffer.concat(filling, filled);
      let at = 0;
      for (; all.byteLength - at >= BLOCK_BYTES; at += BLOCK_BYTES) {
        while (pending.size >= IN_FLIGHT) await Promise.race(pending);
        if (failure !== undefined) break;
        stage(all.subarray(at, at + BLOCK_BYTES));
      }
      filling = at < all.byteLength ? [all.subarray(at)] : [];
      filled = all.byteLength - at;
    }
    if (failure === undefined && filled > 0) {
      while (pending.size >= IN_FLIGHT) await Promise.race(pending);
      if (failure === undefined) stage(Buffer.concat(filling, filled));
    }
    await Promise.all(pending);
    if (failure !== undefined) throw failure;
  } catch (err) {
    watch.abort();
    await Promise.all(pending);
    // The maker's body is not read further (a stream left half read is closed with its request).
    void iterator.return?.().catch(() => undefined);
    if (err instanceof PayloadTooLargeError) throw err;
    throw calls.streamFailure(err, what, watch);
  } finally {
    watch.stop();
  }
  const { etag } = await calls.idempotent(`commit ${what}`, (abortSignal) =>
    blob.commitBlockList(ids, { abortSignal }),
  );
  return { bytes, etag: etag as string };
}
