/**
 * `npm run bench:containment-effect [-- --devices N]`: at N connected devices (default 1,000, symmetric key, on the
 * three local S1 hubs), an incident quarantines the enrollment group that holds 80 % of them. Measured from the
 * incident's acceptance (the 202 of `POST /api/incidents`), in the same run: the time until the deny list refuses a new
 * registration of a device of that group (through DPS and the webhook), and the time until the last targeted device's
 * client sees the hub drop it (the plan, the second admin's approval and the hubs' registry throttle in between).
 * Quotas are scaled ×SCALE (DPS 1,000 operations/min → 1,000×SCALE; S1 100 registry operations/min/unit →
 * 100×SCALE), as the other benches do. Only loopback traffic; every wait is bounded; no assertion on time.
 */
import 'reflect-metadata';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { deriveDeviceKey, registerSymmetricKeyDevice } from '../../dev/device';
import { connectFleetDevice, type FleetDevice, inPool } from '../../dev/fleet-devices';
import { ADMIN, connectedOnHubs, incidentApi, SECOND_ADMIN } from '../../dev/fleet-ops';
import { loadLocalSettings } from '../../dev/local-settings';
import { dpsServiceCall } from '../../dev/seed-certificates';
import { storeDevice } from '../../dev/sim/iothub';
import type { HubData } from '../../dev/sim/state';
import { newEtag } from '../../dev/sim/wire';
import { startLocalStack } from '../../dev/stack';
import { startAppHost } from '../support/app-host';
import { fmt, runBench } from './support';

