/**
 * bench:import, the staged path: how long a maker waits for its 202 against the file's size (the file is only
 * stored, never validated, in the request), how fast the queue-driven validation reads a staged file, the validating
 * process's peak memory, and kill -9 of that process in the middle of a 1,000,000-row validation: another instance
 * resumes from the last checkpoint, and the job ends with every row counted once. Only the validation queue is
 * driven here, so enrollment does not compete for the CPU (the end-to-end part of bench:import measures it).
 */
import type { ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { putToBlob } from '../../cli/upload';
import { writeEkFile } from '../../dev/ek-factory';
import { queueService } from '../../shared/azure/queues';
import { QUEUES } from '../../shared/containers';
import { fmt } from './support';

const ACME = { authorization: 'Bearer dev-acme-tpm-secret-not-a-secret', 'x-functions-key': 'fk' };
// A state-changing call without a body still says JSON (the edge refuses a simple request with a 415).
const ACTION = { method: 'POST', headers: { ...ACME, 'content-type': 'application/json' }, body: '{}' };
const BIG = Number(process.env.BENCH_STAGED_ROWS ?? 1_000_000);

interface Job {
  jobId: string;
  status: string;
  counts: Record<string, number>;
  createdAt: string;
  validatedAt?: string;
  chunks: number;
}

type StartHost = (env: Record<string, string>) => Promise<{ child: ChildProcess; url: string }>;

/** Peak resident memory of a process so far (Linux: VmHWM), in MB. */
const peakMB = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

async function job(url: string, jobId: string): Promise<Job> {
  return (await (await fetch(`${url}/api/manufacturers/acme-tpm/imports/${jobId}`, { headers: ACME })).json()) as Job;
}

async function until(url: string, jobId: string, done: (j: Job) => boolean): Promise<Job> {
  for (;;) {
    const j = await job(url, jobId);
    if (j.status === 'failed') throw new Error(`import failed: ${JSON.stringify(j)}`);
    if (done(j)) return j;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const validated = (j: Job) => j.status === 'enrolling' || j.status === 'done';

export async function stagedBench(dir: string, env: Record<string, string>, startHost: StartHost): Promise<void> {
  const validationOnly = { ...env, BENCH_QUEUES: 'import-validation' };
  const host = await startHost(validationOnly);
  console.log('\nStaged path (file stored first, validated by the import-validation queue):');
  for (const rows of [10_000, 100_000]) {
    const file = join(dir, `staged-${rows}.csv`);
    await writeEkFile(file, rows, { prefix: `acme-staged-${rows}-` });
    const t0 = performance.now();
    const res = await fetch(`${host.url}/api/manufacturers/acme-tpm/imports`, {
      method: 'POST',
      headers: { ...ACME, 'content-type': 'text/csv' },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    const answered = performance.now() - t0;
    const { jobId } = (await res.json()) as Job;
    if (res.status !== 202) throw new Error(`upload answered ${res.status}`);
    const done = await until(host.url, jobId, validated);
    const validationMs = Date.parse(done.validatedAt as string) - Date.parse(done.createdAt) - answered;
    console.log(
      `  ${fmt(rows, 0).padStart(9)} rows, ${fmt(statSync(file).size / 1e6, 1).padStart(5)} MB through the request: 202 after ${fmt(answered, 0)} ms; validated ${fmt(validationMs / 1000, 1)} s later (${fmt(rows / (validationMs / 1000), 0)} rows/s)`,
    );
  }
  const hostPeak = peakMB(host.child.pid as number);
  host.child.kill();

  const file = join(dir, `staged-${BIG}.csv`);
  await writeEkFile(file, BIG, { prefix: 'acme-staged-big-' });
  const mb = statSync(file).size / 1e6;
  const first = await startHost(validationOnly);
  const slotStarted = performance.now();
  const slot = (await (
    await fetch(`${first.url}/api/manufacturers/acme-tpm/imports/uploads?format=csv`, ACTION)
  ).json()) as Job & { uploadUrl: string; startUrl: string };
  const slotMs = performance.now() - slotStarted;
  const putStarted = performance.now();
  await putToBlob(slot.uploadUrl, file);
  const putMs = performance.now() - putStarted;
  const startStarted = performance.now();
  const start = await fetch(`${first.url}${slot.startUrl}`, ACTION);
  const startMs = performance.now() - startStarted;
  if (start.status !== 202) throw new Error(`start answered ${start.status}`);
  console.log(
    `  ${fmt(BIG, 0).padStart(9)} rows, ${fmt(mb, 0).padStart(5)} MB through an upload URL: URL in ${fmt(slotMs, 0)} ms, PUT in ${fmt(putMs / 1000, 1)} s (8 MB blocks), start → 202 in ${fmt(startMs, 0)} ms`,
  );
  const half = await until(first.url, slot.jobId, (j) => j.counts.rows >= BIG / 2);
  const firstPeak = peakMB(first.child.pid as number);
  first.child.kill('SIGKILL');
  const killedAt = performance.now();
  console.log(`  kill -9 of the validating instance at ${fmt(half.counts.rows, 0)} rows checkpointed`);
  const next = await startHost(validationOnly);
  const done = await until(next.url, slot.jobId, validated);
  const resumedIn = (performance.now() - killedAt) / 1000;
  const left = BIG - half.counts.rows;
  console.log(
    `  a new instance resumed from the checkpoint (the message comes back after its 15 s visibility timeout): validated ${fmt(resumedIn, 1)} s after the kill; counts ${JSON.stringify(done.counts)}, ${fmt(done.chunks, 0)} chunks`,
  );
  console.log(
    `  peak memory of the validating process: ${fmt(firstPeak, 0)} MB before the kill, ${fmt(peakMB(next.child.pid as number), 0)} MB for the resumed one (${fmt(left, 0)} rows; the host that took the 100,000-row upload: ${fmt(hostPeak, 0)} MB)`,
  );
  if (
    done.counts.rows !== BIG ||
    done.counts.valid !== BIG ||
    done.counts.duplicate !== 0 ||
    done.counts.invalid !== 0 ||
    done.chunks !== Math.ceil(BIG / 100)
  )
    throw new Error('the resumed validation lost or repeated rows');
  next.child.kill();
  // The chunks these jobs queued for enrollment are not part of this measure: they would hold up the next one.
  await queueService({ connectionString: env.AzureWebJobsStorage }).getQueueClient(QUEUES.importChunks).clearMessages();
}
