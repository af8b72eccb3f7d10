/**
 * `npm run bench:breach`: contain a compromised intermediate CA with 10,000 devices over 5 simulated S1 hubs.
 * Prints the time until another webhook instance refuses the CA's devices, devices removed per minute as a ratio of
 * the hubs' registry throttle ceiling, and a kill -9 half-way: the next worker resumes, nothing is left behind,
 * nothing is deleted twice. Quotas are scaled ×SCALE (S1: 100 registry operations/min/unit → 100×SCALE; DPS 1,000
 * operations/min → 1,000×SCALE) so a run takes a minute, not an hour; the ratio to the ceiling does not depend on it.
 */
import 'reflect-metadata';

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BlobServiceClient } from '@azure/storage-blob';

import { loadLocalSettings } from '../../dev/local-settings';
import { type LocalStack, startLocalStack } from '../../dev/stack';
import { AllocationRuntime } from '../../shared/allocation/runtime';
import { allocationSources, POLICY_DOCUMENT_ID } from '../../shared/allocation/sources';
import { AUDIT_TRAIL_CONTAINER } from '../../shared/audit-trail';
import {
  buildServices,
  configDocument,
  denyListRepository,
  incidentRepositories,
  lazyServices,
} from '../../shared/composition';
import { decideIncident, type IncidentDeps, submitIncident } from '../../shared/incidents';
import type { Incident } from '../../shared/incidents/rules/model';
import type { StepState } from '../../shared/incidents/rules/step-state';
import {
  benchHubNames,
  benchHubSettings,
  caGroup,
  devicesLeft,
  incidentWorker,
  runIncidentWorker,
  seedDevices,
  type WorkerTally,
} from './bench-fleet';
import { fmt, ratio, runBench, tearDown, WORKER_OVERRAN } from './support';

const SCALE = Number(process.env.BENCH_SCALE ?? 30);
const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const HUB_COUNT = 5;
/** host.json's functionTimeout. */
const FUNCTION_TIMEOUT_MS = 10 * 60_000;
const hubNames = benchHubNames(HUB_COUNT);
const tally: WorkerTally = { overruns: 0, redelivered: 0 };
const seed = (stack: LocalStack, groupId: string, prefix: string) =>
  seedDevices(stack, hubNames, groupId, prefix, DEVICES);
