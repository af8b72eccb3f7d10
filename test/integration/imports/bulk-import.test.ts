/**
 * Bulk TPM import end to end on the local stack: a maker's CSV through the function host (function key + bearer identity),
 * streamed and checked row by row, enrolled in the local DPS by the queue worker, with a report for every row;
 * namespaces enforced; a retried upload and a re-delivered or crashed chunk enroll nothing twice.
 */
import { generateKeyPairSync } from 'node:crypto';

import { randomEk } from '../../../dev/ek-factory';
import type { RunningHost } from '../../../dev/host/host';
import { EK_CLAIMED_ELSEWHERE } from '../../../shared/imports/enroll-chunk';
import { endorsementKeyHash, registrationIdFromHash } from '../../../shared/imports/rules/registration-id';
import { validateRow, type ValidRow } from '../../../shared/imports/rules/row';
import { jobIdFor } from '../../../shared/imports/stage';
import { startFunctionApp } from '../../support/app-host';
import { runCli } from '../../support/cli';
import { importSettled } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';

const ACME = 'Bearer dev-acme-tpm-secret-not-a-secret';
const GLOBEX = 'Bearer dev-globex-secret-not-a-secret';
const ADMIN = 'Bearer dev-admin-secret-not-a-secret';

let stack: TestStack;
let host: RunningHost;

function call(
  path: string,
  init: {
    method?: string;
    body?: string;
    auth?: string;
    type?: string;
    key?: string | null;
    idempotencyKey?: string;
  } = {},
) {
  const headers: Record<string, string> = { 'content-type': init.type ?? 'text/csv' };
  if (init.key !== null) headers['x-functions-key'] = init.key ?? 'fk';
  if (init.auth) headers.authorization = init.auth;
  if (init.idempotencyKey) headers['idempotency-key'] = init.idempotencyKey;
  return fetch(`${host.baseUrl}${path}`, { method: init.method ?? 'GET', headers, body: init.body });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const waitDone = (location: string, auth = ACME): Promise<Json> =>
  importSettled(async () => (await (await call(location, { auth })).json()) as Json, location);

const rowsOf = async (location: string, status: string) =>
  ((await (await call(`${location}/rows?status=${status}`, { auth: ACME })).json()) as Json).rows as Array<{
    line: number;
    registrationId?: string;
    reason?: string;
  }>;
const b64 = (b: Buffer) => b.toString('base64');

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  host = await startFunctionApp();
});
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

