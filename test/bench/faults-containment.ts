/**
 * `bench:faults`, containment: a compromised intermediate CA with `devices` devices over the bench's hubs, planned,
 * approved by a second admin and carried out by incident workers run as the queue runs them — under the fault plan
 * the caller sets — then every device judged: removed once, left on its hub, or removed twice; the bystanders (devices
 * of another CA) untouched; and the deletion audit records per device, from the audit trail's append blobs.
 */
import { BlobServiceClient } from '@azure/storage-blob';

import type { FaultPlan } from '../../dev/faults/plan';
import { tallyHubRemovals, tallyRegistrationRemovals } from '../../dev/sim/removals';
import type { LocalStack } from '../../dev/stack';
import { AUDIT_TRAIL_CONTAINER } from '../../shared/audit-trail';
import { incidentRepositories, lazyServices, type Services } from '../../shared/composition';
import { decideIncident, type IncidentDeps, submitIncident } from '../../shared/incidents';
import type { Incident } from '../../shared/incidents/rules/model';
import { caGroup, devicesLeft, runIncidentWorker, seedDevices, type WorkerTally } from './bench-fleet';

export interface ContainmentOutcome {
  devices: number;
  /** Hub devices, as the simulated hubs counted their deletes. */
  once: number;
  left: number;
  twice: number;
  /** DPS registration records, as the simulated DPS counted their deletes. */
  records: { once: number; left: number; twice: number };
  bystandersTouched: number;
  /** Per action, the fewest and most audit records a targeted device has (distinct records), and the lines. */
  auditPerDevice: Record<string, { min: number; max: number; lines: number }>;
  status: string;
  seconds: number;
  /** Where the time went, from the incident's own times: planning, then each step from its start to its end. */
  phases: Array<{ label: string; seconds: number }>;
  tally: WorkerTally;
  /** Why the queue would have given up, when it would have (five failed deliveries in a row). */
  poisoned?: string;
}

/** Tries a call of the bench's own (submit, approve) until it goes through, as an operator would click again. */
async function persist<T>(call: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await call();
    } catch (err) {
      if (tries >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function containUnder(
  stack: LocalStack,
  services: Services,
  env: Record<string, string>,
  hubs: string[],
  devices: number,
  faults: FaultPlan,
): Promise<ContainmentOutcome> {
  const thumbprint = await caGroup(services, 'line-x', 'Faults Bench Intermediate');
  seedDevices(stack, hubs, 'line-x', 'dev-x', devices);
  await caGroup(services, 'line-y', 'Faults Bench Bystander Intermediate');
  seedDevices(stack, hubs, 'line-y', 'dev-y', Math.ceil(devices / 10));
  const bystanders = devicesLeft(stack, hubs, 'dev-y');

  const lazy = lazyServices(env);
  const deps: IncidentDeps = { ...lazy, ...incidentRepositories(lazy), retry: { attempts: 50 } };
  const tally: WorkerTally = { overruns: 0, redelivered: 0 };
  const started = performance.now();
  stack.faults?.set(faults);
  let poisoned: string | undefined;
  try {
    await persist(() =>
      submitIncident(
        deps,
        {
          id: 'faults-x',
          reason: 'intermediate CA key leaked',
          mode: 'contain',
          scope: { issuerThumbprint: thumbprint },
        },
        { principal: 'bench admin', source: 'http' },
      ),
    );
    await runIncidentWorker(env, 'faults-x', tally);
    await persist(() => decideIncident(deps, 'faults-x', 'approve', 'second bench admin'));
    await runIncidentWorker(env, 'faults-x', tally);
  } catch (err) {
    poisoned = err instanceof Error ? err.message : String(err);
  }
  const seconds = (performance.now() - started) / 1000;
  stack.faults?.set({ rules: [] });
  const incident = (await (await deps.incidents()).get('faults-x')) as Incident | undefined;

  const ids = Array.from({ length: devices }, (_, i) => `dev-x-${i}`);
  const onHubs = tallyHubRemovals(
    stack.simulator.state,
    ids.map((deviceId, i) => ({ hub: hubs[i % hubs.length], deviceId })),
  );
  const records = tallyRegistrationRemovals(stack.simulator.state, ids);
  return {
    devices,
    once: onHubs.once,
    left: onHubs.left + onHubs.absent,
    twice: onHubs.twice,
    records: { once: records.once, left: records.left + records.absent, twice: records.twice },
    bystandersTouched: bystanders - devicesLeft(stack, hubs, 'dev-y'),
    auditPerDevice: await auditPerDevice(stack, 'faults-x', devices),
    status: incident?.status ?? 'missing',
    seconds,
    phases: phasesOf(incident),
    tally,
    ...(poisoned ? { poisoned } : {}),
  };
}

/** The incident's audit records per action and targeted device, from the append blobs (the embedded Cosmos cannot query them in time). */
async function auditPerDevice(stack: LocalStack, incidentId: string, devices: number) {
  const records = new Map<string, Map<string, Set<string>>>();
  const lines = new Map<string, number>();
  const actor = `"incident:${incidentId}"`;
  const trail = BlobServiceClient.fromConnectionString(stack.env.AzureWebJobsStorage).getContainerClient(
    AUDIT_TRAIL_CONTAINER,
  );
  for await (const blob of trail.listBlobsFlat()) {
    const text = (await trail.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.includes(actor)) continue;
      const record = JSON.parse(line) as { id: string; actor: string; action: string; target: { id: string } };
      if (record.actor !== `incident:${incidentId}` || !record.target.id.startsWith('dev-x-')) continue;
      lines.set(record.action, (lines.get(record.action) ?? 0) + 1);
      const byDevice = records.get(record.action) ?? new Map<string, Set<string>>();
      records.set(record.action, byDevice);
      byDevice.set(record.target.id, (byDevice.get(record.target.id) ?? new Set<string>()).add(record.id));
    }
  }
  const result: ContainmentOutcome['auditPerDevice'] = {};
  for (const [action, byDevice] of records) {
    let min = Infinity;
    let max = 0;
    for (let i = 0; i < devices; i++) {
      const n = byDevice.get(`dev-x-${i}`)?.size ?? 0;
      min = Math.min(min, n);
      max = Math.max(max, n);
    }
    result[action] = { min, max, lines: lines.get(action) ?? 0 };
  }
  return result;
}

const span = (from?: string, to?: string) => (from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : NaN);

/** Planning (receipt to plan), then each step, by the times the incident records. */
function phasesOf(incident: Incident | undefined): ContainmentOutcome['phases'] {
  if (!incident) return [];
  return [
    { label: 'planning', seconds: span(incident.receivedAt, incident.plannedAt) },
    ...(incident.steps ?? []).map((s) => ({
      label: s.kind === 'hub' ? `${s.kind} ${s.hub.split('.')[0]}` : s.kind,
      seconds: span(s.startedAt, s.finishedAt),
    })),
  ];
}
