/**
 * `npm run bench:import-growth`: does the import worker's cost grow with what the stack already holds, or only with
 * its job? Two measures, each beside an empty stack and a loaded one:
 * 1. Cosmos. The same worker (enrollChunk, in this process, over the real SDKs) enrolls a job of CHUNKS chunks twice:
 *    beside an empty `imports` container, then beside a staged job of BIG rows (what bench:import's staged part
 *    leaves). For each: the worker's time per chunk, its Cosmos calls per chunk by operation (counted at the fault
 *    proxy, which sees every call), the documents the embedded server read to answer queries (its `query` hands
 *    every document of the container to the query engine, partition key or not), the heap and GC time.
 * 2. Azurite's queue service. A queue call's latency and the service's CPU time before, and in the two minutes
 *    after, QUEUED messages were sent and cleared (the staged part's jobs queue 11,100 chunks, which it then clears).
 * DPS is not throttled here: only the worker's and the stack's own costs are measured.
 */
import 'reflect-metadata';

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';

import { randomEk } from '../../dev/ek-factory';
import { NO_FAULTS } from '../../dev/faults/plan';
import { loadLocalSettings } from '../../dev/local-settings';
import { startLocalStack } from '../../dev/stack';
import { queueService } from '../../shared/azure/queues';
import { lazyServices } from '../../shared/composition';
import { CONTAINERS } from '../../shared/containers';
import { enrollChunk } from '../../shared/imports/enroll-chunk';
import { type ChunkDocument, chunkId, type JobDocument, zeroCounts } from '../../shared/imports/job-store';
import { validateRow, type ValidRow } from '../../shared/imports/rules/row';
import { fmt, runBench } from './support';

const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 30);
const QUEUED = Number(process.env.BENCH_QUEUED ?? 11_100);
const BIG = Number(process.env.BENCH_STAGED_ROWS ?? 1_000_000);
const ROWS_PER_CHUNK = 100;

/** The embedded server's query scans: its `Items.query` is handed every document of the container. */
function countScans(): { queries: number; scanned: number } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const items = require('@vercel/cosmosdb-server/lib/account/items').default as {
    prototype: { query: (...args: unknown[]) => unknown; _data: Map<unknown, unknown> };
  };
  const counts = { queries: 0, scanned: 0 };
  const query = items.prototype.query;
  items.prototype.query = function (this: { _data: Map<unknown, unknown> }, ...args: unknown[]) {
    counts.queries++;
    counts.scanned += this._data.size;
    return query.apply(this, args);
  };
  return counts;
}

/** Garbage-collection time of this process (the embedded Cosmos server and the simulator run in it). */
function gcTime(): { ms: number } {
  const total = { ms: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) total.ms += e.duration;
  }).observe({ entryTypes: ['gc'] });
  return total;
}

function job(jobId: string, chunks: number): JobDocument {
  const now = new Date().toISOString();
  return {
    id: jobId,
    jobId,
    type: 'job',
    manufacturerId: 'acme-tpm',
    createdBy: 'bench',
    format: 'csv',
    status: 'enrolling',
    createdAt: now,
    updatedAt: now,
    validatedAt: now,
    counts: { ...zeroCounts(), rows: chunks * ROWS_PER_CHUNK, valid: chunks * ROWS_PER_CHUNK },
    chunks,
    chunksDone: 0,
    countedChunks: '',
  };
}

function validRows(prefix: string, first: number): ValidRow[] {
  return Array.from({ length: ROWS_PER_CHUNK }, (_, i) => {
    const line = first + i;
    const verdict = validateRow(
      {
        line,
        fields: { registrationId: `${prefix}${line}`, endorsementKey: randomEk().toString('base64'), lot: 'lot-1' },
      },
      { manufacturerId: 'acme-tpm', registrationIdPrefix: 'acme-' },
    );
    if (verdict.status !== 'valid') throw new Error(verdict.reason);
    return verdict;
  });
}

/** CPU seconds a process has used so far (Linux: utime + stime of /proc/<pid>/stat, in clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Azurite's queue service before and after a flood of messages sent and cleared. */
async function queueAfterFlood(connectionString: string, pid: number): Promise<void> {
  const queue = queueService({ connectionString }).getQueueClient('bench-growth');
  await queue.createIfNotExists();
  const sample = async (ms: number) => {
    const latencies: number[] = [];
    const cpu0 = cpuSeconds(pid);
    const t = performance.now();
    const until = t + ms;
    while (performance.now() < until) {
      const t0 = performance.now();
      await queue.receiveMessages({ numberOfMessages: 16 });
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 250));
    }
    latencies.sort((a, b) => a - b);
    return {
      median: latencies[latencies.length >> 1],
      worst: latencies[latencies.length - 1],
      cpu: cpuSeconds(pid) - cpu0,
      // A receive stuck behind the service's own work ends the sample late: the span actually sampled.
      seconds: (performance.now() - t) / 1000,
    };
  };
  const line = (label: string, r: Awaited<ReturnType<typeof sample>>) =>
    console.log(
      `  ${label.padEnd(44)} a receive takes ${fmt(r.median, 0)} ms (median; worst ${fmt(r.worst, 0)} ms); the queue service used ${fmt(r.cpu)} s of CPU in ${fmt(r.seconds, 0)} s`,
    );
  line('before', await sample(20_000));
  const started = performance.now();
  for (let i = 0; i < QUEUED; i += 100)
    await Promise.all(
      Array.from({ length: Math.min(100, QUEUED - i) }, (_, k) =>
        queue.sendMessage(Buffer.from(JSON.stringify({ jobId: 'big', chunk: i + k })).toString('base64')),
      ),
    );
  await queue.clearMessages();
  console.log(`  (${fmt(QUEUED, 0)} messages sent and cleared in ${fmt((performance.now() - started) / 1000)} s)`);
  // Azurite collects the storage of deleted messages once a minute: two minutes see at least one collection.
  line('in the two minutes after, the queue empty', await sample(120_000));
}