test('a CSV of EKs is checked row by row, enrolled in DPS, and reported for every row', async () => {
  const eks = Array.from({ length: 6 }, () => randomEk());
  const spki = generateKeyPairSync('rsa', { modulusLength: 2048 })
    .publicKey.export({ format: 'pem', type: 'spki' })
    .toString();
  const truncated = b64(randomEk().subarray(0, 100));
  const csv = [
    'registrationId,endorsementKey,serialNumber,model,lot,color', // line 1
    `,${b64(eks[0])},SN-0,tpm-9670,lot-42,red`, // 2: derived ID
    `,${b64(eks[1])},SN-1,tpm-9670,lot-42,`, // 3: derived ID
    `acme-0002,${b64(eks[2])},SN-2,tpm-9670,lot-42,blue`, // 4: given ID in the namespace
    `globex-0003,${b64(eks[3])},SN-3,tpm-9670,lot-42,`, // 5: another maker's namespace
    `acme-0004,not base64!,SN-4,tpm-9670,lot-42,`, // 6
    `acme-0005,${truncated},SN-5,tpm-9670,lot-42,`, // 7
    `acme-0006,"${spki}",SN-6,tpm-9670,lot-42,`, // 8–17: SPKI PEM over ten lines, converted
    `,${b64(eks[0])},SN-0,tpm-9670,lot-42,red`, // 18: duplicate of line 2
    `acme-0007,${b64(eks[1])},SN-7,tpm-9670,lot-42,`, // 19: the EK of line 3 under another ID
    `acme-0008,${b64(eks[4])},too,many,columns,here,!`, // 20: unreadable record
    `acme-0009,${b64(eks[5])},SN-9,tpm-9670,lot-43,`, // 21
  ].join('\n');
  const posted = await call('/api/manufacturers/acme-tpm/imports', {
    method: 'POST',
    body: csv,
    auth: ACME,
    idempotencyKey: 'acme-file-1',
  });
  expect(posted.status).toBe(202);
  const location = posted.headers.get('location') as string;
  expect(location).toBe(`/api/manufacturers/acme-tpm/imports/${jobIdFor('acme-tpm', 'acme-file-1')}`);

  const job = await waitDone(location);
  expect(job).toMatchObject({
    status: 'done',
    percent: 100,
    counts: { rows: 11, valid: 5, invalid: 4, duplicate: 2, enrolled: 5, alreadyEnrolled: 0, failed: 0 },
  });

  const invalid = await rowsOf(location, 'invalid');
  expect(invalid.map((r) => [r.line, r.reason])).toEqual([
    [5, expect.stringContaining('must start with acme-')],
    [6, 'endorsementKey is not base64'],
    [7, expect.stringContaining('truncated')],
    [20, expect.stringContaining('unreadable CSV record')],
  ]);
  expect((await rowsOf(location, 'duplicate')).map((r) => [r.line, r.reason])).toEqual([
    [18, 'duplicate of line 2'],
    [19, expect.stringContaining('same endorsement key is on line 3')],
  ]);
  const enrolled = await rowsOf(location, 'enrolled');
  expect(enrolled.map((r) => [r.line, r.registrationId])).toEqual([
    [2, expect.stringMatching(/^[a-z2-7]{52}$/)],
    [3, expect.stringMatching(/^[a-z2-7]{52}$/)],
    [4, 'acme-0002'],
    [8, 'acme-0006'],
    [21, 'acme-0009'],
  ]);

  // In DPS: TPM attestation with the TPM2B_PUBLIC, our tags, custom allocation through our webhook.
  const derived = validateRow(
    { line: 2, fields: { endorsementKey: b64(eks[0]) } },
    { manufacturerId: 'acme-tpm' },
  ) as ValidRow;
  const first = await stack.services.enrollments.getEnrollment(derived.registrationId);
  expect(first).toMatchObject({
    registrationId: derived.registrationId,
    attestation: { type: 'tpm', tpm: { endorsementKey: b64(eks[0]) } },
    provisioningStatus: 'enabled',
    initialTwin: {
      tags: {
        manufacturer: 'acme-tpm',
        lot: 'lot-42',
        model: 'tpm-9670',
        serialNumber: 'SN-0',
        importJob: job.jobId,
        maker: { color: 'red' },
      },
    },
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: process.env.ALLOCATION_WEBHOOK_URL },
  });
  expect(derived.registrationId).toMatch(/^[a-z2-7]{52}$/);
  const converted = await stack.services.enrollments.getEnrollment('acme-0006');
  expect(
    Buffer.from(converted?.attestation.tpm?.endorsementKey as string, 'base64')
      .subarray(0, 6)
      .toString('hex'),
  ).toBe('013a0001000b');
  expect(await stack.services.enrollments.getEnrollment('globex-0003')).toBeUndefined();

  // The same upload again (a retry): the same job, nothing enrolled twice.
  const again = await call('/api/manufacturers/acme-tpm/imports', {
    method: 'POST',
    body: csv,
    auth: ACME,
    idempotencyKey: 'acme-file-1',
  });
  expect(again.status).toBe(200);
  expect(((await again.json()) as Json).jobId).toBe(job.jobId);
});

