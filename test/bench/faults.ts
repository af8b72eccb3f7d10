/**
 * `npm run bench:faults`: the same work twice on the same machine, once fault-free and once with `BENCH_FAULT_RATE`
 * (default 5 %) of the calls to every dependency failing (test/bench/fault-mix.ts) and one hub down for 60 s — each
 * part on a stack of its own, with the fault proxies in the path in both runs so only the faults differ:
 * 1. 20,000 TPM rows imported: rows enrolled once / lost / twice, counts against DPS;
 * 2. a 10,000-device containment over 5 hubs: devices removed once / left / twice, bystanders touched, deletion
 *    audit records per device;
 * 3. the webhook at 170 requests/s (a device to allocate, a device denied before the faults, a malformed body), with
 *    Cosmos also down for 10 s: answers by kind and status.
 * Quotas and the outage are time-scaled ×BENCH_SCALE (default 30), as the other benches are. `BENCH_PARTS` (a comma
 * list of `import`, `containment`, `webhook`; all by default) runs only those parts, e.g. the containment alone.
 */
import 'reflect-metadata';

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeEkFile } from '../../dev/ek-factory';
import type { FaultPlan, FaultRule } from '../../dev/faults/plan';
import { loadLocalSettings } from '../../dev/local-settings';
import { type LocalStack, startLocalStack } from '../../dev/stack';
import { buildServices, type Services } from '../../shared/composition';
import { benchHubNames, benchHubSettings } from './bench-fleet';
import { faultMix } from './fault-mix';
import { type ContainmentOutcome, containUnder } from './faults-containment';
import { type ImportOutcome, importUnder } from './faults-import';
import { type WebhookTally, webhookUnder } from './faults-webhook';
import { fmt, ratio, runBench } from './support';

const SCALE = Number(process.env.BENCH_SCALE ?? 30);
const RATE = Number(process.env.BENCH_FAULT_RATE ?? 0.05);
const ROWS = Number(process.env.BENCH_ROWS ?? 20_000);
const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const WEBHOOK_RATE = 170;
const WEBHOOK_SECONDS = Number(process.env.BENCH_WEBHOOK_SECONDS ?? 30);
const SEED = Number(process.env.BENCH_SEED ?? 23);
const HUBS = benchHubNames(5);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'import,containment,webhook').split(',').map((p) => p.trim()));
const unknownParts = [...PARTS].filter((p) => !['import', 'containment', 'webhook'].includes(p));
if (unknownParts.length) throw new Error(`BENCH_PARTS: unknown part(s) ${unknownParts.join(', ')}`);
/** host.json's functionTimeout. */
const FUNCTION_TIMEOUT_MS = 10 * 60_000;

interface Run {
  name: string;
  /** Absent when BENCH_PARTS left the part out. */
  import?: ImportOutcome;
  containment?: ContainmentOutcome;
  webhook?: WebhookTally;
  injected: string[];
}

async function onStack<T>(
  dir: string,
  name: string,
  part: (stack: LocalStack, services: Services, env: Record<string, string>) => Promise<T>,
) {
  const settings = loadLocalSettings();
  const dataDir = mkdtempSync(join(dir, `${name}-`));
  const { policy, ...hubSettings } = benchHubSettings(HUBS);
  Object.assign(settings.Values, hubSettings);
  settings.Values.ALLOCATION_POLICY_FILE = join(dataDir, 'policy.json');
  writeFileSync(settings.Values.ALLOCATION_POLICY_FILE, JSON.stringify(policy));
  const stack = await startLocalStack(settings, {
    dataDir,
    persistent: false,
    withStorage: true,
    faults: { rules: [] },
    quotas: {
      registryOpsPerMinutePerUnit: 100 * SCALE,
      dpsOperationsPerMinute: 1000 * SCALE,
      dpsRegistrationsPerMinute: 1000 * SCALE,
      burstSeconds: 2,
    },
    log: () => undefined,
  });
  const env = {
    ...stack.env,
    EVENT_LOG_PATH: join(dataDir, 'events.ndjson'),
    ALLOCATION_WEBHOOK_URL: 'https://example.invalid/api/allocate?code=x',
    HUB_IMPORT_JOB_THRESHOLD: String(10 * 100 * SCALE),
    FUNCTION_TIMEOUT_MS: String(Math.round(FUNCTION_TIMEOUT_MS / SCALE)),
    INCIDENT_BUDGET_MS: String(Math.round(FUNCTION_TIMEOUT_MS / SCALE / 2)),
    // A DPS or hub call's deadline (30 s in Azure), scaled like the rest: where the mix's stalls end.
    IOT_DEADLINE_MS: String(Math.max(1000, Math.round(30_000 / SCALE))),
  };
  const services = await buildServices(env);
  try {
    const result = await part(stack, services, env);
    return { result, injected: stack.faults?.summary() ?? '' };
  } finally {
    await services.events.close();
    await stack.close();
  }
}

