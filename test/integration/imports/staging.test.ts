/**
 * Staged imports against the local stack (Azurite, the Cosmos emulator, the local DPS): the file is stored before any
 * row is read; validation runs in queue-driven shares that resume from their checkpoint (byte offset, line, counts,
 * the duplicate detector) after a share ends or a crash; every limit has its clear refusal; big files go to an
 * upload URL. The queues of the use-case tests are captured; the HTTP tests run through the local Functions host.
 */
import { createSign } from 'node:crypto';

import { randomEk } from '../../../dev/ek-factory';
import type { RunningHost } from '../../../dev/host/host';
import { issue } from '../../../dev/pki';
import { lazyServices } from '../../../shared/composition';
import { QUEUES } from '../../../shared/containers';
import { enrollChunk } from '../../../shared/imports/enroll-chunk';
import { listRows } from '../../../shared/imports/job-store';
import { enrollmentOf } from '../../../shared/imports/rules/enrollment';
import { validateRow, type ValidRow } from '../../../shared/imports/rules/row';
import type { ImportFormat } from '../../../shared/imports/rules/row-sources';
import { jobIdFor, openUploadSlot, stageUpload, startUploaded } from '../../../shared/imports/stage';
import { CosmosImportJobRepository } from '../../../shared/imports/store/cosmos-jobs';
import { validateStaged } from '../../../shared/imports/validate';
import type { StagedFilesPort } from '../../../shared/ports';
import { startAppHost } from '../../support/app-host';
import { runCli } from '../../support/cli';
import { startTestStack, type TestStack } from '../../support/stack';

const ACME = 'Bearer dev-acme-tpm-secret-not-a-secret';
const RULES = { manufacturerId: 'acme-tpm', registrationIdPrefix: 'acme-' };
const b64 = (b: Buffer) => b.toString('base64');

