/**
 * `npm run bench:deny`: how the deny list reaches the webhook's instances, at 1,000 and at 100,000 entries.
 * Beside each other in the same run: the full reload every instance used to do on every refresh (the baseline),
 * and the incremental refresh (the change log after the instance's position, and the entries it names) with nothing
 * new and with one new entry. Then the time from containment writing an entry to a second webhook process — the
 * function app on the local Functions host, refreshing as in Azure — refusing that device.
 */
import 'reflect-metadata';

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadLocalSettings } from '../../dev/local-settings';
import { startLocalStack } from '../../dev/stack';
import type { DenyEntry } from '../../shared/allocation/deny-list';
import { CosmosDenyListRepository } from '../../shared/azure/deny-list-repository';
import { buildServices } from '../../shared/composition';
import { allocationBody, benchPolicy } from './allocation-fixture';
import { fmt, median, ratio, runBench, serve, tearDown } from './support';

const SIZES = [1000, 100_000];
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
  for (const target of SIZES) {
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
}

runBench(main);
