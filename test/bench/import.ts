/**
 * `npm run bench:import`:
 * 1. Validation of generated EK files of 100,000, 300,000 and 1,000,000 rows: rows/s and peak memory of the
 *    streamed pipeline, beside a naive whole-file implementation measured in the same run.
 * 2. End to end: 20,000 rows through the import endpoint and queue worker into the simulated DPS, once for each way
 *    DPS may count a bulk call of 10 enrollments (10 operations, or 1): enrollments/min against the ceiling that
 *    rule gives, the 429s met, and the ceiling the shared pace learned. The pace starts at the configured rate both
 *    times, so under the second rule it has to find a ceiling ten times higher.
 * 3. kill -9 of the worker instance half-way through another 20,000 rows: a new instance resumes, and DPS ends with
 *    exactly the full set, none enrolled twice.
 * 4. The staged path (import-staged.ts): the time to the 202 against file size, validation rows/s in the queue
 *    function, its peak memory, and kill -9 in the middle of validating 1,000,000 rows.
 * Each part runs on a stack of its own. DPS's quota (1,000 operations/min) is scaled ×SCALE so a run takes a minute;
 * the ratios do not depend on it (the pace counts in operations, not in seconds).
 */
import 'reflect-metadata';

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { writeEkFile } from '../../dev/ek-factory';
import { loadLocalSettings } from '../../dev/local-settings';
import type { BulkCounting } from '../../dev/sim/throttle';
import { type LocalStack, startLocalStack } from '../../dev/stack';
import { CONTAINERS } from '../../shared/containers';
import type { Pace } from '../../shared/pacing';
import { stagedBench } from './import-staged';
import { fmt, ratio, runBench, startImportHost } from './support';

const SCALE = Number(process.env.BENCH_SCALE ?? 30);
const E2E_ROWS = Number(process.env.BENCH_ROWS ?? 20_000);
const SIZES = (process.env.BENCH_VALIDATE_SIZES ?? '100000,300000,1000000').split(',').map(Number);
const NAIVE_MAX = 1_000_000;
/** Which parts to run (default all): `BENCH_PARTS=e2e npm run bench:import` measures the pace alone. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'validate,staged,e2e,crash').split(','));
const ACME = { authorization: 'Bearer dev-acme-tpm-secret-not-a-secret', 'x-functions-key': 'fk' };

interface Validation {
  impl: string;
  valid?: number;
  ms?: number;
  maxRssMB: number;
  error?: string;
}

async function validate(impl: 'ours' | 'naive', file: string): Promise<Validation> {
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=4096', join(__dirname, 'import-validate.js'), impl, file],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await once(child, 'exit');
  return JSON.parse(out.trim().split('\n').pop() as string) as Validation;
}

async function validationBench(dir: string): Promise<void> {
  console.log('\nValidation (parse CSV, check EK and ID, find duplicates), each run in its own process:');
  for (const rows of SIZES) {
    const file = join(dir, `eks-${rows}.csv`);
    await writeEkFile(file, rows, { prefix: 'acme-' });
    const mb = statSync(file).size / 1e6;
    const ours = await validate('ours', file);
    const naive = rows <= NAIVE_MAX ? await validate('naive', file) : undefined;
    const line = `  ${fmt(rows, 0).padStart(9)} rows (${fmt(mb, 0)} MB): streamed ${fmt(rows / ((ours.ms as number) / 1000), 0)} rows/s, peak RSS ${fmt(ours.maxRssMB, 0)} MB`;
    console.log(
      naive?.ms
        ? `${line} | naive whole-file ${fmt(rows / (naive.ms / 1000), 0)} rows/s, peak RSS ${fmt(naive.maxRssMB, 0)} MB | speed ${ratio(naive.ms, ours.ms as number)}, memory ${ratio(ours.maxRssMB, naive.maxRssMB)} of naive`
        : `${line}${naive?.error ? ` | naive failed: ${naive.error}` : ' | naive not run (it would hold the whole file)'}`,
    );
    if (ours.valid !== rows) throw new Error(`expected ${rows} valid rows, got ${ours.valid}`);
    rmSync(file);
  }
}

interface Job {
  jobId: string;
  status: string;
  counts: Record<string, number>;
  validatedAt?: string;
  completedAt?: string;
}

async function upload(url: string, file: string): Promise<Job> {
  const res = await fetch(`${url}/api/manufacturers/acme-tpm/imports`, {
    method: 'POST',
    headers: { ...ACME, 'content-type': 'text/csv' },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Job;
}

async function poll(url: string, jobId: string, until: (job: Job) => boolean): Promise<Job> {
  for (;;) {
    const job = (await (
      await fetch(`${url}/api/manufacturers/acme-tpm/imports/${jobId}`, { headers: ACME })
    ).json()) as Job;
    if (until(job)) return job;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * DPS's quota for a counting rule, and the ceiling in enrollments it gives. Counting a bulk call once, DPS at ×SCALE
 * would allow 10,000 × SCALE enrollments a minute, more than this machine's worker and embedded Cosmos can do; so
 * that part's DPS runs at 1,000 operations a minute ×SCALE/10, whose ceiling is the other part's: both measure the
 * pace against the same reachable ceiling, and under this rule the pace starts at a tenth of it.
 */
