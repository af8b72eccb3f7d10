/**
 * The staged import files (shared/azure/staged-files.ts, staged-upload.ts) against Azurite through its fault proxy,
 * when a call or a stream stalls: a range read cut short, or never answered, resumes from the first byte it had not
 * yielded (every byte once: the hash of the whole file); a pin whose properties read and snapshot stall is tried again
 * and still names one snapshot of the etag it read; an upload whose block stalls fails with TransientError, commits
 * nothing, and leaves its job failed before validation, so the same Idempotency-Key stages the file again at once.
 *
 * The deadline (a call's, and a stream's "no bytes moved for") is 3 s, and a stall never answers (nor sends another
 * byte): whatever the machine's speed, the stalled call is abandoned; the calls that are not stalled answer, or move
 * their next bytes, long before their own 3 s.
 */
import { createHash } from 'node:crypto';

import { BlobServiceClient } from '@azure/storage-blob';

import { NO_FAULTS } from '../../../dev/faults/plan';
import { StorageStagedFiles, UPLOADS_CONTAINER } from '../../../shared/azure/staged-files';
import { TransientError } from '../../../shared/errors';
import { jobIdFor, stageUpload } from '../../../shared/imports/stage';
import { CosmosImportJobRepository } from '../../../shared/imports/store/cosmos-jobs';
import { startTestStack, type TestStack } from '../../support/stack';

const DEADLINE_MS = 3000;
const MiB = 1024 * 1024;
let stack: TestStack;
let files: StorageStagedFiles;

beforeAll(async () => {
  stack = await startTestStack({ faults: NO_FAULTS, withStorage: true });
  files = new StorageStagedFiles(
    { connectionString: stack.env.AzureWebJobsStorage }, // through the proxy
    { deadlineMs: DEADLINE_MS, retry: { transientBaseDelayMs: 1 } },
  );
});
afterEach(() => {
  stack.faults?.set(NO_FAULTS);
  stack.faults?.resetCounts();
});
afterAll(async () => {
  await stack?.close();
});

const faults = () => stack.faults as NonNullable<TestStack['faults']>;
/** Azurite itself, around the proxy: what is really there. */
const uploads = () =>
  BlobServiceClient.fromConnectionString(stack.azurite?.connectionString as string).getContainerClient(
    UPLOADS_CONTAINER,
  );
/** Every blob and snapshot under `prefix`, as Azurite lists them. */
async function stored(prefix: string): Promise<Array<{ name: string; snapshot?: string }>> {
  const found = [];
  for await (const b of uploads().listBlobsFlat({ prefix, includeSnapshots: true }))
    found.push({ name: b.name, snapshot: b.snapshot || undefined });
  return found;
}

/** `bytes` bytes that differ everywhere (a counter's hash, block after block): a byte read twice changes the hash. */
function content(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let at = 0, n = 0; at < bytes; at += 32, n++)
    createHash('sha256')
      .update(String(n))
      .digest()
      .copy(out, at, 0, Math.min(32, bytes - at));
  return out;
}
const sha = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
async function* pieces(buffer: Buffer, size = 256 * 1024) {
  for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
}
async function readAll(iterable: AsyncIterable<Uint8Array>): Promise<{ bytes: number; hash: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of iterable) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, hash: hash.digest('hex') };
}

test('a range read cut short, and one never answered, resume from the first byte not yet yielded: every byte once', async () => {
  const file = content(20 * MiB); // ranges of 8 MB: 0–8, 8–16, 16–20
  const name = 'read-stalls/upload';
  const written = await files.write(name, pieces(file), 100 * MiB);
  const pin = (await files.pin(name, written.etag))!;
  faults().set({
    rules: [
      // The second range's answer stops after 1 MiB; the third range's never starts.
      { service: 'storage', operation: 'downloadBlob', calls: [2], fault: { kind: 'stall', afterBytes: MiB } },
      { service: 'storage', operation: 'downloadBlob', calls: [4], fault: { kind: 'stall' } },
    ],
  });
  expect(await readAll(files.read(name, 0, pin))).toEqual({ bytes: file.length, hash: sha(file) });
  // 1: 0–8 MB; 2: 8–16 cut at 9; 3: 9–16 (the rest of that range only); 4: 16–20 stalled; 5: 16–20.
  expect(faults().calls('storage', 'downloadBlob')).toBe(5);
  expect(faults().summary()).toBe('injected 2 faults: storage 2 stall');

  // From an offset, as a validation share resumes: the bytes from there on, once, through a stall.
  faults().set({
    rules: [{ service: 'storage', operation: 'downloadBlob', calls: [1], fault: { kind: 'stall', afterBytes: 3 } }],
  });
  const offset = 13 * MiB + 5;
  expect(await readAll(files.read(name, offset, pin))).toEqual({
    bytes: file.length - offset,
    hash: sha(file.subarray(offset)),
  });
});