async function main(): Promise<void> {
  const scans = countScans();
  const gc = gcTime();
  const dir = mkdtempSync(join(tmpdir(), 'dpsl-container-'));
  const stack = await startLocalStack(loadLocalSettings(), {
    dataDir: dir,
    persistent: false,
    withStorage: true,
    faults: NO_FAULTS,
    quotas: { dpsOperationsPerMinute: 1e7 },
    log: () => undefined,
  });
  const services = lazyServices({ ...stack.env, DPS_OPERATIONS_PER_MINUTE: '1e7' });
  const jobs = await services.importJobs();
  const faults = stack.faults as NonNullable<typeof stack.faults>;
  const imports = stack.cosmos.client.database(stack.env.COSMOS_DATABASE).container(CONTAINERS.imports.name);

  const measure = async (label: string, jobId: string) => {
    await jobs.create(job(jobId, CHUNKS));
    for (let c = 0; c < CHUNKS; c++)
      await jobs.createChunk({
        id: chunkId(jobId, c),
        jobId,
        type: 'chunk',
        index: c,
        state: 'pending',
        rows: validRows(`acme-${jobId}-`, 2 + c * ROWS_PER_CHUNK),
      });
    const ops = ['read', 'create', 'replace', 'upsert', 'query', 'queryPlan', 'readAll'] as const;
    const before = Object.fromEntries(ops.map((op) => [op, faults.calls('cosmos', op)]));
    const scansBefore = { ...scans };
    const gcBefore = gc.ms;
    const times: number[] = [];
    for (let c = 0; c < CHUNKS; c++) {
      const t0 = performance.now();
      await enrollChunk(services, { jobId, chunk: c });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const perChunk = ops
      .map((op) => [op, (faults.calls('cosmos', op) - before[op]) / CHUNKS] as const)
      .filter(([, n]) => n > 0)
      .map(([op, n]) => `${op} ${fmt(n)}`)
      .join(', ');
    const scanned = scans.scanned - scansBefore.scanned;
    const queries = scans.queries - scansBefore.queries;
    const heapMB = process.memoryUsage().heapUsed / 1e6;
    const gcMs = gc.ms - gcBefore;
    const { resources } = await imports.items.query('SELECT VALUE COUNT(1) FROM c').fetchAll();
    console.log(
      `  ${label.padEnd(34)} ${fmt(resources[0] as number, 0).padStart(7)} documents in imports: ${fmt(times[times.length >> 1], 0)} ms a chunk (median; p90 ${fmt(times[Math.floor(times.length * 0.9)], 0)}); Cosmos calls a chunk: ${perChunk}; documents the server read for queries: ${fmt(scanned, 0)} in ${queries} queries; heap ${fmt(heapMB, 0)} MB, GC ${fmt(gcMs, 0)} ms`,
    );
  };

  try {
    console.log(
      `The import worker beside an empty container and beside a staged job of ${fmt(BIG, 0)} rows (${CHUNKS} chunks of ${ROWS_PER_CHUNK} each time, DPS unthrottled):`,
    );
    await measure('job beside an empty container', 'small-1');
    const template = validRows('acme-big-', 2);
    const started = performance.now();
    const bigChunks = Math.ceil(BIG / ROWS_PER_CHUNK);
    for (let c = 0; c < bigChunks; c += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, bigChunks - c) }, (_, k): Promise<unknown> => {
          const index = c + k;
          const doc: ChunkDocument = {
            id: chunkId('big', index),
            jobId: 'big',
            type: 'chunk',
            index,
            state: 'pending',
            rows: template.map((r) => ({ ...r, line: r.line + index * ROWS_PER_CHUNK })),
          };
          return imports.items.create(doc);
        }),
      );
    }
    await imports.items.create(job('big', bigChunks));
    console.log(
      `  (${fmt(bigChunks, 0)} chunks of the staged job written in ${fmt((performance.now() - started) / 1000)} s)`,
    );
    await measure('the same job beside the staged one', 'small-2');
    console.log(
      `\nAzurite's queue service before and after ${fmt(QUEUED, 0)} messages were sent and cleared (nothing else calls it):`,
    );
    await queueAfterFlood(stack.env.AzureWebJobsStorage, stack.azurite?.pids.queue as number);
  } finally {
    await services.events().then((e) => e.close());
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
