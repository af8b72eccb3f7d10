/**
 * One Storage call under a deadline of our own. The Storage SDKs have no client-side timeout (`tryTimeoutInMs` is
 * only the server-side `timeout` parameter): a connection that stalls without an answer would hold the invocation
 * until the host stops it. So every call gets an abort signal, and when it fires, when the connection is lost, or
 * when Storage still answers 408/5xx after the SDK's own retries, the adapter throws TransientError: the answer is
 * lost and the call may or may not have been applied. Calls that may run twice are then tried again here.
 *
 * The deadline covers the SDK's own retries too. 30 s is what Storage itself allows most operations on the server
 * (a blob read 2 minutes a megabyte, a write 10): an upload is given 10 s more for every megabyte it sends.
 *
 * A stream (a ranged read, a staged upload of up to 10 GB) has no fixed deadline: it is watched instead, and abandoned
 * when no bytes moved for as long as a call's deadline (stall-watch.ts); its failure means what a call's does.
 */
import { isConnectionLost, TRANSIENT_STATUSES, TransientError } from '../errors';
import { retryIdempotent, type RetryOptions, transientWaitMs } from '../retry';
import { StallWatch } from './stall-watch';

export const STORAGE_DEADLINE_MS = 30_000;
const PER_MEGABYTE_MS = 10_000;

export interface StorageCallOptions {
  /** A call without an answer this long is abandoned (an upload: plus 10 s a megabyte). */
  deadlineMs?: number;
  /** How idempotent calls are tried again after a transient fault (3 tries in all, unless told). */
  retry?: RetryOptions;
}

function translate(err: unknown, what: string, deadlineMs: number): unknown {
  const e = err as { name?: string; statusCode?: number; message?: string } | undefined;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError')
    return new TransientError(`${what}: no answer within ${deadlineMs} ms`, undefined);
  if (typeof e?.statusCode === 'number' && TRANSIENT_STATUSES.has(e.statusCode))
    return new TransientError(`${what}: ${e.message}`, e.statusCode);
  if (isConnectionLost(err)) return new TransientError(`${what}: connection lost: ${e?.message}`, undefined);
  return err;
}

export class StorageCalls {
  private readonly deadlineMs: number;

  constructor(private readonly options: StorageCallOptions = {}) {
    this.deadlineMs = options.deadlineMs ?? STORAGE_DEADLINE_MS;
  }

  /** Once: for a call that must not run twice (a queue message, an append). `bytes` sent lengthen the deadline. */
  async once<T>(what: string, call: (abortSignal: AbortSignal) => Promise<T>, bytes = 0): Promise<T> {
    const deadline = this.deadlineMs + Math.ceil((bytes / 1_048_576) * PER_MEGABYTE_MS);
    try {
      return await call(AbortSignal.timeout(deadline));
    } catch (err) {
      throw translate(err, what, deadline);
    }
  }

  /** Tried again after a transient fault, each try under its own deadline: reads, and writes of the same thing. */
  idempotent<T>(what: string, call: (abortSignal: AbortSignal) => Promise<T>, bytes = 0): Promise<T> {
    return retryIdempotent(() => this.once(what, call, bytes), this.retryOptions());
  }

  private retryOptions(): RetryOptions {
    return { attempts: 1, transientAttempts: 3, ...this.options.retry };
  }

  /** A watch for one stream: it fires when no bytes moved for the deadline. Started by its first `moved`. */
  watch(): StallWatch {
    return new StallWatch(this.deadlineMs);
  }

  /** What a stream's failure means: its watch fired — TransientError "no bytes moved" — or as for a call. */
  streamFailure(err: unknown, what: string, watch: StallWatch): unknown {
    if (watch.stalled) return new TransientError(`${what}: no bytes moved for ${watch.stallMs} ms`, undefined);
    // The SDK resumes a read whose connection broke a few times itself, then says so: the connection is still lost.
    if (/received less data than required/.test((err as Error | undefined)?.message ?? ''))
      return new TransientError(`${what}: connection lost: ${(err as Error).message}`, undefined);
    return translate(err, what, watch.stallMs);
  }

  /** How many tries a stream gets after transient faults (as an idempotent call), each from where the last stopped. */
  get streamTries(): number {
    return this.retryOptions().transientAttempts ?? 3;
  }

  /** Waits before a stream's try after `failed` transient faults, as an idempotent call would. */
  async pauseAfter(failed: number): Promise<void> {
    const options = this.retryOptions();
    const wait = transientWaitMs(failed, options);
    await (options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(wait);
  }
}
