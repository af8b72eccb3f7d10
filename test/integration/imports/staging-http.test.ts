/**
 * Staged imports over HTTP, through the local Functions host on the local stack: every limit has its clear refusal;
 * big files go to an upload URL (that one blob, write-only), and the command line sends a file through it.
 */
import { randomEk } from '../../../dev/ek-factory';
import { jobIdFor } from '../../../shared/imports/stage';
import { runCli } from '../../support/cli';
import { importSettled } from '../../support/eventually';
import { b64, type StagingStack, startStagingStack } from '../../support/staging';

const ACME = 'Bearer dev-acme-tpm-secret-not-a-secret';

let rig: StagingStack;
beforeAll(async () => {
  rig = await startStagingStack({ host: true });
});
afterAll(() => rig?.close());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function post(path: string, body: RequestInit['body'], headers: Record<string, string> = {}) {
  const res = await fetch(`${rig.host.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'x-functions-key': 'fk', authorization: ACME, 'content-type': 'text/csv', ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: res.status, location: res.headers.get('location'), body: (await res.json()) as Json };
}

const settled = (location: string): Promise<Json> =>
  importSettled(
    async () =>
      (await (
        await fetch(`${rig.host.baseUrl}${location}`, { headers: { 'x-functions-key': 'fk', authorization: ACME } })
      ).json()) as Json,
    location,
  );

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
    const job = await rig.jobs().get(jobIdFor('acme-tpm', 'streamed-too-big'));
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
  const quotedRows = await fetch(`${rig.host.baseUrl}${quoted.location}/rows?status=invalid`, {
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
  const refused = await fetch(`${rig.host.baseUrl}${lines.location}/rows?status=invalid`, {
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
  const out = await runCli(rig.host.baseUrl, { token: ACME.slice('Bearer '.length) }, [
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