let stack: TestStack;
/** The import jobs as the use cases keep them, on the stack's Cosmos. */
const jobs = () => new CosmosImportJobRepository(stack.services.store);
let host: RunningHost;
let files: StagedFilesPort;

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  files = await lazyServices(stack.env).stagedFiles();
  const functions = await import('../../../functions/index');
  host = await startAppHost({
    registrations: functions.registeredFunctions(),
    env: process.env,
    queue: { retryDelaySeconds: 1 },
  });
});
afterAll(async () => {
  // The imported enrollments point at the webhook: its runtime refreshes on timers until it is stopped.
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

interface Sent {
  queue: string;
  message: { jobId: string; chunk?: number };
}

/** Use-case dependencies whose queue messages are kept here instead of being sent. */
function captured(sent: Sent[], stagedFiles: StagedFilesPort = files) {
  return {
    importJobs: async () => jobs(),
    events: async () => stack.services.events,
    queues: async () => ({
      send: async (queue: string, message: unknown) => void sent.push({ queue, message } as Sent),
    }),
    stagedFiles: async () => stagedFiles,
  };
}

const streamOf = (text: string, piece = 4096) =>
  (async function* () {
    for (let i = 0; i < text.length; i += piece) yield Buffer.from(text.slice(i, i + piece));
  })();

/** Stages `text` and validates it share after share (budget 0: a share ends at every checkpoint). */
async function stageAndValidate(
  text: string,
  options: {
    key: string;
    format?: ImportFormat;
    budgetMs?: number;
    signature?: string;
    signingCertificates?: string[];
    stagedFiles?: StagedFilesPort;
  },
) {
  const sent: Sent[] = [];
  const deps = captured(sent, options.stagedFiles);
  const staged = await stageUpload(deps, {
    manufacturerId: 'acme-tpm',
    createdBy: 'test',
    format: options.format ?? 'csv',
    idempotencyKey: options.key,
    body: streamOf(text),
    signature: options.signature,
    maxBytes: 1 << 30,
  });
  const jobId = staged.job.jobId;
  let shares = 0;
  let outcome: string;
  do {
    outcome = await validateStaged(
      deps,
      { jobId },
      { rules: { ...RULES, signingCertificates: options.signingCertificates }, maxRows: 1_000_000, ...options },
    );
    shares++;
  } while (outcome === 'continued');
  return { staged: staged.job, job: await jobs().get(jobId), sent, shares, outcome };
}

async function allRows(jobId: string) {
  const rows = [];
  let token: string | undefined;
  do {
    const page = await listRows(jobs(), jobId, undefined, token);
    rows.push(...page.rows);
    token = page.continuationToken;
  } while (token);
  return rows;
}

/** 12,000 NDJSON rows (2.4 checkpoints): a broken line, and a row 10,990 lines later repeating line 10's EK. */
function bigFile(): string {
  const eks = Array.from({ length: 12_000 }, () => b64(randomEk()));
  eks[11_000] = eks[9];
  return eks
    .map((ek, i) =>
      i === 5_500 ? '{"registrationId": ' : JSON.stringify({ registrationId: `acme-big-${i}`, endorsementKey: ek }),
    )
    .join('\n');
}

test('the file is stored before a row is read; validation in shares gives exactly the rows of one pass', async () => {
  const text = bigFile();
  const onePass = await stageAndValidate(text, { key: 'big-one-pass', format: 'ndjson' });
  const inShares = await stageAndValidate(text, { key: 'big-in-shares', format: 'ndjson', budgetMs: 0 });
  expect(inShares.staged).toMatchObject({ status: 'validating', counts: { rows: 0 } }); // nothing read in the request
  expect(onePass.shares).toBe(1);
  expect(inShares.shares).toBe(3); // a share per 5,000 rows, and the last
  expect(inShares.sent.filter((s) => s.queue === QUEUES.importValidation)).toHaveLength(3); // the first + two hand-overs
  for (const run of [onePass, inShares])
    expect(run.job).toMatchObject({
      status: 'enrolling',
      counts: { rows: 12_000, valid: 11_998, invalid: 1, duplicate: 1 },
      chunks: 120,
    });
  const rows = await allRows(inShares.job!.jobId);
  expect(rows).toEqual(await allRows(onePass.job!.jobId));
  expect(rows[11_000]).toMatchObject({ line: 11_001, status: 'duplicate', reason: expect.stringContaining('line 10') });
  expect(rows[5_500]).toMatchObject({ line: 5_501, status: 'invalid', reason: expect.stringContaining('not JSON') });
  // What validation kept beside the job is gone once every row is in the chunks.
  expect(await files.size(`${inShares.job!.jobId}/upload`)).toBeUndefined();
});

test('a validation that dies in the middle resumes from its checkpoint: no row lost, none counted twice', async () => {
  const text = bigFile();
  let failOnce = true;
  const flaky: StagedFilesPort = {
    ...files,
    write: (...a) => files.write(...a),
    size: (n) => files.size(n),
    pin: (...a) => files.pin(...a),
    unchangedSince: (...a) => files.unchangedSince(...a),
    delete: (n) => files.delete(n),
    uploadUrl: (...a) => files.uploadUrl(...a),
    async *read(name, offset, pin) {
      let read = 0;
      for await (const chunk of files.read(name, offset, pin)) {
        read += chunk.byteLength;
        // The instance dies 7,000 rows in, past the first checkpoint and before the second.
        if (failOnce && name.endsWith('/upload') && offset === 0 && read > 7_000 * 450) {
          failOnce = false;
          throw new Error('connection reset (the instance is gone)');
        }
        yield chunk;
      }
    },
  };
  await expect(stageAndValidate(text, { key: 'big-crash', format: 'ndjson', stagedFiles: flaky })).rejects.toThrow(
    /connection reset/,
  );
  const sent: Sent[] = [];
  const crashed = { jobId: jobIdFor('acme-tpm', 'big-crash') };
  const before = await jobs().get(crashed.jobId);
  expect(before).toMatchObject({ status: 'validating', validation: { chunks: 50, counts: { rows: 5_000 } } });
  // The message comes back: the next attempt starts from the checkpoint.
  expect(await validateStaged(captured(sent), { jobId: crashed.jobId }, { rules: RULES, maxRows: 1_000_000 })).toBe(
    'validated',
  );
  expect(await jobs().get(crashed.jobId)).toMatchObject({
    status: 'enrolling',
    counts: { rows: 12_000, valid: 11_998, invalid: 1, duplicate: 1 },
    chunks: 120,
  });
  const rows = await allRows(crashed.jobId);
  expect(rows.map((r) => r.line)).toEqual(Array.from({ length: 12_000 }, (_, i) => i + 1));
  expect(rows[11_000]).toMatchObject({ status: 'duplicate', reason: expect.stringContaining('line 10') });
  expect(sent.filter((s) => s.queue === QUEUES.importChunks)).toHaveLength(120);
});

test('a manufacturer that signs its files: the signature is checked over the staged file before any row', async () => {
  const signer = await issue({ subject: 'CN=Initech file signing' });
  const csv = [
    'registrationId,endorsementKey',
    `acme-signed-1,${b64(randomEk())}`,
    `acme-signed-2,${b64(randomEk())}`,
  ].join('\n');
  const signature = createSign('sha256').update(csv).sign(signer.keyPem).toString('base64');
  const signed = { key: 'signed-file', signature, signingCertificates: [signer.certPem] };
  const tampered = await stageAndValidate(csv.replace('acme-signed-2', 'acme-signed-9'), signed);
  expect(tampered.job).toMatchObject({
    status: 'failed',
    reason: expect.stringContaining('signature does not verify'),
  });
  expect(tampered.job?.counts.rows).toBe(0);
  expect(tampered.sent.filter((s) => s.queue === QUEUES.importChunks)).toEqual([]);
  // The genuine file under the same key starts the job again.
  const genuine = await stageAndValidate(csv, signed);
  expect(genuine.job).toMatchObject({ jobId: tampered.job?.jobId, status: 'enrolling', counts: { valid: 2 } });
});

/** A job opened for the upload URL, `first` PUT there and started: the maker's side of the big-file path. */
async function uploadedAndStarted(sent: Sent[], key: string, first: string, signature?: string) {
  const deps = captured(sent);
  const slot = await openUploadSlot(deps, {
    manufacturerId: 'acme-tpm',
    createdBy: 'test',
    format: 'csv',
    idempotencyKey: key,
  });
  const putTo = (text: string) =>
    fetch(slot.uploadUrl!, { method: 'PUT', body: text, headers: { 'x-ms-blob-type': 'BlockBlob' } });
  expect((await putTo(first)).status).toBe(201);
  const started = await startUploaded(deps, slot.job, { signature, maxBytes: 1 << 30 });
  expect(started.job).toMatchObject({ status: 'validating' });
  return { deps, jobId: slot.job.jobId, putTo };
}

const csvOf = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${i},${b64(randomEk())}\n`).join('');

test('a signed file changed at its upload URL between two shares: no row the maker did not sign is validated', async () => {
  // The security review's bypass: the signature pass checkpoints `signatureChecked` with the first share, the URL
  // still writes for its hour, and the next share resumed from a byte offset in whatever the blob held then.
  const signer = await issue({ subject: 'CN=Acme file signing' });
  const signed = `registrationId,endorsementKey\n${csvOf('acme-signed-big', 5_000)}`;
  const signature = createSign('sha256').update(signed).sign(signer.keyPem).toString('base64');
  const sent: Sent[] = [];
  const { deps, jobId, putTo } = await uploadedAndStarted(sent, 'signed-then-changed', signed, signature);
  const options = { rules: { ...RULES, signingCertificates: [signer.certPem] }, maxRows: 1_000_000, budgetMs: 0 };
  expect(await validateStaged(deps, { jobId }, options)).toBe('continued'); // 5,000 rows: one checkpoint
  expect(await jobs().get(jobId)).toMatchObject({ validation: { signatureChecked: true } });

  // The signed bytes, then 1,000 rows the maker never signed: the URL takes the write (a SAS cannot be recalled).
  expect((await putTo(signed + csvOf('acme-unsigned', 1_000))).status).toBe(201);
  let outcome: string;
  do outcome = await validateStaged(deps, { jobId }, options);
  while (outcome === 'continued');

  const unsigned = (await allRows(jobId)).filter((r) => String(r.registrationId).startsWith('acme-unsigned'));
  expect(unsigned).toHaveLength(0);
  expect(sent.filter((s) => s.queue === QUEUES.importChunks)).toEqual([]);
  expect(await jobs().get(jobId)).toMatchObject({
    status: 'failed',
    reason: expect.stringContaining('the staged file changed after start'),
  });
});

test('an unsigned file changed at its upload URL after start fails the job, and none of its rows is validated', async () => {
  const sent: Sent[] = [];
  const started = `registrationId,endorsementKey\n${csvOf('acme-started', 2)}`;
  const { deps, jobId, putTo } = await uploadedAndStarted(sent, 'unsigned-then-changed', started);
  expect((await putTo(`registrationId,endorsementKey\n${csvOf('acme-swapped', 3)}`)).status).toBe(201);
  expect(await validateStaged(deps, { jobId }, { rules: RULES, maxRows: 1_000_000 })).toBe('failed');
  expect(await jobs().get(jobId)).toMatchObject({
    status: 'failed',
    reason: expect.stringContaining('the staged file changed after start'),
    counts: { rows: 0 },
  });
  expect(sent.filter((s) => s.queue === QUEUES.importChunks)).toEqual([]);
  expect(await allRows(jobId)).toEqual([]);
});

test('a pinned file reads as it was pinned, whatever its upload URL writes after; deleting it takes the pin too', async () => {
  const name = 'pin-check/upload';
  const { etag } = await files.write(name, streamOf('as started\n'), 1 << 20);
  const url = await files.uploadUrl(name, new Date(Date.now() + 10 * 60_000));
  const pin = (await files.pin(name, etag))!;
  expect(pin).toMatchObject({ etag, bytes: 11 });
  const put = await fetch(url, { method: 'PUT', body: 'written later\n', headers: { 'x-ms-blob-type': 'BlockBlob' } });
  expect(put.status).toBe(201);
  const text = async (chunks: AsyncIterable<Uint8Array>) => {
    const parts: Buffer[] = [];
    for await (const chunk of chunks) parts.push(Buffer.from(chunk));
    return Buffer.concat(parts).toString();
  };
  expect(await text(files.read(name, 0, pin))).toBe('as started\n');
  expect(await text(files.read(name, 3, pin))).toBe('started\n');
  expect(await text(files.read(name, 0))).toBe('written later\n');
  expect(await files.unchangedSince(name, pin)).toBe(false);
  await expect(files.pin(name, etag)).rejects.toThrow(/written again/); // a pin under a stale etag is refused
  await files.delete(name);
  expect(await files.size(name)).toBeUndefined();
  await expect(text(files.read(name, 0, pin))).rejects.toMatchObject({ statusCode: 404 });
});

test('the same upload sent again while the first is being stored is not stored twice; an abandoned one is again', async () => {
  const sent: Sent[] = [];
  const deps = captured(sent);
  let release: () => void = () => undefined;
  const paused = new Promise<void>((r) => (release = r));
  let pulled: () => void = () => undefined;
  const reading = new Promise<void>((r) => (pulled = r));
  const request = (body: AsyncIterable<Uint8Array>, key = 'slow-upload') => ({
    manufacturerId: 'acme-tpm',
    createdBy: 'test',
    format: 'csv' as const,
    idempotencyKey: key,
    body,
    maxBytes: 1 << 20,
  });
  const first = stageUpload(
    deps,
    request(
      (async function* () {
        pulled();
        yield Buffer.from('registrationId,endorsementKey\n');
        await paused;
        yield Buffer.from(`acme-slow-1,${b64(randomEk())}\n`);
      })(),
    ),
  );
  await reading;
  expect(await stageUpload(deps, request(streamOf('registrationId,endorsementKey\n')))).toMatchObject({
    kind: 'existing',
    job: { status: 'staging' },
  });
  release();
  expect((await first).job).toMatchObject({ status: 'validating', staged: { bytes: expect.any(Number) } });

  // An upload whose instance died while storing: after two minutes of silence, the retry stores it again.
  const jobs = stack.services.store.container('imports');
  const { job } = await stageUpload(deps, request(streamOf('registrationId,endorsementKey\n'), 'dead-upload'));
  await jobs.replace({
    ...(await jobs.read(job.jobId, job.jobId))!,
    status: 'staging',
    updatedAt: new Date(Date.now() - 5 * 60_000).toISOString(),
  });
  expect(await stageUpload(deps, request(streamOf('registrationId,endorsementKey\n'), 'dead-upload'))).toMatchObject({
    kind: 'accepted',
    job: { jobId: job.jobId, status: 'validating' },
  });
});

test('a worker that died after DPS took a batch but before the checkpoint resumes without enrolling twice', async () => {
  const eks = Array.from({ length: 25 }, () => randomEk());
  const csv = ['registrationId,endorsementKey', ...eks.map((ek, i) => `acme-crash-${i},${b64(ek)}`)].join('\n');
  const { job, sent } = await stageAndValidate(csv, { key: 'worker-crash' });
  expect(sent.filter((s) => s.queue === QUEUES.importChunks).map((s) => s.message)).toEqual([
    { jobId: job!.jobId, chunk: 0 },
  ]);
  // The crashed attempt: DPS took the first batch of ten; the chunk document never heard of it.
  const firstTen = eks
    .slice(0, 10)
    .map(
      (ek, i) =>
        validateRow(
          { line: i + 2, fields: { registrationId: `acme-crash-${i}`, endorsementKey: b64(ek) } },
          RULES,
        ) as ValidRow,
    );
  expect(
    (
      await stack.services.enrollments.bulkEnrollments(
        'create',
        firstTen.map((r) => enrollmentOf(r, 'acme-tpm', job!.jobId)),
      )
    ).isSuccessful,
  ).toBe(true);
  const deps = {
    store: async () => stack.services.store,
    importJobs: async () => jobs(),
    events: async () => stack.services.events,
    enrollments: async () => stack.services.enrollments,
  };
  const chunk = await enrollChunk(deps, { jobId: job!.jobId, chunk: 0 });
  expect(chunk?.rows.map((r) => r.status)).toEqual(Array(25).fill('enrolled'));
  await enrollChunk(deps, { jobId: job!.jobId, chunk: 0 }); // re-delivered message
  expect(await jobs().get(job!.jobId)).toMatchObject({
    status: 'done',
    chunksDone: 1,
    counts: { valid: 25, enrolled: 25, alreadyEnrolled: 0, failed: 0 },
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function post(path: string, body: RequestInit['body'], headers: Record<string, string> = {}) {
  const res = await fetch(`${host.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'x-functions-key': 'fk', authorization: ACME, 'content-type': 'text/csv', ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, location: res.headers.get('location'), body: (await res.json()) as Json };
}

async function settled(location: string): Promise<Json> {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${host.baseUrl}${location}`, {
      headers: { 'x-functions-key': 'fk', authorization: ACME },
    });
    const job = (await res.json()) as Json;
    if (job.status === 'done' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`import ${location} never finished`);
}

/** Runs `f` with app settings changed, as an operator would set them. */
async function withSettings<T>(values: Record<string, string>, f: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  Object.assign(process.env, values);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(old))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

test('every limit has its clear refusal: file size (413), rows (a failed job), record size and line length (a refused row)', async () => {
  const csv = (n: number, id: string) =>
    [
      'registrationId,endorsementKey',
      ...Array.from({ length: n }, (_, i) => `acme-${id}-${i},${b64(randomEk())}`),
    ].join('\n');
  await withSettings({ IMPORT_MAX_FILE_BYTES: '2000' }, async () => {
    const declared = await post('/api/manufacturers/acme-tpm/imports', csv(5, 'big'));
    expect(declared).toMatchObject({
      status: 413,
      body: { error: 'PayloadTooLarge', reason: expect.stringContaining('2000 bytes') },
    });
    // Streamed without a length, the body is cut off at the limit and its job fails saying so.
    const text = csv(5, 'streamed');
    const streamed = await post(
      '/api/manufacturers/acme-tpm/imports',
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(text));
          c.close();
        },
      }),
      { 'idempotency-key': 'streamed-too-big' },
    );
    expect(streamed.status).toBe(413);
    const job = await jobs().get(jobIdFor('acme-tpm', 'streamed-too-big'));
    expect(job).toMatchObject({ status: 'failed', reason: 'the file is larger than 2000 bytes' });
  });

  await withSettings({ IMPORT_MAX_ROWS: '3' }, async () => {
    const many = await post('/api/manufacturers/acme-tpm/imports', csv(5, 'many'));
    expect(await settled(many.location!)).toMatchObject({
      status: 'failed',
      reason: 'the file has more than 3 rows (line 5); split it into several imports',
    });
  });

  // An unterminated quote: csv-parse gives up on the record at 16 KB instead of holding the rest of the file.
  const unterminated = `registrationId,endorsementKey\nacme-q-1,${b64(randomEk())}\nacme-q-2,"${'A'.repeat(64 * 1024)}`;
  const quoted = await post('/api/manufacturers/acme-tpm/imports', unterminated);
  const quotedJob = await settled(quoted.location!);
  const quotedRows = await fetch(`${host.baseUrl}${quoted.location}/rows?status=invalid`, {
    headers: { 'x-functions-key': 'fk', authorization: ACME },
  });
  expect(quotedJob).toMatchObject({ status: 'done', counts: { rows: 2, valid: 1, invalid: 1, enrolled: 1 } });
  expect(((await quotedRows.json()) as Json).rows).toEqual([
    {
      line: 3,
      status: 'invalid',
      reason: expect.stringMatching(/^unreadable CSV record: Max Record Size: .* 16384 at line 3$/),
    },
  ]);

  // An NDJSON line over 16 KB is refused as a row; the rows after it go on.
  const ndjson = [
    JSON.stringify({ registrationId: 'acme-long-1', endorsementKey: b64(randomEk()) }),
    JSON.stringify({ registrationId: 'acme-long-2', endorsementKey: 'x'.repeat(20_000) }),
    JSON.stringify({ registrationId: 'acme-long-3', endorsementKey: b64(randomEk()) }),
  ].join('\n');
  const lines = await post('/api/manufacturers/acme-tpm/imports', ndjson, { 'content-type': 'application/x-ndjson' });
  expect(await settled(lines.location!)).toMatchObject({
    status: 'done',
    counts: { rows: 3, valid: 2, invalid: 1, enrolled: 2 },
  });
  const refused = await fetch(`${host.baseUrl}${lines.location}/rows?status=invalid`, {
    headers: { 'x-functions-key': 'fk', authorization: ACME },
  });
  expect(((await refused.json()) as Json).rows).toEqual([
    { line: 2, status: 'invalid', reason: 'the line is longer than 16384 bytes' },
  ]);
});