async function run(dir: string, name: string, faulty: boolean): Promise<Run> {
  const plan = (extra: FaultRule[] = []): FaultPlan => (faulty ? faultMix(RATE, SEED, extra) : { rules: [] });
  const result: Run = { name, injected: [] };
  if (PARTS.has('import')) {
    const file = join(dir, `${name}.csv`);
    await writeEkFile(file, ROWS, { prefix: `acme-${name}-` });
    const imported = await onStack(dir, `${name}-import`, async (stack, _services, env) => {
      stack.faults?.set(plan());
      return importUnder(stack, env, file);
    });
    result.import = imported.result;
    result.injected.push(`import: ${imported.injected}`);
  }
  if (PARTS.has('containment')) {
    // One hub down for 60 s (time-scaled), starting a second into the work.
    const hubDown: FaultRule = {
      service: 'iothub',
      target: HUBS[2],
      window: { afterMs: 1000, forMs: 60_000 / SCALE },
      fault: { kind: 'down' },
    };
    const contained = await onStack(dir, `${name}-contain`, (stack, services, env) =>
      containUnder(stack, services, env, HUBS, DEVICES, plan([hubDown])),
    );
    result.containment = contained.result;
    result.injected.push(`containment: ${contained.injected}`);
  }
  if (PARTS.has('webhook')) {
    const cosmosDown: FaultRule = {
      service: 'cosmos',
      window: { afterMs: 5000, forMs: 10_000 },
      fault: { kind: 'down' },
    };
    const webhook = await onStack(dir, `${name}-webhook`, (stack, services, env) =>
      webhookUnder(stack, services, env, HUBS, {
        rate: WEBHOOK_RATE,
        seconds: WEBHOOK_SECONDS,
        faults: plan([cosmosDown]),
      }),
    );
    result.webhook = webhook.result;
    result.injected.push(`webhook: ${webhook.injected}`);
  }
  return result;
}

const statuses = (t: Record<string, number>) =>
  Object.entries(t)
    .sort()
    .map(([s, n]) => `${s}×${fmt(n, 0)}`)
    .join(' ');

type Row = (label: string, f: (r: Run) => string) => void;

function printImport(row: Row, of: (r: Run) => ImportOutcome): void {
  console.log(`import of ${fmt(ROWS, 0)} TPM rows`);
  row('rows enrolled once / lost / twice', (r) => `${fmt(of(r).once, 0)} / ${of(r).lost} / ${of(r).twice}`);
  row('rows reported failed', (r) => fmt(of(r).reportedFailed, 0));
  row('job counts off from DPS by', (r) => fmt(of(r).drift, 0));
  row('job status, time', (r) => `${of(r).status}, ${fmt(of(r).seconds)} s`);
}

