/**
 * Staged imports validated in shares against the local stack (Azurite, the Cosmos emulator, the local DPS): the file
 * is stored before any row is read; validation runs in queue-driven shares that resume from their checkpoint (byte
 * offset, line, counts, the duplicate detector) after a share ends or a crash; a worker that dies mid-chunk enrolls
 * nothing twice; an upload sent again is stored once. The queues are captured (test/support/staging.ts).
 */
import { randomEk } from '../../../dev/ek-factory';
import { QUEUES } from '../../../shared/containers';
import { enrollChunk } from '../../../shared/imports/enroll-chunk';
import { enrollmentOf } from '../../../shared/imports/rules/enrollment';
import { validateRow, type ValidRow } from '../../../shared/imports/rules/row';
import { jobIdFor, stageUpload } from '../../../shared/imports/stage';
import { CosmosEkClaimRepository } from '../../../shared/imports/store/cosmos-ek-claims';
import { validateStaged } from '../../../shared/imports/validate';
import type { StagedFilesPort } from '../../../shared/ports';
import { b64, bigFile, RULES, type Sent, type StagingStack, startStagingStack, streamOf } from '../../support/staging';

let rig: StagingStack;
beforeAll(async () => {
  rig = await startStagingStack();
});
afterAll(() => rig?.close());

test('the file is stored before a row is read; validation in shares gives exactly the rows of one pass', async () => {
  const text = bigFile();
  const onePass = await rig.stageAndValidate(text, { key: 'big-one-pass', format: 'ndjson' });
  const inShares = await rig.stageAndValidate(text, { key: 'big-in-shares', format: 'ndjson', budgetMs: 0 });
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
  const rows = await rig.allRows(inShares.job!.jobId);
  expect(rows).toEqual(await rig.allRows(onePass.job!.jobId));
  expect(rows[11_000]).toMatchObject({ line: 11_001, status: 'duplicate', reason: expect.stringContaining('line 10') });
  expect(rows[5_500]).toMatchObject({ line: 5_501, status: 'invalid', reason: expect.stringContaining('not JSON') });
  // What validation kept beside the job is gone once every row is in the chunks.
  expect(await rig.files.size(`${inShares.job!.jobId}/upload`)).toBeUndefined();
});

test('a validation that dies in the middle resumes from its checkpoint: no row lost, none counted twice', async () => {
  const text = bigFile();
  let failOnce = true;
  const flaky: StagedFilesPort = {
    ...rig.files,
    write: (...a) => rig.files.write(...a),
    size: (n) => rig.files.size(n),
    pin: (...a) => rig.files.pin(...a),
    unchangedSince: (...a) => rig.files.unchangedSince(...a),
    delete: (n) => rig.files.delete(n),
    uploadUrl: (...a) => rig.files.uploadUrl(...a),
    async *read(name, offset, pin) {
      let read = 0;
      for await (const chunk of rig.files.read(name, offset, pin)) {
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
  await expect(rig.stageAndValidate(text, { key: 'big-crash', format: 'ndjson', stagedFiles: flaky })).rejects.toThrow(
    /connection reset/,
  );
  const sent: Sent[] = [];
  const crashed = { jobId: jobIdFor('acme-tpm', 'big-crash') };
  const before = await rig.jobs().get(crashed.jobId);
  expect(before).toMatchObject({ status: 'validating', validation: { chunks: 50, counts: { rows: 5_000 } } });
  // The message comes back: the next attempt starts from the checkpoint.
  expect(await validateStaged(rig.captured(sent), { jobId: crashed.jobId }, { rules: RULES, maxRows: 1_000_000 })).toBe(
    'validated',
  );
  expect(await rig.jobs().get(crashed.jobId)).toMatchObject({
    status: 'enrolling',
    counts: { rows: 12_000, valid: 11_998, invalid: 1, duplicate: 1 },
    chunks: 120,
  });
  const rows = await rig.allRows(crashed.jobId);
  expect(rows.map((r) => r.line)).toEqual(Array.from({ length: 12_000 }, (_, i) => i + 1));
  expect(rows[11_000]).toMatchObject({ status: 'duplicate', reason: expect.stringContaining('line 10') });
  expect(sent.filter((s) => s.queue === QUEUES.importChunks)).toHaveLength(120);
});

test('the same upload sent again while the first is being stored is not stored twice; an abandoned one is again', async () => {
  const sent: Sent[] = [];
  const deps = rig.captured(sent);
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
  const jobs = rig.stack.services.store.container('imports');
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
  const { job, sent } = await rig.stageAndValidate(csv, { key: 'worker-crash' });
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
      await rig.stack.services.enrollments.bulkEnrollments(
        'create',
        firstTen.map((r) => enrollmentOf(r, 'acme-tpm', job!.jobId)),
      )
    ).isSuccessful,
  ).toBe(true);
  const deps = {
    store: async () => rig.stack.services.store,
    ekClaims: async () => new CosmosEkClaimRepository(rig.stack.services.store),
    importJobs: async () => rig.jobs(),
    events: async () => rig.stack.services.events,
    enrollments: async () => rig.stack.services.enrollments,
  };
  const chunk = await enrollChunk(deps, { jobId: job!.jobId, chunk: 0 });
  expect(chunk?.rows.map((r) => r.status)).toEqual(Array(25).fill('enrolled'));
  await enrollChunk(deps, { jobId: job!.jobId, chunk: 0 }); // re-delivered message
  expect(await rig.jobs().get(job!.jobId)).toMatchObject({
    status: 'done',
    chunksDone: 1,
    counts: { valid: 25, enrolled: 25, alreadyEnrolled: 0, failed: 0 },
  });
});
