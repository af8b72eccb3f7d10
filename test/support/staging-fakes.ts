/**
 * Staging's ports in memory, for the use-case tests of shared/imports/stage.ts and validate.ts: a staged-files store that
 * keeps nothing but answers as Blob storage does, and the queue's sent messages.
 */
import type { StagedFilesPort } from '../../shared/ports';
import { MemoryImportJobRepository } from './memory-repositories';

/** Stores nothing; a write answers its bytes (its etag names them), a pin the snapshot `s1` of 4 bytes. */
export const stagedFilesInMemory = (overrides: Partial<StagedFilesPort> = {}): StagedFilesPort => ({
  async write(_name, body) {
    let bytes = 0;
    for await (const c of body) bytes += c.byteLength;
    return { bytes, etag: `"e${bytes}"` };
  },
  pin: async (_name, etag) => ({ snapshot: 's1', etag: etag ?? '"e1"', bytes: 4 }),
  size: async () => 4,
  read: async function* () {},
  unchangedSince: async () => true,
  uploadUrl: async () => 'u',
  delete: async () => undefined,
  ...overrides,
});

/**
 * Staging's dependencies over memory. The queue keeps what is sent in `sent`; `beforeSend` may throw instead, as a
 * send whose answer was lost does.
 */
export function stagingRig(
  options: { files?: StagedFilesPort; beforeSend?: (message: unknown) => void; now?: () => number } = {},
) {
  const jobs = new MemoryImportJobRepository();
  const sent: unknown[] = [];
  const files = options.files ?? stagedFilesInMemory();
  const deps = {
    importJobs: async () => jobs,
    queues: async () => ({
      send: async (_queue: string, message: unknown) => {
        options.beforeSend?.(message);
        sent.push(message);
      },
    }),
    events: async () => ({ publish: async () => undefined, close: async () => undefined }),
    stagedFiles: async () => files,
    ...(options.now ? { clock: { now: () => new Date((options.now as () => number)()) } } : {}),
  };
  return { jobs, sent, deps };
}

/** A maker's file as the HTTP body streams it. */
export const bodyOf = (text = 'a,b\n') =>
  (async function* () {
    yield Buffer.from(text);
  })();
