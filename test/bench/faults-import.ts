/**
 * `bench:faults`, imports: rows through the import endpoint and the queue worker into the simulated DPS, then every
 * row judged against what DPS holds — enrolled once, lost (neither in DPS nor reported failed), or twice (its EK in
 * more than one enrollment, or the row twice in the job's report) — and the job's counts against DPS (drift).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';

import type { LocalStack } from '../../dev/stack';
import { startImportHost } from './support';

const ACME = { authorization: 'Bearer dev-acme-tpm-secret-not-a-secret', 'x-functions-key': 'fk' };

export interface ImportOutcome {
  rows: number;
  once: number;
  lost: number;
  twice: number;
  reportedFailed: number;
  /** |job's enrolled + alreadyEnrolled − enrollments of the job in DPS|: counts that drifted from what was applied. */
  drift: number;
  seconds: number;
  status: string;
}

interface Job {
  jobId: string;
  status: string;
  counts: Record<string, number>;
  validatedAt?: string;
  completedAt?: string;
}

/** Calls the endpoint until it answers below 500: the bench's client retries a lost or failed call, as a maker's would. */
async function call(url: string, init: () => RequestInit): Promise<Response> {
  for (let tries = 1; ; tries++) {
    try {
      const res = await fetch(url, init());
      if (res.status < 500 || tries >= 20) return res;
      await res.arrayBuffer();
    } catch (err) {
      if (tries >= 20) throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const finished = (status: string) => status === 'done' || status === 'failed';

export async function importUnder(
  stack: LocalStack,
  env: Record<string, string>,
  file: string,
): Promise<ImportOutcome> {
  const jobKey = basename(file);
  const host = await startImportHost(env);
  try {
    const started = performance.now();
    // The upload, tried again after a lost answer or a 5xx under its Idempotency-Key: the same job, never a second.
    const res = await call(`${host.url}/api/manufacturers/acme-tpm/imports`, () => ({
      method: 'POST',
      headers: { ...ACME, 'content-type': 'text/csv', 'idempotency-key': `bench-${jobKey}` },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: 'half',
    }));
    if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    const { jobId } = (await res.json()) as Job;
    let job: Job;
    for (;;) {
      const answer = await call(`${host.url}/api/manufacturers/acme-tpm/imports/${jobId}`, () => ({ headers: ACME }));
      job = (await answer.json()) as Job;
      if (finished(job.status)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const seconds = (performance.now() - started) / 1000;
    const failedRows = await reportedFailed(host.url, jobId);
    return { ...judge(stack, file, jobId, job, failedRows), seconds, status: job.status };
  } finally {
    host.child.kill();
  }
}

/** Line numbers of the rows the job reports failed, and how often each line is reported. */
async function reportedFailed(url: string, jobId: string): Promise<Map<number, number>> {
  const lines = new Map<number, number>();
  let continuation: string | undefined;
  do {
    const query = `status=failed${continuation ? `&continuationToken=${encodeURIComponent(continuation)}` : ''}`;
    const res = await call(`${url}/api/manufacturers/acme-tpm/imports/${jobId}/rows?${query}`, () => ({
      headers: ACME,
    }));
    const page = (await res.json()) as { rows: Array<{ line: number }>; continuationToken?: string };
    for (const row of page.rows ?? []) lines.set(row.line, (lines.get(row.line) ?? 0) + 1);
    continuation = page.continuationToken;
  } while (continuation);
  return lines;
}

function judge(stack: LocalStack, file: string, jobId: string, job: Job, failed: Map<number, number>) {
  const rows = readFileSync(file, 'utf8').trim().split('\n').slice(1);
  const holders = new Map<string, number>();
  let ofJob = 0;
  for (const e of stack.simulator.state.enrollments.values()) {
    const ek = (e.attestation as { tpm?: { endorsementKey?: string } } | undefined)?.tpm?.endorsementKey;
    if (ek) holders.set(ek, (holders.get(ek) ?? 0) + 1);
    if ((e.initialTwin?.tags as { importJob?: string } | undefined)?.importJob === jobId) ofJob++;
  }
  let once = 0;
  let lost = 0;
  let twice = 0;
  rows.forEach((text, i) => {
    const line = i + 2;
    const ek = text.split(',')[1];
    const held = holders.get(ek) ?? 0;
    if (held > 1 || (failed.get(line) ?? 0) > 1) twice++;
    else if (held === 1) once++;
    else if (!failed.has(line)) lost++;
  });
  const applied = (job.counts.enrolled ?? 0) + (job.counts.alreadyEnrolled ?? 0);
  return { rows: rows.length, once, lost, twice, reportedFailed: failed.size, drift: Math.abs(applied - ofJob) };
}