const runWorker = (env: Record<string, string>, incidentId: string) => runIncidentWorker(env, incidentId, tally);
const worker = incidentWorker;
const remaining = (stack: LocalStack, prefix: string) => devicesLeft(stack, hubNames, prefix);

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dpsl-breach-'));
  const settings = loadLocalSettings();
  const { policy, ...hubSettings } = benchHubSettings(hubNames);
  Object.assign(settings.Values, hubSettings);
  // The webhook's policy over the bench's hubs (the demo policy names the demo hubs).
  settings.Values.ALLOCATION_POLICY_FILE = join(dataDir, 'policy.json');
  writeFileSync(settings.Values.ALLOCATION_POLICY_FILE, JSON.stringify(policy));
  const stack = await startLocalStack(settings, {
    dataDir,
    persistent: false,
    withStorage: true,
    quotas: {
      registryOpsPerMinutePerUnit: 100 * SCALE,
      dpsOperationsPerMinute: 1000 * SCALE,
      dpsRegistrationsPerMinute: 1000 * SCALE,
      burstSeconds: 2,
    },
  });
  // The import-job threshold scales with the throttle: ten minutes of a hub's registry operations, so bulk is measured.
  const env = {
    ...stack.env,
    EVENT_LOG_PATH: join(dataDir, 'events.ndjson'),
    HUB_IMPORT_JOB_THRESHOLD: String(10 * 100 * SCALE),
    // The host's 10-minute functionTimeout, time-scaled like the quotas; shares stop at half of it.
    FUNCTION_TIMEOUT_MS: String(Math.round(FUNCTION_TIMEOUT_MS / SCALE)),
    INCIDENT_BUDGET_MS: String(Math.round(FUNCTION_TIMEOUT_MS / SCALE / 2)),
  };
  const services = await buildServices(env);
  const ceilingPerMinute = HUB_COUNT * 100 * SCALE;
  console.log(
    `breach containment benchmark: ${fmt(DEVICES, 0)} devices under one intermediate CA over ${HUB_COUNT} S1 hubs (1 unit); quotas ×${SCALE}\n`,
  );

  // 1. A clean run: refusal time at another webhook instance, then the removal rate.
  const thumbA = await caGroup(services, 'line-a', 'Bench Line A Intermediate');
  seed(stack, 'line-a', 'dev-a');
  const webhook = new AllocationRuntime(
    allocationSources(
      configDocument(env, 'allocationPolicyFile', POLICY_DOCUMENT_ID, lazyServices(env)),
      lazyServices(env),
      denyListRepository(lazyServices(env)),
    ),
    { denyRefreshMs: 1000 },
  );
  await webhook.start();
  const probe = {
    enrollmentGroup: { enrollmentGroupId: 'line-a', attestation: { type: 'x509' } },
    deviceRuntimeContext: {
      registrationId: 'dev-a-7',
      x509: { subjectName: 'CN=dev-a-7', issuerName: 'CN=Bench Line A Intermediate' },
    },
    linkedHubs: hubNames,
  };
  const admitted = await webhook.allocate(probe);
  if (admitted.status !== 200)
    throw new Error(
      `the probe device should be admitted before the incident: ${admitted.status} ${JSON.stringify(admitted.body)}`,
    );

  const t0 = performance.now();
  const lazy = lazyServices(env);
  const deps: IncidentDeps = { ...lazy, ...incidentRepositories(lazy), retry: { attempts: 50 } };
  const incidents = await deps.incidents();
  const read = async (id: string) => (await incidents.get(id)) as Incident;
  const admin = { principal: 'bench admin', source: 'http' as const };
  await submitIncident(
    deps,
    { id: 'bench-a', reason: 'intermediate CA key leaked', mode: 'contain', scope: { issuerThumbprint: thumbA } },
    admin,
  );
  const submitted = performance.now() - t0;
  while ((await webhook.allocate(probe)).status !== 403) await new Promise((r) => setTimeout(r, 10));
  const refused = performance.now() - t0;
  await webhook.stop();
  console.log(
    `deny list first: incident accepted and written in ${fmt(submitted, 0)} ms; another webhook instance (refresh every 1 s) refuses the CA's devices ${fmt(refused, 0)} ms after the report`,
  );

  const planning = performance.now();
  await runWorker(env, 'bench-a');
  const planned = await read('bench-a');
  console.log(
    `plan ready ${fmt((performance.now() - planning) / 1000, 1)} s later: ${planned.status}, ${fmt(planned.plan?.devices ?? 0, 0)} devices on ${Object.keys(planned.plan?.perHub ?? {}).length} hubs`,
  );
  await decideIncident(deps, 'bench-a', 'approve', 'second bench admin');
  const started = performance.now();
  await runWorker(env, 'bench-a');
  const total = (performance.now() - started) / 1000;
  const doc = await read('bench-a');
  const hubSteps = (doc.steps as StepState[]).filter((s) => s.kind === 'hub');
  const hubSeconds =
    (Math.max(...hubSteps.map((s) => Date.parse(s.finishedAt as string))) -
      Math.min(...hubSteps.map((s) => Date.parse(s.startedAt as string)))) /
    1000;
  const perMinute = (DEVICES / hubSeconds) * 60;
  console.log(
    `contained in ${fmt(total, 1)} s (status ${doc.status}, ${remaining(stack, 'dev-a')} devices left on the hubs)`,
  );
  console.log(
    `  hub registrations removed: ${fmt(perMinute, 0)} devices/min over ${fmt(hubSeconds, 1)} s; the hubs' throttle ceiling is ${fmt(ceilingPerMinute, 0)}/min → ratio ${ratio(perMinute, ceilingPerMinute)} (aim ≥ 0.9)`,
  );
  for (const s of doc.steps as StepState[])
    console.log(
      `  step ${s.kind}${s.kind === 'hub' ? ` ${s.hub}` : ''}: ${s.done}/${s.total} in ${fmt((Date.parse(s.finishedAt as string) - Date.parse(s.startedAt as string)) / 1000, 1)} s`,
    );

  // 2. kill -9 half-way through the hub step, then a new worker resumes.
  const thumbB = await caGroup(services, 'line-b', 'Bench Line B Intermediate');
  seed(stack, 'line-b', 'dev-b');
  await submitIncident(
    deps,
    { id: 'bench-b', reason: 'intermediate CA key leaked', mode: 'contain', scope: { issuerThumbprint: thumbB } },
    admin,
  );
  await runWorker(env, 'bench-b');
  await decideIncident(deps, 'bench-b', 'approve', 'second bench admin');
  // Workers run until half the devices are gone (one that fails first is replaced, as redelivery would); then kill -9.
  let current = worker(env, 'bench-b');
  let exited = false;
  const watch = (w: typeof current) =>
    w.once('exit', (code) => {
      exited = true;
      if (code === WORKER_OVERRAN) tally.overruns++;
      else if (code !== 0) tally.redelivered++;
    });
  watch(current);
  let killedAt = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const d = await read('bench-b');
    killedAt = (d?.steps ?? []).filter((s) => s.kind === 'hub').reduce((n, s) => n + s.done, 0);
    if (killedAt >= DEVICES / 2) break;
    if (exited) {
      exited = false;
      current = worker(env, 'bench-b');
      watch(current);
    }
  }
  if (!exited) {
    current.removeAllListeners('exit'); // the kill is the test, not a failure to count
    const gone = new Promise((r) => current.once('exit', r));
    current.kill('SIGKILL');
    await gone;
  }
  const onHubsAtKill = remaining(stack, 'dev-b');
  // The killed worker's lease is waited out (its share's budget + 15 s), as a redelivered message would be.
  await runWorker(env, 'bench-b');
  const resumed = await read('bench-b');
  const registrationsLeft = [...stack.simulator.state.registrations.keys()].filter((k) => k.startsWith('dev-b')).length;
  console.log(
    `\nkill -9 after ${fmt(killedAt, 0)} checkpointed deletions (${fmt(onHubsAtKill, 0)} devices still on the hubs); a new worker resumed → status ${resumed.status}`,
  );
  console.log(
    `  left behind: ${remaining(stack, 'dev-b')} hub registrations, ${registrationsLeft} DPS registration records`,
  );
  // The deletions as the audit trail's append blobs hold them (the embedded Cosmos server cannot query 300,000
  // documents in time): one record id per device, so a line appended again by a replayed batch counts once.
  const records = new Map<string, string>();
  const trail = BlobServiceClient.fromConnectionString(stack.env.AzureWebJobsStorage).getContainerClient(
    AUDIT_TRAIL_CONTAINER,
  );
  for await (const blob of trail.listBlobsFlat()) {
    const text = (await trail.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.includes('"incident:bench-b"') || !line.includes('"deleteDevice"')) continue;
      const record = JSON.parse(line) as { id: string; actor: string; action: string; target: { id: string } };
      if (record.actor === 'incident:bench-b' && record.action === 'deleteDevice')
        records.set(record.id, record.target.id);
    }
  }
  const devices = new Set(records.values());
  console.log(
    `  deletions audited: ${fmt(records.size, 0)} records for ${fmt(devices.size, 0)} distinct devices — one record per device, every device: ${records.size === devices.size && devices.size === DEVICES}`,
  );

  console.log(`invocations that failed and were delivered again: ${tally.redelivered}`);
  console.log(
    `shares killed for overrunning functionTimeout (${fmt(FUNCTION_TIMEOUT_MS / SCALE / 1000, 0)} s time-scaled): ${tally.overruns}`,
  );
  await tearDown(services.events, stack, dataDir);
}

runBench(main);
