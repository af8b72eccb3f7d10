/**
 * `npm run bench:deny`: how the deny list reaches the webhook's instances.
 * 1. On the local stack (embedded Cosmos server), 1,000 entries: the full reload every instance used to do on every
 *    refresh (the baseline) beside the incremental refresh (the change log after the instance's position, and the
 *    entries it names) with nothing new and with one new entry; then the time from containment writing an entry to a
 *    second webhook process — the function app on the local Functions host, refreshing as in Azure — refusing it.
 * 2. The same refreshes at 1,000 and 100,000 entries on the in-memory store of the same port, counting the documents
 *    each reads: the embedded server reads a whole container for every operation, so seeding 100,000 entries there
 *    takes longer than the rest of the bench (what Cosmos itself does is read its index: the counts are what it bills).
 */
import 'reflect-metadata';

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadLocalSettings } from '../../dev/local-settings';
import { startLocalStack } from '../../dev/stack';
import type { DenyEntry } from '../../shared/allocation/rules/deny-list';
import { buildServices } from '../../shared/composition';
import { CONTAINERS } from '../../shared/containers';
import { CosmosDenyListRepository } from '../../shared/incidents/store/deny-list-repository';
import type { StoredDocument } from '../../shared/ports';
import { type MemoryContainer, MemoryStore } from '../support/memory-store';
import { allocationBody, benchPolicy } from './allocation-fixture';
import { fmt, median, ratio, runBench, serve, tearDown } from './support';

const STACK_SIZES = [1000];
const MEMORY_SIZES = [1000, 100_000];
const PROBES = 7;
const entry = (value: string): DenyEntry => ({ kind: 'registrationId', value, reason: 'bench' });

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

/** Posts the device's registration to the webhook until it gets `status`; answers ms from `since`. */
async function until(status: number, url: string, registrationId: string, since: number): Promise<number> {
  const body = allocationBody(registrationId);
  for (;;) {
    const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await res.arrayBuffer();
    if (res.status === status) return performance.now() - since;
    if (performance.now() - since > 30_000)
      throw new Error(`${registrationId}: ${res.status}, not ${status}, after 30 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dpsl-bench-deny-'));
  const stack = await startLocalStack(loadLocalSettings(), { dataDir, persistent: false, withStorage: false });
  const policyFile = join(dataDir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(benchPolicy()));
  const env = { ...stack.env, ALLOCATION_POLICY_FILE: policyFile, EVENT_LOG_PATH: join(dataDir, 'events.ndjson') };
  const services = await buildServices(env);
  const denyList = new CosmosDenyListRepository(services.store);

  const { port, child } = await serve(join(__dirname, 'webhook-host.js'), env);
  const url = `http://127.0.0.1:${port}/api/allocate?code=bench`;
  await until(200, url, 'never-denied', performance.now()); // warm: the instance has loaded the list once
  console.log('deny list sync benchmark: embedded Cosmos emulator, webhook refreshing every 1 s as in Azure\n');

  let size = 0;
  for (const target of STACK_SIZES) {
    const seeded = await timed(async () => {
      for (; size < target; size += 1000)
        await denyList.hold(
          Array.from({ length: Math.min(1000, target - size) }, (_, i) => entry(`revoked-${size + i}`)),
          'inc-bench',
        );
    });
    const full = await timed(() => denyList.loadAll());
    const fullMs = await median(3, async () => (await timed(() => denyList.loadAll())).ms);
    const position = full.value.position;
    const idleMs = await median(9, async () => (await timed(() => denyList.changesSince(position, []))).ms);
    await denyList.hold([entry(`one-more-${target}`)], 'inc-bench');
    const one = await timed(() => denyList.changesSince(position, []));
    const oneChange = one.value === 'gap' ? undefined : one.value;

    const refusals: number[] = [];
    for (let i = 0; i < PROBES; i++) {
      const device = `late-${target}-${i}`;
      const since = performance.now();
      await denyList.hold([entry(device)], 'inc-bench');
      refusals.push(await until(403, url, device, since));
    }
    refusals.sort((a, b) => a - b);

    console.log(`${fmt(target, 0)} entries (seeded in ${fmt(seeded.ms / 1000, 1)} s)`);
    console.log(
      `  full reload (baseline)      ${fmt(fullMs, 1)} ms   ${fmt(full.value.entries.length, 0)} documents read`,
    );
    console.log(
      `  incremental, nothing new    ${fmt(idleMs, 1)} ms   0 documents read (one query on the log partition)   ${ratio(idleMs, fullMs)} the baseline`,
    );
    console.log(
      `  incremental, one new entry  ${fmt(one.ms, 1)} ms   ${oneChange ? oneChange.present.length + oneChange.absent.length : '?'} entry read after 1 log record   ${ratio(one.ms, fullMs)} the baseline`,
    );
    console.log(
      `  second webhook process refuses a newly denied device after: median ${fmt(refusals[PROBES >> 1], 0)} ms, max ${fmt(refusals[PROBES - 1], 0)} ms (${PROBES} devices; aim ≤ 2,000 ms)\n`,
    );
  }
  child.kill();
  await tearDown(services.events, stack, dataDir);
  await memoryBench();
}

/** Refresh cost by documents read, on the in-memory store (each partition apart, as Cosmos keeps them). */
async function memoryBench(): Promise<void> {
  console.log('refresh cost by documents read (in-memory store of the same port; what Cosmos would return and bill)');
  const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
  for (const size of MEMORY_SIZES) {
    const store = new MemoryStore(partitionKeys);
    const repo = new CosmosDenyListRepository(store);
    for (let i = 0; i < size; i += 1000)
      await repo.hold(
        Array.from({ length: Math.min(1000, size - i) }, (_, j) => entry(`revoked-${i + j}`)),
        'inc-bench',
      );
    const counted = [CONTAINERS.denyList.name, CONTAINERS.denyLog.name].map(
      (n) => store.container(n) as MemoryContainer<StoredDocument>,
    );
    let reads = 0;
    for (const c of counted) {
      const read = c.read.bind(c);
      c.read = (id, pk) => (reads++, read(id, pk));
    }
    const documents = () => reads + counted.reduce((n, c) => n + c.returned, 0);
    const measure = async <T>(f: () => Promise<T>) => {
      const before = documents();
      const t = await timed(f);
      return { ...t, documents: documents() - before };
    };
    const full = await measure(() => repo.loadAll());
    const idle = await measure(() => repo.changesSince(full.value.position, []));
    await repo.hold([entry(`one-more-${size}`)], 'inc-bench');
    const one = await measure(() => repo.changesSince(full.value.position, []));
    console.log(
      `  ${fmt(size, 0).padStart(7)} entries: full reload ${fmt(full.documents, 0)} documents (${fmt(full.ms, 1)} ms) | incremental, nothing new ${idle.documents} documents (${fmt(idle.ms, 2)} ms) | one new entry ${one.documents} documents (${fmt(one.ms, 2)} ms)`,
    );
  }
}

runBench(main);