test("a later file: enrolled devices are recognised, conflicts and other makers' enrollments refused", async () => {
  const ek = randomEk();
  const first = await call('/api/manufacturers/acme-tpm/imports', {
    method: 'POST',
    auth: ACME,
    idempotencyKey: 'acme-file-2',
    type: 'application/x-ndjson',
    body: JSON.stringify({ registrationId: 'acme-1000', endorsementKey: b64(ek) }),
  });
  await waitDone(first.headers.get('location') as string); // the 202 comes once the file is stored, not enrolled
  const other = [randomEk(), randomEk(), randomEk()];
  const ndjson = [
    JSON.stringify({ registrationId: 'acme-1000', endorsementKey: b64(ek), lot: 'lot-7' }), // the same device again
    JSON.stringify({ registrationId: 'acme-1002', endorsementKey: b64(other[0]) }), // new
    JSON.stringify({ registrationId: 'acme-1002', endorsementKey: b64(other[1]) }), // one ID, two EKs in one file
    '{ not json',
  ].join('\n');
  const posted = await call('/api/manufacturers/acme-tpm/imports', {
    method: 'POST',
    auth: ACME,
    idempotencyKey: 'acme-file-3',
    type: 'application/x-ndjson',
    body: ndjson,
  });
  const job = await waitDone(posted.headers.get('location') as string);
  expect(job.counts).toEqual({
    rows: 4,
    valid: 2,
    invalid: 1,
    duplicate: 1,
    enrolled: 1,
    alreadyEnrolled: 1,
    failed: 0,
  });
  expect((await rowsOf(posted.headers.get('location') as string, 'invalid'))[0]).toMatchObject({
    line: 4,
    reason: expect.stringMatching(/^not JSON/),
  });

  // Against what DPS already holds: the same EK under another ID, the same ID with another EK.
  const conflicts = await call('/api/manufacturers/acme-tpm/imports', {
    method: 'POST',
    auth: ACME,
    type: 'application/x-ndjson',
    body: [
      JSON.stringify({ registrationId: 'acme-1001', endorsementKey: b64(ek) }),
      JSON.stringify({ registrationId: 'acme-1000', endorsementKey: b64(other[2]) }),
    ].join('\n'),
  });
  const conflictJob = await waitDone(conflicts.headers.get('location') as string);
  expect(conflictJob.counts).toMatchObject({ valid: 2, failed: 2, enrolled: 0 });
  expect((await rowsOf(conflicts.headers.get('location') as string, 'failed')).map((r) => [r.line, r.reason])).toEqual([
    [1, 'conflict: this endorsement key is already enrolled as acme-1000'],
    [2, 'conflict: registration ID acme-1000 is enrolled with another endorsement key'],
  ]);
  expect((await stack.services.enrollments.getEnrollment('acme-1000'))?.attestation.tpm?.endorsementKey).toBe(b64(ek));
  // The refused EK is not left claimed: it can still be enrolled under an ID of its own.
  const retry = await call('/api/manufacturers/acme-tpm/imports', {
    method: 'POST',
    auth: ACME,
    type: 'application/x-ndjson',
    body: JSON.stringify({ registrationId: 'acme-1003', endorsementKey: b64(other[2]) }),
  });
  expect((await waitDone(retry.headers.get('location') as string)).counts).toMatchObject({ enrolled: 1 });

  // Globex sends an EK Acme enrolled (derived ID): the EK is Acme's claim, so the row is refused without naming Acme,
  // and the admins get a finding with both claims.
  const acmeEk = randomEk();
  const acmeJob = await call('/api/manufacturers/acme-tpm/imports', {
    method: 'POST',
    auth: ACME,
    type: 'application/json',
    body: JSON.stringify([{ endorsementKey: b64(acmeEk) }]),
  });
  await waitDone(acmeJob.headers.get('location') as string);
  const globex = await call('/api/manufacturers/globex/imports', {
    method: 'POST',
    auth: GLOBEX,
    type: 'application/json',
    body: JSON.stringify([{ endorsementKey: b64(acmeEk) }]),
  });
  const globexJob = await waitDone(globex.headers.get('location') as string, GLOBEX);
  expect(globexJob.counts).toMatchObject({ valid: 1, failed: 1, enrolled: 0 });
  expect(
    ((await (await call(`${globex.headers.get('location')}/rows?status=failed`, { auth: GLOBEX })).json()) as Json)
      .rows[0].reason,
  ).toBe(EK_CLAIMED_ELSEWHERE);
  const findings = (await (await call('/api/findings?kind=audit', { auth: ADMIN })).json()) as Json;
  expect(findings.findings).toContainEqual(
    expect.objectContaining({
      code: 'EK_CLAIM_CONFLICT',
      claims: [
        expect.objectContaining({ manufacturerId: 'acme-tpm', jobId: expect.stringMatching(/^acme-tpm-/) }),
        expect.objectContaining({ manufacturerId: 'globex', jobId: expect.stringMatching(/^globex-/) }),
      ],
    }),
  );
  expect(
    (await stack.services.enrollments.getEnrollment(registrationIdFromHash(endorsementKeyHash(acmeEk))))?.initialTwin
      ?.tags,
  ).toMatchObject({ manufacturer: 'acme-tpm' });
});

