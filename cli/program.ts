/**
 * `dps-lifecycle`: the command line for operators and manufacturers.
 *   dps-lifecycle import FILE --manufacturer ID [--follow]      upload EKs, watch the job
 *   dps-lifecycle import-status JOB --manufacturer ID [--follow]
 *   dps-lifecycle import-rows JOB --manufacturer ID [--status invalid]
 *   dps-lifecycle incident report FILE.json | show ID | approve ID | cancel ID | release ID [--follow]
 *   dps-lifecycle group create ID [--certificate-policy NS/CA/POLICY] [--ca-certificate FILE.pem] [--tag K=V]
 *   dps-lifecycle certificates expiring [--within 30d]
 *   dps-lifecycle webhook rotate-key [--webhook-url URL] [--state FILE]
 *   dps-lifecycle tpm harvest [--tpm HOST:PORT|/dev/tpmrm0] --out FILE [--serial S] [--model M] [--lot L]
 *   dps-lifecycle findings list [--kind audit|expiry] [--suppressed] | suppress KIND ID --reason TEXT
 * Where to and as whom: DPS_LIFECYCLE_URL, DPS_LIFECYCLE_FUNCTION_KEY, DPS_LIFECYCLE_TOKEN (Entra ID access token for
 * the API, or the local manufacturer secret), DPS_LIFECYCLE_ADMIN_TOKEN (an identity with the Admin role); against
 * `npm start` none is needed.
 */
import { createHash, createSign } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';

import { Command } from 'commander';

import { formatOf } from '../shared/imports/rules/row-sources';
import { api, type ClientConfig, clientConfig } from './client';
import { follow } from './follow';
import { addGroupCommands } from './group-commands';
import { addIncidentCommands } from './incident-commands';
import { addTpmCommands } from './tpm-commands';
import { upload } from './upload';
import { addWebhookCommands } from './webhook-commands';

interface JobView {
  jobId: string;
  status: string;
  reason?: string;
  counts: Record<string, number>;
  percent: number;
  ratePerMinute: number;
  etaSeconds?: number;
}

interface RowsPage {
  rows: Array<{ line: number; registrationId?: string; status: string; reason?: string }>;
  continuationToken?: string;
}

const jobPath = (manufacturer: string, jobId = '') =>
  `/api/manufacturers/${encodeURIComponent(manufacturer)}/imports${jobId ? `/${encodeURIComponent(jobId)}` : ''}`;

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A detached SHA-256 signature over the file, with the manufacturer's signing key. */
async function signFile(file: string, keyPem: string): Promise<string> {
  const signer = createSign('sha256');
  for await (const chunk of createReadStream(file)) signer.update(chunk as Buffer);
  return signer.sign(keyPem).toString('base64');
}

function describeJob(job: JobView): string {
  const c = job.counts;
  const eta = job.etaSeconds !== undefined ? `, ETA ${Math.ceil(job.etaSeconds / 60)} min` : '';
  return `${job.status}: ${c.rows} rows, ${c.valid} valid, ${c.invalid} invalid, ${c.duplicate} duplicate | ${c.enrolled} enrolled, ${c.alreadyEnrolled} already, ${c.failed} failed | ${job.ratePerMinute}/min${eta}`;
}

async function showRows(
  config: ClientConfig,
  manufacturer: string,
  jobId: string,
  status: string | undefined,
  limit: number,
): Promise<number> {
  let shown = 0;
  let token: string | undefined;
  do {
    const query = new URLSearchParams({
      ...(status ? { status } : {}),
      ...(token ? { continuationToken: token } : {}),
    });
    const { body } = await api<RowsPage>(config, `${jobPath(manufacturer, jobId)}/rows?${query}`);
    for (const row of body.rows) {
      if (shown++ >= limit) return shown;
      console.log(
        `  line ${String(row.line).padStart(7)}  ${row.status.padEnd(15)} ${(row.registrationId ?? '').padEnd(52)} ${row.reason ?? ''}`,
      );
    }
    token = body.continuationToken;
  } while (token);
  return shown;
}