test('a big file goes straight to Blob storage with an upload URL, then starts', async () => {
  const slot = await post('/api/manufacturers/acme-tpm/imports/uploads?format=csv&fileName=lot-9.csv', undefined);
  expect(slot).toMatchObject({
    status: 202,
    body: { status: 'awaitingUpload', uploadUrl: expect.stringContaining('sig=') },
  });
  // Starting before the file is there is refused with what to do.
  expect(await post(slot.body.startUrl, undefined)).toMatchObject({
    status: 400,
    body: { reason: expect.stringContaining('PUT the file') },
  });
  const csv = ['registrationId,endorsementKey', `acme-url-1,${b64(randomEk())}`, `acme-url-2,${b64(randomEk())}`].join(
    '\n',
  );
  const put = await fetch(slot.body.uploadUrl, { method: 'PUT', body: csv, headers: slot.body.uploadHeaders });
  expect(put.status).toBe(201);
  // The URL is for that one blob: it cannot read it back, nor write another.
  expect((await fetch(slot.body.uploadUrl)).status).toBe(403);
  expect(
    (
      await fetch(slot.body.uploadUrl.replace('/upload?', '/other?'), {
        method: 'PUT',
        body: 'x',
        headers: slot.body.uploadHeaders,
      })
    ).status,
  ).toBe(403);
  const started = await post(slot.body.startUrl, undefined);
  expect(started).toMatchObject({ status: 202, body: { status: 'validating' } });
  expect(await settled(started.location!)).toMatchObject({ status: 'done', counts: { valid: 2, enrolled: 2 } });
});

test('the command line sends a file through the upload URL and follows the job to its end', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const file = join(mkdtempSync(join(tmpdir(), 'cli-url-')), 'lot-88.csv');
  writeFileSync(
    file,
    ['registrationId,endorsementKey', `acme-cli-url-1,${b64(randomEk())}`, `acme-cli-url-2,${b64(randomEk())}`].join(
      '\n',
    ),
  );
  const out = await runCli(host.baseUrl, { token: ACME.slice('Bearer '.length) }, [
    'import',
    file,
    '--manufacturer',
    'acme-tpm',
    '--via-upload-url',
    '--follow',
  ]);
  expect(out).toContain('uploaded in 1 blocks of 8 MB; starting');
  expect(out).toContain('done: 2 rows, 2 valid, 0 invalid, 0 duplicate | 2 enrolled, 0 already, 0 failed');
});
