/**
 * `npm run bench:allocate`: the allocation webhook beside a bare Node HTTP server answering fixed JSON, in the same
 * run — cold start (process start to the first answered allocation), throughput and latency under autocannon with
 * a 1,000-rule policy and 50 linked hubs, p50/p99 at a fixed 1,000 requests/s, and the share of devices that move
 * when a 51st hub is linked (ideal 1/51).
 */
import 'reflect-metadata';

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { bundle } from '../../dev/bundle';
import { loadLocalSettings } from '../../dev/local-settings';
import { startLocalStack } from '../../dev/stack';
import { rank } from '../../shared/allocation/rules/rendezvous';
import { buildServices } from '../../shared/composition';
import { CONTAINERS } from '../../shared/containers';
import { allocationBody, benchPolicy, HUBS } from './allocation-fixture';
import { coldStart, fmt, load, median, ratio, runBench, serve, tearDown } from './support';

const body = allocationBody('bench-device-000001');

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dpsl-bench-'));
  const settings = loadLocalSettings();
  const stack = await startLocalStack(settings, { dataDir, persistent: false, withStorage: false });
  const policyFile = join(dataDir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(benchPolicy()));
  const env = { ...stack.env, ALLOCATION_POLICY_FILE: policyFile, EVENT_LOG_PATH: join(dataDir, 'events.ndjson') };
  const services = await buildServices(env);
  const deny = services.store.container(CONTAINERS.denyList.name);
  for (let i = 0; i < 1000; i++)
    await deny.upsert({
      id: `registrationId:revoked-${i}`,
      kind: 'registrationId',
      value: `revoked-${i}`,
      reason: 'bench',
    });

  const bare = join(__dirname, 'bare-server.js');
  const compiled = join(__dirname, 'webhook-host.js');
  // The same host script, bundled with the app the way `npm run bundle` bundles it for Azure.
  const bundled = await bundle(
    join(__dirname, '..', '..', '..', 'test', 'bench', 'webhook-host.ts'),
    join(dataDir, 'bundle'),
  );
  const variants = [
    ['bare Node server', bare, {}],
    ['webhook, bundled', bundled, env],
    ['webhook, tsc output', compiled, env],
  ] as const;
  const path = '/api/allocate?code=bench';
  console.log('allocation webhook benchmark (1,000 rules, 50 linked hubs, 1,000 deny-list entries; 2-core machine)\n');

  const cold: number[] = [];
  for (const [, script, e] of variants) cold.push(await median(7, () => coldStart(script, e, path, body)));
  console.log('cold start, spawn → first answered allocation (median of 7)');
  variants.forEach(([name], i) =>
    console.log(
      `  ${name.padEnd(20)} ${fmt(cold[i]).padStart(7)} ms${i ? `   ${ratio(cold[i], cold[0])} bare (aim ≤ 2×)` : ''}`,
    ),
  );
  console.log();
  if (process.env.BENCH_COLD_ONLY) return tearDown(services.events, stack, dataDir);

  const rates = [170, 1000]; // ten times one DPS's 1,000 registrations a minute, and a busy region
  const runs: Array<{
    name: string;
    open: Awaited<ReturnType<typeof load>>;
    fixed: Array<Awaited<ReturnType<typeof load>>>;
  }> = [];
  for (const [name, script, e] of variants) {
    const { port, child } = await serve(script, e);
    const url = `http://127.0.0.1:${port}${path}`;
    await load(url, body, { duration: 2, connections: 20 }); // warm-up
    const open = await load(url, body, { duration: 10, connections: 50 });
    const fixed = [];
    for (const overallRate of rates) fixed.push(await load(url, body, { duration: 10, connections: 20, overallRate }));
    runs.push({ name, open, fixed });
    child.kill();
  }
  console.log('throughput, autocannon 50 connections, 10 s');
  for (const r of runs)
    console.log(
      `  ${r.name.padEnd(20)} ${fmt(r.open.rps, 0).padStart(7)} req/s   p50 ${r.open.p50} ms   p99 ${r.open.p99} ms   ${ratio(r.open.rps, runs[0].open.rps)} bare`,
    );
  rates.forEach((rate, i) => {
    console.log(`\nlatency at a fixed ${fmt(rate, 0)} requests/s, 10 s`);
    for (const r of runs) console.log(`  ${r.name.padEnd(20)} p50 ${r.fixed[i].p50} ms   p99 ${r.fixed[i].p99} ms`);
  });
  console.log();
  const results = { bare: runs[0].open };

  // The decision itself, in process (parse → deny check → rules → rendezvous → templates), without any HTTP host.
  const { AllocationRuntime } = await import('../../shared/allocation/runtime');
  const { allocationSources, POLICY_DOCUMENT_ID } = await import('../../shared/allocation/sources');
  const { configDocument, denyListRepository, lazyServices } = await import('../../shared/composition');
  const runtime = new AllocationRuntime(
    allocationSources(
      configDocument(env, 'allocationPolicyFile', POLICY_DOCUMENT_ID, lazyServices(env)),
      lazyServices(env),
      denyListRepository(lazyServices(env)),
    ),
  );
  await runtime.start();
  const parsedBody = JSON.parse(body);
  const n = 50_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await runtime.allocate(parsedBody);
  const perSecond = n / ((performance.now() - t0) / 1000);
  await runtime.stop();
  console.log(
    `decision core in process (no HTTP host): ${fmt(perSecond, 0)} decisions/s on one core, ${fmt(1e6 / perSecond, 1)} µs each — ${ratio(perSecond, results.bare.rps)} the bare server's HTTP rate\n`,
  );

  const ids = Array.from({ length: 100_000 }, (_, i) => `device-${i}`);
  const hubs51 = [...HUBS, 'hub-50.azure-devices.net'];
  const before = ids.map(
    (id) =>
      rank(
        id,
        HUBS.map((hostName) => ({ hostName })),
      )[0].hostName,
  );
  const moved = ids.filter(
    (id, i) =>
      rank(
        id,
        hubs51.map((hostName) => ({ hostName })),
      )[0].hostName !== before[i],
  ).length;
  console.log(
    `linking a 51st hub moves ${fmt((moved / ids.length) * 100, 2)} % of 100,000 devices (ideal ${fmt(100 / 51, 2)} %, ratio ${ratio(moved / ids.length, 1 / 51)})`,
  );

  await tearDown(services.events, stack, dataDir);
}

runBench(main);