async function followJob(config: ClientConfig, manufacturer: string, jobId: string): Promise<JobView> {
  let last: JobView | undefined;
  await follow(async () => {
    last = (await api<JobView>(config, jobPath(manufacturer, jobId))).body;
    return { done: last.status === 'done' || last.status === 'failed', percent: last.percent, line: describeJob(last) };
  });
  return last as JobView;
}

async function report(config: ClientConfig, manufacturer: string, job: JobView): Promise<void> {
  console.log(describeJob(job));
  if (job.reason) console.log(`  ${job.reason}`);
  for (const status of ['invalid', 'duplicate', 'failed']) {
    if (!job.counts[status]) continue;
    console.log(
      `${status} rows (first 20; all: dps-lifecycle import-rows ${job.jobId} --manufacturer ${manufacturer} --status ${status}):`,
    );
    await showRows(config, manufacturer, job.jobId, status, 20);
  }
}

interface ExpiringView {
  until: string;
  count: number;
  certificates: Array<{
    thumbprint: string;
    subject: string;
    notAfter: string;
    expired: boolean;
    raised: number[];
    usages: Array<{ kind: string; id: string; slot?: string }>;
    weaknesses: string[];
  }>;
}

interface FindingsView {
  findings: Array<{
    id: string;
    code: string;
    raisedAt: string;
    reason?: string;
    suppressed?: { by: string; reason: string };
  }>;
}