function quotaOf(counting: BulkCounting) {
  const dpsOperationsPerMinute = counting === 'perCall' ? (1000 * SCALE) / 10 : 1000 * SCALE;
  return { dpsOperationsPerMinute, ceiling: dpsOperationsPerMinute * (counting === 'perCall' ? 10 : 1) };
}

/** The pace every instance shared, as the last of them wrote it (one document per DPS instance). */
async function learnedPace(stack: LocalStack): Promise<Pace | undefined> {
  const key = `pace.dps.${stack.env.DPS_HOST_NAME.toLowerCase()}`;
  const { resource } = await stack.cosmos.client
    .database(stack.env.COSMOS_DATABASE)
    .container(CONTAINERS.checkpoints.name)
    .item(key, key)
    .read<{ pace: Pace }>();
  return resource?.pace;
}

async function endToEnd(dir: string, stack: LocalStack, env: Record<string, string>, counting: BulkCounting) {
  const { dpsOperationsPerMinute, ceiling } = quotaOf(counting);
  console.log(
    counting === 'perEnrollment'
      ? `\nEnd to end, DPS counting each enrollment of a bulk call (the cautious reading): ${fmt(dpsOperationsPerMinute, 0)} operations/min (×${SCALE} the real 1,000), a ceiling of ${fmt(ceiling, 0)} enrollments/min; the pace starts there:`
      : `\nEnd to end, DPS counting a bulk call once: ${fmt(dpsOperationsPerMinute, 0)} operations/min (the real 1,000 ×${SCALE / 10}), a ceiling of ${fmt(ceiling, 0)} enrollments/min; the pace starts at ${fmt(dpsOperationsPerMinute, 0)}, a tenth of it:`,
  );
  const file = join(dir, `e2e-${counting}.csv`);
  await writeEkFile(file, E2E_ROWS, { prefix: `acme-e2e-${counting.toLowerCase()}-` });
  const host = await startImportHost(env);
  const before = stack.simulator.throttled.dpsOperations;
  const job = await poll(host.url, (await upload(host.url, file)).jobId, (j) => j.status === 'done');
  const minutes = (Date.parse(job.completedAt as string) - Date.parse(job.validatedAt as string)) / 60_000;
  const perMinute = job.counts.enrolled / minutes;
  const pace = await learnedPace(stack);
  console.log(
    `  ${fmt(job.counts.enrolled, 0)} enrolled in ${fmt(minutes * 60)} s (the worker, 16 chunks at a time): ${fmt(perMinute, 0)} enrollments/min, ${ratio(perMinute, ceiling)} of the ceiling; ${stack.simulator.throttled.dpsOperations - before} answers 429 in ${fmt(E2E_ROWS / 10, 0)} bulk calls; the pace learned a ceiling of ${pace?.ceilingPerMinute ? fmt(pace.ceilingPerMinute, 0) : '(none: never throttled)'} operations/min (${pace ? fmt(pace.throttles, 0) : 0} decreases) and ended at ${pace ? fmt(pace.perMinute, 0) : '?'}`,
  );
  host.child.kill();
  if (job.counts.enrolled !== E2E_ROWS)
    throw new Error(`expected ${E2E_ROWS} enrolled, got ${JSON.stringify(job.counts)}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dpsl-import-'));
  if (PARTS.has('validate')) await validationBench(dir);

  const settings = loadLocalSettings();
  // Each part gets a stack of its own: run after the staged part, the end-to-end figure measured Azurite's queue
  // service collecting the storage of the 11,100 chunk messages that part queued and cleared, not our worker (0.06×
  // of the quota after it; `npm run bench:import-growth` shows both that and the worker's flat cost in Cosmos).
  // DPS's quota as the local stack sets it: each part's, the pace's configured rate with it (dev/stack.ts).
  const startStack = (name: string, counting: BulkCounting) =>
    startLocalStack(settings, {
      dataDir: mkdtempSync(join(dir, `${name}-`)),
      persistent: false,
      withStorage: true,
      quotas: {
        dpsOperationsPerMinute: quotaOf(counting).dpsOperationsPerMinute,
        dpsBulkCounting: counting,
        burstSeconds: 1,
      },
      log: () => undefined,
    });
  const withStack = async (
    name: string,
    part: (stack: LocalStack, env: Record<string, string>) => Promise<void>,
    counting: BulkCounting = 'perEnrollment',
  ) => {
    const stack = await startStack(name, counting);
    try {
      await part(stack, { ...stack.env, ALLOCATION_WEBHOOK_URL: 'https://example.invalid/api/allocate?code=x' });
    } finally {
      await stack.close();
    }
  };
  try {
    if (PARTS.has('staged')) await withStack('staged', (_stack, env) => stagedBench(dir, env, startImportHost));
    if (PARTS.has('e2e'))
      for (const rule of ['perEnrollment', 'perCall'] as const)
        await withStack(`e2e-${rule}`, (stack, env) => endToEnd(dir, stack, env, rule), rule);
    if (PARTS.has('crash'))
      await withStack('crash', async (stack, env) => {
        console.log(`\nkill -9 half-way through another ${fmt(E2E_ROWS, 0)} rows:`);
        const second = join(dir, 'crash.csv');
        await writeEkFile(second, E2E_ROWS, { prefix: 'acme-crash-' });
        const first = await startImportHost(env);
        const { jobId } = await upload(first.url, second);
        const half = await poll(first.url, jobId, (j) => j.counts.enrolled >= E2E_ROWS / 2);
        first.child.kill('SIGKILL');
        const killedAt = Date.now();
        console.log(
          `  killed the instance at ${fmt(half.counts.enrolled, 0)} counted (chunks in flight return to the queue after their 15 s visibility timeout)`,
        );
        const next = await startImportHost(env);
        const done = await poll(next.url, jobId, (j) => j.status === 'done');
        const inDps = [...stack.simulator.state.enrollments.values()].filter(
          (e) => (e.initialTwin?.tags as { importJob?: string } | undefined)?.importJob === jobId,
        ).length;
        console.log(
          `  resumed by a new instance, done ${fmt((Date.now() - killedAt) / 1000)} s after the kill: counts ${JSON.stringify(done.counts)}; DPS holds ${fmt(inDps, 0)} enrollments of the job (expected ${fmt(E2E_ROWS, 0)})`,
        );
        next.child.kill();
        if (
          done.counts.enrolled !== E2E_ROWS ||
          done.counts.alreadyEnrolled !== 0 ||
          done.counts.failed !== 0 ||
          inDps !== E2E_ROWS
        )
          throw new Error('the resumed import is not exactly the full set');
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
