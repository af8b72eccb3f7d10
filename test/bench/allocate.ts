/**
 * `npm run bench:allocate`: the allocation webhook beside a bare Node HTTP server answering fixed JSON, in the same
 * run — cold start (process start to the first answered allocation), throughput and latency under autocannon with
 * a 1,000-rule policy and 50 linked hubs, p50/p99 at a fixed 1,000 requests/s, and the share of devices that move
 * when a 51st hub is linked (ideal 1/51).
 */
import 'reflect-metadata';

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadLocalSettings } from '../../dev/local-settings';
import { startLocalStack } from '../../dev/stack';
import { rank } from '../../shared/allocation/rendezvous';
import { buildServices } from '../../shared/composition';
import { CONTAINERS } from '../../shared/containers';
import { coldStart, fmt, load, median, ratio, runBench, tearDown } from './support';

const HUBS = Array.from({ length: 50 }, (_, i) => `hub-${String(i).padStart(2, '0')}.azure-devices.net`);

function policy() {
  const rules = Array.from({ length: 999 }, (_, i) => ({
    name: `tenant-${i}`,
    match: { enrollmentGroupId: `tenant-${i}-devices`, payload: { region: 'eu' } },
    pool: 'all',
  }));
  rules.push({
    name: 'matching-rule',
    match: { enrollmentGroupId: 'bench-group', payload: { region: 'eu' } },
    pool: 'all',
  });
  return {
    id: 'bench',
    pools: { all: { hubs: HUBS.map((hostName, i) => ({ hostName, weight: 1 + (i % 3) })) } },
    rules,
    denyList: { maxAgeSeconds: 300, failClosed: true },
  };
}

const body = JSON.stringify({
  enrollmentGroup: {
    enrollmentGroupId: 'bench-group',
    attestation: { type: 'symmetricKey' },
    allocationPolicy: 'custom',
    initialTwin: { tags: { tenant: 'bench' } },
  },
  deviceRuntimeContext: {
    registrationId: 'bench-device-000001',
    symmetricKey: {},
    payload: { modelId: 'dtmi:bench:device;1', region: 'eu' },
  },
  linkedHubs: HUBS,
});

async function serve(
  script: string,
  env: Record<string, string | undefined>,
): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  while (!/port=\d+/.test(out))
    out += ((await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer])[0].toString();
  return { port: Number(/port=(\d+)/.exec(out)?.[1]), child };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dpsl-bench-'));
  const settings = loadLocalSettings();
  const stack = await startLocalStack(settings, { dataDir, persistent: false, withStorage: false });
  const policyFile = join(dataDir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(policy()));
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
  const ours = join(__dirname, 'webhook-host.js');
  const path = '/api/allocate?code=bench';
  console.log('allocation webhook benchmark (1,000 rules, 50 linked hubs, 1,000 deny-list entries; 2-core machine)\n');

  const coldBare = await median(5, () => coldStart(bare, {}, path, body));
  const coldOurs = await median(5, () => coldStart(ours, env, path, body));
  console.log(`cold start, spawn → first answered allocation (median of 5)`);
  console.log(`  bare Node server   ${fmt(coldBare)} ms`);
  console.log(`  webhook            ${fmt(coldOurs)} ms   ratio ${ratio(coldOurs, coldBare)} (aim ≤ 2×)\n`);

  const results: Record<string, { rps: number; p50: number; p99: number }> = {};
  const fixed: Record<string, { p50: number; p99: number }> = {};
  for (const [name, script, e] of [
    ['bare', bare, {}],
    ['webhook', ours, env],
  ] as const) {
    const { port, child } = await serve(script, e);
    const url = `http://127.0.0.1:${port}${path}`;
    await load(url, body, { duration: 2, connections: 20 }); // warm-up
    results[name] = await load(url, body, { duration: 10, connections: 50 });
    fixed[name] = await load(url, body, { duration: 10, connections: 20, overallRate: 1000 });
    child.kill();
  }
  console.log('throughput, autocannon 50 connections, 10 s');
  console.log(
    `  bare Node server   ${fmt(results.bare.rps, 0)} req/s   p50 ${results.bare.p50} ms   p99 ${results.bare.p99} ms`,
  );
  console.log(
    `  webhook            ${fmt(results.webhook.rps, 0)} req/s   p50 ${results.webhook.p50} ms   p99 ${results.webhook.p99} ms   throughput ratio ${ratio(results.webhook.rps, results.bare.rps)} (aim ≥ 0.5×)\n`,
  );
  console.log('latency at a fixed 1,000 requests/s, 10 s');
  console.log(`  bare Node server   p50 ${fixed.bare.p50} ms   p99 ${fixed.bare.p99} ms`);
  console.log(`  webhook            p50 ${fixed.webhook.p50} ms   p99 ${fixed.webhook.p99} ms   (aim p99 < 10 ms)\n`);

  // The decision itself, in process (parse → deny check → rules → rendezvous → templates), without any HTTP host.
  const { AllocationRuntime } = await import('../../shared/use-cases/allocation-runtime');
  const { allocationSources, POLICY_DOCUMENT_ID } = await import('../../shared/use-cases/allocation-sources');
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