/** The whole command line, built anew for each run (tests run it in process). */
export function buildProgram(): Command {
  const program = new Command('dps-lifecycle').description(
    'dps-lifecycle: bulk TPM enrollment imports and breach incidents',
  );

  program
    .command('import')
    .argument('<file>', 'CSV, NDJSON or JSON array of EKs')
    .requiredOption('-m, --manufacturer <id>', 'manufacturer ID')
    .option('-f, --format <format>', 'csv | ndjson | json (default: from the file name)')
    .option('-k, --idempotency-key <key>', 'default: the SHA-256 of the file, so sending it again is harmless')
    .option('--sign-key <pem>', 'sign the file with this private key (for manufacturers that sign their files)')
    .option('--follow', 'watch the job until it is done')
    .option('--via-upload-url', 'send the file straight to Blob storage (the way for files over 100 MB)')
    .action(
      async (
        file: string,
        opts: {
          manufacturer: string;
          format?: string;
          idempotencyKey?: string;
          signKey?: string;
          follow?: boolean;
          viaUploadUrl?: boolean;
        },
      ) => {
        const config = clientConfig(opts.manufacturer);
        const format = formatOf(opts.format ?? file);
        if (!format) throw new Error(`cannot tell the format of ${file}: use --format csv|ndjson|json`);
        const key = opts.idempotencyKey ?? `sha256:${await fileDigest(file)}`;
        const size = statSync(file).size;
        console.log(`uploading ${basename(file)} (${(size / 1e6).toFixed(1)} MB, ${format}) for ${opts.manufacturer}…`);
        const contentType = { csv: 'text/csv', ndjson: 'application/x-ndjson', json: 'application/json' }[format];
        const signature: Record<string, string> = opts.signKey
          ? { 'x-content-signature': await signFile(file, readFileSync(opts.signKey, 'utf8')) }
          : {};
        const { status, body } = await upload<JobView>(config, {
          path: `${jobPath(opts.manufacturer)}?fileName=${encodeURIComponent(basename(file))}`,
          viaUploadUrl: opts.viaUploadUrl,
          file,
          size,
          contentType,
          headers: { 'idempotency-key': key, ...signature },
        });
        console.log(`${status === 200 ? 'already imported as' : 'job'} ${body.jobId}`);
        const job =
          opts.follow && body.status !== 'done' && body.status !== 'failed'
            ? await followJob(config, opts.manufacturer, body.jobId)
            : body;
        await report(config, opts.manufacturer, job);
        if (job.status === 'failed') process.exitCode = 1;
      },
    );

  program
    .command('import-status')
    .argument('<jobId>')
    .requiredOption('-m, --manufacturer <id>')
    .option('--follow')
    .action(async (jobId: string, opts: { manufacturer: string; follow?: boolean }) => {
      const config = clientConfig(opts.manufacturer);
      const job = opts.follow
        ? await followJob(config, opts.manufacturer, jobId)
        : (await api<JobView>(config, jobPath(opts.manufacturer, jobId))).body;
      await report(config, opts.manufacturer, job);
    });

  program
    .command('import-rows')
    .argument('<jobId>')
    .requiredOption('-m, --manufacturer <id>')
    .option('-s, --status <status>', 'valid | invalid | duplicate | enrolled | alreadyEnrolled | failed')
    .option('-n, --limit <n>', 'at most this many rows', '1000')
    .action(async (jobId: string, opts: { manufacturer: string; status?: string; limit: string }) => {
      await showRows(clientConfig(opts.manufacturer), opts.manufacturer, jobId, opts.status, Number(opts.limit));
    });

  addIncidentCommands(program);
  addGroupCommands(program);
  addWebhookCommands(program);
  addTpmCommands(program);

  program
    .command('certificates')
    .description('certificate inventory (the Admin role)')
    .command('expiring')
    .option('-w, --within <days>', 'window, like 30d', '30d')
    .action(async (opts: { within: string }) => {
      const { body } = await api<ExpiringView>(
        clientConfig(),
        `/api/certificates/expiring?within=${encodeURIComponent(opts.within)}`,
        { admin: true },
      );
      console.log(`${body.count} certificates end before ${body.until}:`);
      for (const c of body.certificates) {
        const where =
          c.usages.map((u) => `${u.kind} ${u.id}${u.slot ? ` (${u.slot})` : ''}`).join(', ') || 'no longer used';
        console.log(
          `  ${c.notAfter.slice(0, 10)} ${c.expired ? 'EXPIRED ' : '        '}${c.subject.padEnd(40)} ${c.thumbprint.slice(0, 16)}…  ${where}${c.weaknesses.length ? `  weak: ${c.weaknesses.join('; ')}` : ''}`,
        );
      }
    });
  const findings = program.command('findings').description('expiry and audit findings');

  findings
    .command('list')
    .option('-k, --kind <kind>', 'audit | expiry | alert', 'audit')
    .option('--suppressed', 'the suppressed ones instead')
    .action(async (opts: { kind: string; suppressed?: boolean }) => {
      const { body } = await api<FindingsView>(
        clientConfig(),
        `/api/findings?kind=${encodeURIComponent(opts.kind)}${opts.suppressed ? '&suppressed=true' : ''}`,
        { admin: true },
      );
      console.log(`${body.findings.length} ${opts.suppressed ? 'suppressed ' : ''}${opts.kind} findings:`);
      for (const f of body.findings)
        console.log(
          `  ${f.raisedAt.slice(0, 16)}  ${f.code.padEnd(26)} ${f.id}${f.reason ? `\n      ${f.reason}` : ''}${f.suppressed ? `\n      suppressed by ${f.suppressed.by}: ${f.suppressed.reason}` : ''}`,
        );
    });

  findings
    .command('suppress')
    .argument('<kind>')
    .argument('<id>')
    .requiredOption('-r, --reason <text>', 'why (audited)')
    .action(async (kind: string, id: string, opts: { reason: string }) => {
      await api(clientConfig(), `/api/findings/${encodeURIComponent(kind)}/${encodeURIComponent(id)}/suppress`, {
        method: 'POST',
        admin: true,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: opts.reason }),
      });
      console.log(`suppressed ${id}: ${opts.reason}`);
    });
  return program;
}