test('a pin whose properties read and snapshot stall is tried again: one pin, exact bytes, a spare snapshot deleted with the file', async () => {
  const file = content(3 * MiB);
  const name = 'pin-stalls/upload';
  const written = await files.write(name, pieces(file), 100 * MiB);
  faults().set({
    rules: [
      { service: 'storage', operation: 'getBlobProperties', calls: [1], fault: { kind: 'stall' } },
      // Taken, its answer never came: the retry takes a second snapshot of the same etag.
      { service: 'storage', operation: 'createSnapshot', calls: [1], fault: { kind: 'stall', afterApply: true } },
    ],
  });
  const pin = (await files.pin(name, written.etag))!;
  expect(pin).toMatchObject({ etag: written.etag, bytes: file.length });
  expect(faults().calls('storage', 'getBlobProperties')).toBe(2);
  expect(faults().calls('storage', 'createSnapshot')).toBe(2);
  const snapshots = (await stored('pin-stalls/')).filter((b) => b.snapshot).map((b) => b.snapshot);
  expect(snapshots).toHaveLength(2);
  expect(snapshots).toContain(pin.snapshot);
  // A snapshot leaves the file's etag as it was: the pin still says "unchanged", and reads the bytes written.
  expect(await files.unchangedSince(name, pin)).toBe(true);
  expect(await readAll(files.read(name, 0, pin))).toEqual({ bytes: file.length, hash: sha(file) });

  faults().set({
    rules: [
      { service: 'storage', operation: 'getBlobProperties', calls: [1], fault: { kind: 'stall', afterApply: true } },
      { service: 'storage', operation: 'deleteBlob', calls: [1], fault: { kind: 'stall', afterApply: true } },
    ],
  });
  expect(await files.size(name)).toBe(file.length);
  await files.delete(name); // deleted, its answer lost: the retry finds nothing to delete
  expect(faults().calls('storage', 'deleteBlob')).toBe(2);
  expect(await stored('pin-stalls/')).toEqual([]);
  expect(await files.size(name)).toBeUndefined();
});

test('an upload whose block stalls fails with TransientError and commits nothing; a lost commit is made again', async () => {
  const file = content(10 * MiB); // blocks of 4 MB: three
  faults().set({
    rules: [{ service: 'storage', operation: 'stageBlock', calls: [2], fault: { kind: 'stall' } }],
  });
  const stalled = files.write('upload-stalls/upload', pieces(file), 100 * MiB);
  await expect(stalled).rejects.toBeInstanceOf(TransientError);
  await expect(stalled).rejects.toThrow(`upload ${UPLOADS_CONTAINER}/upload-stalls/upload: no bytes moved for 3000 ms`);
  expect(faults().calls('storage', 'commitBlockList')).toBe(0);
  expect(await stored('upload-stalls/')).toEqual([]);

  faults().set({
    rules: [
      { service: 'storage', operation: 'commitBlockList', calls: [1], fault: { kind: 'stall', afterApply: true } },
    ],
  });
  faults().resetCounts();
  const written = await files.write('upload-stalls/upload', pieces(file), 100 * MiB);
  expect(written.bytes).toBe(file.length);
  expect(faults().calls('storage', 'stageBlock')).toBe(3);
  expect(faults().calls('storage', 'commitBlockList')).toBe(2);
  const properties = await uploads().getBlobClient('upload-stalls/upload').getProperties();
  expect(properties.etag).toBe(written.etag);
  expect(sha(await uploads().getBlobClient('upload-stalls/upload').downloadToBuffer())).toBe(sha(file));
});

test("a maker's upload that stalls on Storage leaves its job failed before validation; the same key stages it again", async () => {
  const jobs = new CosmosImportJobRepository(stack.services.store);
  const sent: unknown[] = [];
  const deps = {
    importJobs: async () => jobs,
    events: async () => stack.services.events,
    queues: async () => ({ send: async (_queue: string, message: unknown) => void sent.push(message) }),
    stagedFiles: async () => files,
  };
  const text = `registrationId,endorsementKey\n${'acme-1,AAAA\n'.repeat(400_000)}`; // 4.8 MB: two blocks
  const upload = () =>
    stageUpload(deps, {
      manufacturerId: 'acme-tpm',
      createdBy: 'test',
      format: 'csv',
      idempotencyKey: 'stalled-upload',
      body: pieces(Buffer.from(text)),
      maxBytes: 100 * MiB,
    });
  faults().set({ rules: [{ service: 'storage', operation: 'stageBlock', calls: [1], fault: { kind: 'stall' } }] });
  await expect(upload()).rejects.toBeInstanceOf(TransientError);
  const jobId = jobIdFor('acme-tpm', 'stalled-upload');
  const failed = await jobs.get(jobId);
  expect(failed).toMatchObject({ status: 'failed', reason: expect.stringContaining('the upload broke off') });
  expect(failed?.staged).toBeUndefined();
  expect(sent).toEqual([]); // nothing handed to validation

  faults().set(NO_FAULTS);
  const again = await upload();
  expect(again.kind).toBe('accepted');
  expect(again.job).toMatchObject({ jobId, status: 'validating', staged: { bytes: Buffer.byteLength(text) } });
  expect(sent).toEqual([{ jobId }]);
});
