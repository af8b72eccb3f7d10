/**
 * `npm run bench:import`:
 * 1. Validation of generated EK files of 100,000, 300,000 and 1,000,000 rows: rows/s and peak memory of the
 *    streamed pipeline, beside a naive whole-file implementation measured in the same run.
 * 2. End to end: 20,000 rows through the import endpoint and queue worker into the simulated DPS at a configured
 *    quota; enrollments/min as a ratio of the quota ceiling, and the 429s seen.
 * 3. kill -9 of the worker instance half-way through another 20,000 rows: a new instance resumes, and DPS ends with
 *    exactly the full set, none enrolled twice.
 * 4. The staged path (import-staged.ts): the time to the 202 against file size, validation rows/s in the queue
 *    function, its peak memory, and kill -9 in the middle of validating 1,000,000 rows.
 * DPS's quota (1,000 operations/min) is scaled ×SCALE so a run takes a minute; the ratio does not depend on it.
 */
import 'reflect-metadata';

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { writeEkFile } from '../../dev/ek-factory';
import { loadLocalSettings } from '../../dev/local-settings';
import { startLocalStack } from '../../dev/stack';
import { stagedBench } from './import-staged';
import { fmt, ratio, runBench } from './support';

const SCALE = Number(process.env.BENCH_SCALE ?? 30);
const E2E_ROWS = Number(process.env.BENCH_ROWS ?? 20_000);
const SIZES = (process.env.BENCH_VALIDATE_SIZES ?? '100000,300000,1000000').split(',').map(Number);
const NAIVE_MAX = 1_000_000;
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

function startHost(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(__dirname, 'import-host.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // @azure/functions warns that it runs outside the Functions runtime, once per function; anything else is shown.
  child.stderr?.on('data', (c: Buffer) => {
    for (const l of c.toString().split('\n')) if (l.trim() && !l.startsWith('WARNING:')) console.error(l);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const port = /port=(\d+)/.exec(out)?.[1];
      if (port) resolve({ child, url: `http://127.0.0.1:${port}` });
    });
    child.once('exit', (code) => reject(new Error(`import host exited ${code}`)));
  });
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dpsl-import-'));
  await validationBench(dir);

  const settings = loadLocalSettings();
  const quota = 1000 * SCALE;
  // Each part gets a stack of its own: the embedded Cosmos server answers a query by scanning its whole container,
  // so a part run after the staged million rows measured that server's scan of them, not our worker (0.15× of the
  // quota after it, 0.98× alone, at the same commit).
  const startStack = (name: string) =>
    startLocalStack(settings, {
      dataDir: mkdtempSync(join(dir, `${name}-`)),
      persistent: false,
      withStorage: true,
      quotas: { dpsOperationsPerMinute: quota, burstSeconds: 1 },
      log: () => undefined,
    });
  const withStack = async (
    name: string,
    part: (stack: Awaited<ReturnType<typeof startLocalStack>>, env: Record<string, string>) => Promise<void>,
  ) => {
    const stack = await startStack(name);
    try {
      await part(stack, { ...stack.env, ALLOCATION_WEBHOOK_URL: 'https://example.invalid/api/allocate?code=x' });
    } finally {
      await stack.close();
    }
  };
  try {
    await withStack('staged', (_stack, env) => stagedBench(dir, env, startHost));
    await withStack('e2e', async (stack, env) => {
      console.log(
        `\nEnd to end through the endpoint, the queue worker (16 chunks at a time) and the simulated DPS at ${fmt(quota, 0)} operations/min (×${SCALE} the real 1,000), on a stack of its own:`,
      );
      const file = join(dir, 'e2e.csv');
      await writeEkFile(file, E2E_ROWS, { prefix: 'acme-e2e-' });
      const host = await startHost(env);
      const before = stack.simulator.throttled.dpsOperations;
      const job = await poll(host.url, (await upload(host.url, file)).jobId, (j) => j.status === 'done');
      const minutes = (Date.parse(job.completedAt as string) - Date.parse(job.validatedAt as string)) / 60_000;
      const perMinute = job.counts.enrolled / minutes;
      console.log(
        `  ${fmt(job.counts.enrolled, 0)} enrolled in ${fmt(minutes * 60)} s: ${fmt(perMinute, 0)} enrollments/min, ${ratio(perMinute, quota)} of the quota ceiling; ${stack.simulator.throttled.dpsOperations - before} answers 429 (each waited out by its Retry-After)`,
      );
      if (job.counts.enrolled !== E2E_ROWS)
        throw new Error(`expected ${E2E_ROWS} enrolled, got ${JSON.stringify(job.counts)}`);
      host.child.kill();
    });
    await withStack('crash', async (stack, env) => {
      console.log(`\nkill -9 half-way through another ${fmt(E2E_ROWS, 0)} rows:`);
      const second = join(dir, 'crash.csv');
      await writeEkFile(second, E2E_ROWS, { prefix: 'acme-crash-' });
      const first = await startHost(env);
      const { jobId } = await upload(first.url, second);
      const half = await poll(first.url, jobId, (j) => j.counts.enrolled >= E2E_ROWS / 2);
      first.child.kill('SIGKILL');
      const killedAt = Date.now();
      console.log(
        `  killed the instance at ${fmt(half.counts.enrolled, 0)} counted (chunks in flight return to the queue after their 15 s visibility timeout)`,
      );
      const next = await startHost(env);
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
