/**
 * The fleet the containment benches contain: S1 hubs, an X.509 group under an intermediate CA, devices put straight
 * into the simulator as if each had registered through it, and incident workers run as the queue runs them.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';

import { issue } from '../../dev/pki';
import { storeDevice } from '../../dev/sim/iothub';
import { newEtag } from '../../dev/sim/wire';
import type { LocalStack } from '../../dev/stack';
import type { Services } from '../../shared/composition';
import { normalizeThumbprint } from '../../shared/incidents/rules/incident';
import { WORKER_OVERRAN } from './support';

export const benchHubNames = (count: number) =>
  Array.from({ length: count }, (_, i) => `bench-hub-${i + 1}.azure-devices.net`);
const hubKey = (i: number) => Buffer.from(`bench hub ${i} key, development only`).toString('base64');

/** The settings that link the bench's hubs (their owner connection strings) and a policy over all of them. */
export function benchHubSettings(hubs: string[]) {
  return {
    IOTHUB_HOST_NAMES: hubs.join(','),
    IOTHUB_CONNECTION_STRINGS: hubs
      .map((h, i) => `HostName=${h};SharedAccessKeyName=iothubowner;SharedAccessKey=${hubKey(i)}`)
      .join(','),
    policy: {
      id: 'bench',
      pools: { all: { hubs: hubs.map((hostName) => ({ hostName })) } },
      rules: [],
      default: { pool: 'all' },
      denyList: { maxAgeSeconds: 300, failClosed: true },
    },
  };
}

/** An X.509 group whose devices chain to a fresh intermediate; answers the intermediate's thumbprint. */
export async function caGroup(services: Services, groupId: string, subject: string): Promise<string> {
  const root = await issue({ subject: `CN=${subject} Root`, isCa: true });
  const intermediate = await issue({ subject: `CN=${subject}`, isCa: true, issuer: root });
  await services.enrollments.putGroup({
    enrollmentGroupId: groupId,
    attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: intermediate.certPem } } } },
  });
  return normalizeThumbprint(new X509Certificate(intermediate.certPem).fingerprint256);
}

/** Puts `count` devices straight into the simulator, as if each had registered through the group, round-robin on `hubs`. */
export function seedDevices(stack: LocalStack, hubs: string[], groupId: string, prefix: string, count: number): void {
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const registrationId = `${prefix}-${i}`;
    const assignedHub = hubs[i % hubs.length];
    storeDevice(
      stack.simulator.state.hubs.get(assignedHub) as never,
      { deviceId: registrationId, authentication: { type: 'certificateAuthority' } },
      undefined,
    );
    stack.simulator.state.registrations.set(registrationId, {
      registrationId,
      deviceId: registrationId,
      assignedHub,
      status: 'assigned',
      substatus: 'initialAssignment',
      createdDateTimeUtc: now,
      lastUpdatedDateTimeUtc: now,
      etag: newEtag(),
      enrollmentGroupId: groupId,
    });
  }
}

/** Devices whose ID starts with `prefix` still on the hubs. */
export const devicesLeft = (stack: LocalStack, hubs: string[], prefix: string) =>
  hubs.reduce(
    (n, h) =>
      n + [...(stack.simulator.state.hubs.get(h)?.devices.keys() ?? [])].filter((k) => k.startsWith(prefix)).length,
    0,
  );

/** host.json's queues.maxDequeueCount: a message whose invocation fails this often goes to the poison queue. */
export const MAX_DEQUEUE = 5;

export function incidentWorker(env: Record<string, string>, incidentId: string) {
  return spawn(process.execPath, [join(__dirname, 'incident-worker.js'), incidentId], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export interface WorkerTally {
  overruns: number;
  redelivered: number;
}

/**
 * Runs worker processes until the incident needs nothing more, as the queue would: an invocation killed for
 * overrunning, or failed, is delivered again — at most MAX_DEQUEUE times in a row.
 */
export async function runIncidentWorker(
  env: Record<string, string>,
  incidentId: string,
  tally: WorkerTally,
): Promise<void> {
  for (let failures = 0; ;) {
    const code = await new Promise<number | null>((resolve) => incidentWorker(env, incidentId).on('exit', resolve));
    if (code === 0) return;
    if (code === WORKER_OVERRAN) tally.overruns++;
    else tally.redelivered++;
    if (++failures >= MAX_DEQUEUE) throw new Error(`incident ${incidentId}: ${failures} failed invocations in a row`);
  }
}
