/**
 * The staged file is the file as the maker signed and started it (Azurite, the Cosmos emulator): a signature is
 * checked over the staged bytes before any row, and whatever its upload URL writes after start is never validated —
 * the job reads the copy pinned at start and fails when the file changed. The queues are captured
 * (test/support/staging.ts).
 */
import { createSign } from 'node:crypto';

import { randomEk } from '../../../dev/ek-factory';
import { issue } from '../../../dev/pki';
import { QUEUES } from '../../../shared/containers';
import { validateStaged } from '../../../shared/imports/validate';
import { b64, csvOf, RULES, type Sent, type StagingStack, startStagingStack, streamOf } from '../../support/staging';

let rig: StagingStack;
beforeAll(async () => {
  rig = await startStagingStack();
});
afterAll(() => rig?.close());

test('a manufacturer that signs its files: the signature is checked over the staged file before any row', async () => {
  const signer = await issue({ subject: 'CN=Initech file signing' });
  const csv = [
    'registrationId,endorsementKey',
    `acme-signed-1,${b64(randomEk())}`,
    `acme-signed-2,${b64(randomEk())}`,
  ].join('\n');
  const signature = createSign('sha256').update(csv).sign(signer.keyPem).toString('base64');
  const signed = { key: 'signed-file', signature, signingCertificates: [signer.certPem] };
  const tampered = await rig.stageAndValidate(csv.replace('acme-signed-2', 'acme-signed-9'), signed);
  expect(tampered.job).toMatchObject({
    status: 'failed',
    reason: expect.stringContaining('signature does not verify'),
  });
  expect(tampered.job?.counts.rows).toBe(0);
  expect(tampered.sent.filter((s) => s.queue === QUEUES.importChunks)).toEqual([]);
  // The genuine file under the same key starts the job again.
  const genuine = await rig.stageAndValidate(csv, signed);
  expect(genuine.job).toMatchObject({ jobId: tampered.job?.jobId, status: 'enrolling', counts: { valid: 2 } });
});

test('a signed file changed at its upload URL between two shares: no row the maker did not sign is validated', async () => {
  // The security review's bypass: the signature pass checkpoints `signatureChecked` with the first share, the URL
  // still writes for its hour, and the next share resumed from a byte offset in whatever the blob held then.
  const signer = await issue({ subject: 'CN=Acme file signing' });
  const signed = `registrationId,endorsementKey\n${csvOf('acme-signed-big', 5_000)}`;
  const signature = createSign('sha256').update(signed).sign(signer.keyPem).toString('base64');
  const sent: Sent[] = [];
  const { deps, jobId, putTo } = await rig.uploadedAndStarted(sent, 'signed-then-changed', signed, signature);
  const options = { rules: { ...RULES, signingCertificates: [signer.certPem] }, maxRows: 1_000_000, budgetMs: 0 };
  expect(await validateStaged(deps, { jobId }, options)).toBe('continued'); // 5,000 rows: one checkpoint
  expect(await rig.jobs().get(jobId)).toMatchObject({ validation: { signatureChecked: true } });

  // The signed bytes, then 1,000 rows the maker never signed: the URL takes the write (a SAS cannot be recalled).
  expect((await putTo(signed + csvOf('acme-unsigned', 1_000))).status).toBe(201);
  let outcome: string;
  do outcome = await validateStaged(deps, { jobId }, options);
  while (outcome === 'continued');

  const unsigned = (await rig.allRows(jobId)).filter((r) => String(r.registrationId).startsWith('acme-unsigned'));
  expect(unsigned).toHaveLength(0);
  expect(sent.filter((s) => s.queue === QUEUES.importChunks)).toEqual([]);
  expect(await rig.jobs().get(jobId)).toMatchObject({
    status: 'failed',
    reason: expect.stringContaining('the staged file changed after start'),
  });
});

test('an unsigned file changed at its upload URL after start fails the job, and none of its rows is validated', async () => {
  const sent: Sent[] = [];
  const started = `registrationId,endorsementKey\n${csvOf('acme-started', 2)}`;
  const { deps, jobId, putTo } = await rig.uploadedAndStarted(sent, 'unsigned-then-changed', started);
  expect((await putTo(`registrationId,endorsementKey\n${csvOf('acme-swapped', 3)}`)).status).toBe(201);
  expect(await validateStaged(deps, { jobId }, { rules: RULES, maxRows: 1_000_000 })).toBe('failed');
  expect(await rig.jobs().get(jobId)).toMatchObject({
    status: 'failed',
    reason: expect.stringContaining('the staged file changed after start'),
    counts: { rows: 0 },
  });
  expect(sent.filter((s) => s.queue === QUEUES.importChunks)).toEqual([]);
  expect(await rig.allRows(jobId)).toEqual([]);
});

test('a pinned file reads as it was pinned, whatever its upload URL writes after; deleting it takes the pin too', async () => {
  const name = 'pin-check/upload';
  const { etag } = await rig.files.write(name, streamOf('as started\n'), 1 << 20);
  const url = await rig.files.uploadUrl(name, new Date(Date.now() + 10 * 60_000));
  const pin = (await rig.files.pin(name, etag))!;
  expect(pin).toMatchObject({ etag, bytes: 11 });
  const put = await fetch(url, { method: 'PUT', body: 'written later\n', headers: { 'x-ms-blob-type': 'BlockBlob' } });
  expect(put.status).toBe(201);
  const text = async (chunks: AsyncIterable<Uint8Array>) => {
    const parts: Buffer[] = [];
    for await (const chunk of chunks) parts.push(Buffer.from(chunk));
    return Buffer.concat(parts).toString();
  };
  expect(await text(rig.files.read(name, 0, pin))).toBe('as started\n');
  expect(await text(rig.files.read(name, 3, pin))).toBe('started\n');
  expect(await text(rig.files.read(name, 0))).toBe('written later\n');
  expect(await rig.files.unchangedSince(name, pin)).toBe(false);
  await expect(rig.files.pin(name, etag)).rejects.toThrow(/written again/); // a pin under a stale etag is refused
  await rig.files.delete(name);
  expect(await rig.files.size(name)).toBeUndefined();
  await expect(text(rig.files.read(name, 0, pin))).rejects.toMatchObject({ statusCode: 404 });
});