const SCALE = Number(process.env.BENCH_SCALE ?? 30);
const arg = process.argv.indexOf('--devices');
const DEVICES = arg > 0 ? Number(process.argv[arg + 1]) : Number(process.env.BENCH_DEVICES ?? 1000);
const TARGETED = Math.round(DEVICES * 0.8);
const GROUP_KEY = Buffer.from('containment-effect bench group key, development only').toString('base64');
/** Every wait is bounded: a run that cannot finish says so instead of hanging. */
const WITHIN_MS = 10 * 60_000;
const since = (t0: number) => `${fmt((performance.now() - t0) / 1000, 2)} s`;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, everyMs = 50): Promise<T> {
  const end = Date.now() + WITHIN_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${WITHIN_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function main(): Promise<void> {
  if (!Number.isInteger(DEVICES) || DEVICES < 10 || DEVICES > 20_000) throw new Error('--devices: 10 to 20,000');
  const dataDir = mkdtempSync(join(tmpdir(), 'dpsl-effect-'));
  const stack = await startLocalStack(loadLocalSettings(), {
    dataDir,
    persistent: false,
    withStorage: true,
    pollAfterSeconds: 0,
    quotas: {
      registryOpsPerMinutePerUnit: 100 * SCALE,
      dpsOperationsPerMinute: 1000 * SCALE,
      dpsRegistrationsPerMinute: 1000 * SCALE,
      burstSeconds: 2,
    },
  });
  Object.assign(process.env, stack.env);
  const { registeredFunctions } = await import('../../functions/index');
  const host = await startAppHost({
    registrations: registeredFunctions(),
    env: process.env,
    queue: { retryDelaySeconds: 1 },
  });
  const env = stack.env;
  const hubs = env.IOTHUB_HOST_NAMES.split(',');
  const webhook = { webhookUrl: `${host.baseUrl}/api/allocate?code=fk`, apiVersion: '2021-10-01' };
  for (const groupId of ['bench-targeted', 'bench-spared'])
    await dpsServiceCall(
      env,
      'PUT',
      `/enrollmentGroups/${groupId}`,
      {
        enrollmentGroupId: groupId,
        attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } },
        allocationPolicy: 'custom',
        customAllocationDefinition: webhook,
      },
      '2021-10-01',
    );
  console.log(
    `containment effect benchmark: ${fmt(DEVICES, 0)} connected devices on ${hubs.length} S1 hubs (1 unit), ${fmt(TARGETED, 0)} in the quarantined group; quotas ×${SCALE}`,
  );

  // The devices are put in the simulator as if each had registered through its group (what is measured is
  // containment, not provisioning), then each connects with the official device SDK.
  const now = new Date().toISOString();
  const devices: FleetDevice[] = Array.from({ length: DEVICES }, (_, i) => {
    const deviceId = `effect-${i}`;
    const hub = hubs[i % hubs.length];
    const key = deriveDeviceKey(GROUP_KEY, deviceId);
    storeDevice(
      stack.simulator.state.hubs.get(hub) as HubData,
      {
        deviceId,
        authentication: { type: 'sas', symmetricKey: { primaryKey: key, secondaryKey: key } },
      } as never,
      undefined,
    );
    stack.simulator.state.registrations.set(deviceId, {
      registrationId: deviceId,
      deviceId,
      assignedHub: hub,
      status: 'assigned',
      substatus: 'initialAssignment',
      createdDateTimeUtc: now,
      lastUpdatedDateTimeUtc: now,
      etag: newEtag(),
      enrollmentGroupId: i < TARGETED ? 'bench-targeted' : 'bench-spared',
    } as never);
    return {
      deviceId,
      hub,
      kind: 'symmetric key',
      credential: { type: 'sas', key },
      targeted: i < TARGETED,
      connected: false,
    };
  });
  const connecting = performance.now();
  await inPool(devices, 50, (d) => connectFleetDevice(env, d));
  const connected = await connectedOnHubs(env, hubs);
  console.log(
    `${fmt(DEVICES, 0)} clients connected in ${since(connecting)}; the hubs' service API shows ${[...connected.values()].reduce((n, s) => n + s.size, 0)} Connected`,
  );

  // A new device of the targeted group registers through DPS and the webhook: admitted now, refused once denied.
  const probe = (n: number) =>
    registerSymmetricKeyDevice(env, `effect-probe-${n}`, deriveDeviceKey(GROUP_KEY, `effect-probe-${n}`)).then(
      () => true,
      () => false,
    );
  const probing = performance.now();
  if (!(await probe(0))) throw new Error('a new device of the group should be admitted before the incident');
  const admittedMs = performance.now() - probing;

  const api = incidentApi(host.baseUrl, 'fk');
  const scope = { enrollmentGroupId: 'bench-targeted' };
  const submitted = await api.post(
    '/api/incidents',
    { id: 'effect', reason: 'bench', mode: 'quarantine', scope },
    ADMIN,
  );
  const t0 = performance.now();
  if (submitted.status !== 202)
    throw new Error(`POST /api/incidents → ${submitted.status} ${JSON.stringify(submitted.body)}`);
  let attempt = 0;
  const deny = until('the deny list refusing a new registration', async () =>
    (await probe(++attempt)) ? undefined : performance.now() - t0,
  );
  const planned = await api.waitFor('effect', ['awaitingApproval'], WITHIN_MS);
  const plannedAt = performance.now() - t0;
  const approved = await api.post('/api/incidents/effect/approve', {}, SECOND_ADMIN);
  if (approved.status !== 200) throw new Error(`approve → ${approved.status} ${JSON.stringify(approved.body)}`);
  const approvedAt = performance.now() - t0;
  const targeted = devices.filter((d) => d.targeted);
  await until('every targeted client disconnected', () => (targeted.every((d) => !d.connected) ? true : undefined));
  const lastDisconnected = Math.max(...targeted.map((d) => (d.disconnectedAt ?? t0) - t0));
  const firstDisconnected = Math.min(...targeted.map((d) => (d.disconnectedAt ?? t0) - t0));
  const refusedAt = await deny;
  const status = (await api.waitFor('effect', ['quarantined', 'failed'], WITHIN_MS)).status;
  const after = await connectedOnHubs(env, hubs);
  const stillConnected = [...after.values()].reduce((n, s) => n + s.size, 0);

  const ceiling = hubs.length * 100 * SCALE;
  console.log(`\nfrom the incident's 202 (quotas ×${SCALE}):`);
  console.log(
    `  deny list refuses a new registration of a targeted device  ${fmt(refusedAt / 1000, 2)} s  (${attempt} registration(s) tried; baseline: an admitted registration took ${fmt(admittedMs / 1000, 2)} s before the incident)`,
  );
  console.log(
    `  plan ready (awaitingApproval, ${String((planned.plan as { devices?: number })?.devices)} devices)      ${fmt(plannedAt / 1000, 2)} s`,
  );
  console.log(`  approved by the second admin                               ${fmt(approvedAt / 1000, 2)} s`);
  console.log(`  first targeted client dropped by its hub                   ${fmt(firstDisconnected / 1000, 2)} s`);
  console.log(`  last targeted client dropped by its hub                    ${fmt(lastDisconnected / 1000, 2)} s`);
  console.log(
    `  disconnecting ${fmt(TARGETED, 0)} devices took ${fmt((lastDisconnected - approvedAt) / 1000, 2)} s after approval; the hubs' registry ceiling (${fmt(ceiling, 0)} ops/min) allows it in ${fmt((TARGETED / ceiling) * 60, 2)} s; unscaled (×1): ${fmt((TARGETED / (hubs.length * 100)) * 60, 0)} s`,
  );
  console.log(
    `incident ${String(status)}; service API Connected now: ${stillConnected} (the ${fmt(DEVICES - TARGETED, 0)} spared: ${devices.filter((d) => !d.targeted && d.connected).length} clients still connected)`,
  );
  await Promise.all(devices.map((d) => d.connection?.close().catch(() => undefined)));
  await host.close();
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
}

runBench(main);