test("every call needs the function key and the manufacturer's identity, confined to its own namespace", async () => {
  const body = `endorsementKey\n${b64(randomEk())}`;
  expect(
    (await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body, auth: ACME, key: null })).status,
  ).toBe(401);
  const noBearer = await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body });
  expect(noBearer.status).toBe(401);
  expect(noBearer.headers.get('www-authenticate')).toBe('Bearer');
  expect(
    (await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body, auth: 'Bearer guess' })).status,
  ).toBe(401);
  expect((await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body, auth: GLOBEX })).status).toBe(403);
  // A forged Easy Auth principal is dropped by the host, as by App Service.
  const forged = Buffer.from(JSON.stringify({ claims: [{ typ: 'roles', val: 'Admin' }] })).toString('base64');
  const forgedCall = await fetch(`${host.baseUrl}/api/manufacturers/acme-tpm/imports/x`, {
    headers: { 'x-functions-key': 'fk', 'x-ms-client-principal': forged },
  });
  expect(forgedCall.status).toBe(401);
  const posted = await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body, auth: ACME });
  const location = posted.headers.get('location') as string;
  expect((await call(location, { auth: GLOBEX })).status).toBe(403);
  expect((await call(location.replace('acme-tpm', 'globex'), { auth: GLOBEX })).status).toBe(404);
  expect((await call(location, { auth: ADMIN })).status).toBe(200);
  expect(
    (await call('/api/manufacturers/acme-tpm/imports', { method: 'POST', body, auth: ACME, type: 'application/pdf' }))
      .status,
  ).toBe(400);
  expect((await call(`${location}/rows?status=bogus`, { auth: ACME })).status).toBe(400);
});

test('the command line uploads a file, follows the job to its end and prints the row report; the same file again is the same job', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const file = join(mkdtempSync(join(tmpdir(), 'cli-')), 'lot-77.csv');
  writeFileSync(
    file,
    [
      'registrationId,endorsementKey,lot',
      `acme-cli-1,${b64(randomEk())},lot-77`,
      `acme-cli-2,${b64(randomEk())},lot-77`,
      'acme-cli-3,AAAA,lot-77',
    ].join('\n'),
  );
  const maker = { token: ACME.slice('Bearer '.length) };
  const out = await runCli(host.baseUrl, maker, ['import', file, '--manufacturer', 'acme-tpm', '--follow']);
  expect(out).toMatch(/^job acme-tpm-[0-9a-f]{24}$/m);
  expect(out).toContain('done: 3 rows, 2 valid, 1 invalid, 0 duplicate | 2 enrolled, 0 already, 0 failed');
  expect(out).toMatch(/line\s+4\s+invalid\s+acme-cli-3\s+trailing bytes: TPM2B_PUBLIC says 0 bytes, 1 given/);
  expect(await runCli(host.baseUrl, maker, ['import', file, '--manufacturer', 'acme-tpm'])).toMatch(
    /^already imported as acme-tpm-[0-9a-f]{24}$/m,
  );
  expect((await stack.services.enrollments.getEnrollment('acme-cli-2'))?.initialTwin?.tags).toMatchObject({
    lot: 'lot-77',
    manufacturer: 'acme-tpm',
  });
});