function printContainment(runs: Run[], row: Row, of: (r: Run) => ContainmentOutcome): void {
  console.log(
    `containment of ${fmt(DEVICES, 0)} devices over ${HUBS.length} hubs (${HUBS[2]} down ${fmt(60 / SCALE)} s)`,
  );
  row('removed once / left / twice', (r) => `${fmt(of(r).once, 0)} / ${of(r).left} / ${of(r).twice}`);
  row(
    'DPS records removed once / left / twice',
    (r) => `${fmt(of(r).records.once, 0)} / ${of(r).records.left} / ${of(r).records.twice}`,
  );
  row('bystanders touched', (r) => String(of(r).bystandersTouched));
  const actions = [...new Set(runs.flatMap((r) => Object.keys(of(r).auditPerDevice)))].sort();
  for (const action of actions)
    row(`audit ${action} per device`, (r) => {
      const a = of(r).auditPerDevice[action];
      return a ? `${a.min}–${a.max} (${fmt(a.lines, 0)} lines)` : 'none';
    });
  row('incident status, time', (r) => `${of(r).status}, ${fmt(of(r).seconds)} s`);
  for (const label of [...new Set(runs.flatMap((r) => of(r).phases.map((p) => p.label)))])
    row(`  ${label}`, (r) => {
      const phase = of(r).phases.find((p) => p.label === label);
      return phase && Number.isFinite(phase.seconds) ? `${fmt(phase.seconds)} s` : '–';
    });
  row(
    'deliveries failed / overran',
    (r) =>
      `${of(r).tally.redelivered} / ${of(r).tally.overruns}${of(r).poisoned ? ` (poisoned: ${of(r).poisoned})` : ''}`,
  );
}

function print(runs: Run[]): void {
  const [clean, faulty] = runs;
  const row: Row = (label, f) => console.log(`  ${label.padEnd(42)}${runs.map((r) => f(r).padEnd(34)).join('')}`);
  console.log(`\n  ${''.padEnd(42)}${runs.map((r) => r.name.padEnd(34)).join('')}`);
  const times: string[] = [];
  if (clean.import && faulty.import) {
    printImport(row, (r) => r.import as ImportOutcome);
    times.push(`import ${ratio(faulty.import.seconds, clean.import.seconds)}`);
  }
  if (clean.containment && faulty.containment) {
    printContainment(runs, row, (r) => r.containment as ContainmentOutcome);
    times.push(`containment ${ratio(faulty.containment.seconds, clean.containment.seconds)}`);
  }
  if (PARTS.has('webhook')) {
    console.log(`webhook at ${WEBHOOK_RATE} requests/s for ${WEBHOOK_SECONDS} s (faults: Cosmos also down 10 s)`);
    for (const kind of ['allocate', 'denied', 'malformed'] as const)
      row(`  ${kind}`, (r) => statuses((r.webhook as WebhookTally)[kind]));
  }
  console.log('time to finish against the fault-free run');
  console.log(`  ${times.join(', ')}`);
  console.log('faults injected:');
  for (const line of faulty.injected) console.log(`  ${line}`);
}

/** Whether what ran under faults was exact: nothing lost, nothing twice, no bystander touched. */
function exact({ import: imported, containment: c }: Run): boolean {
  const importExact = !imported || (imported.lost === 0 && imported.twice === 0);
  const containmentExact =
    !c ||
    (c.left === 0 &&
      c.twice === 0 &&
      c.records.left === 0 &&
      c.records.twice === 0 &&
      Object.values(c.auditPerDevice).every((a) => a.min === 1 && a.max === 1) &&
      c.bystandersTouched === 0);
  return importExact && containmentExact;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dpsl-faults-'));
  console.log(
    `faults benchmark (${[...PARTS].join(', ')}): ${fmt(RATE * 100, 0)} % of the calls to DPS, the hubs, Cosmos and Storage failing (seed ${SEED}); quotas ×${SCALE}`,
  );
  try {
    const runs = [await run(dir, 'fault-free', false), await run(dir, 'faults', true)];
    print(runs);
    if (!exact(runs[1]))
      throw new Error('under faults something was lost, done twice, or touched that was not targeted: see above');
    console.log('\nexact under faults: nothing lost, nothing twice, no bystander touched');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
