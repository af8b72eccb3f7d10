/**
 * What the containment-under-faults tests share: the worker's dependencies on the manual clock (its retries' backoff
 * moves the clock instead of waiting), shares run as the queue trigger runs them, and devices put straight into the
 * simulator as if each had registered (the tests are about containment, not provisioning).
 */
import { storeDevice } from '../../dev/sim/iothub';
import type { HubData } from '../../dev/sim/state';
import { newEtag } from '../../dev/sim/wire';
import { incidentRepositories, lazyServices } from '../../shared/composition';
import { CONTAINERS } from '../../shared/containers';
import { advanceIncident, type IncidentDeps } from '../../shared/incidents';
import type { Incident } from '../../shared/incidents/rules/model';
import type { StepState } from '../../shared/incidents/rules/step-state';
import type { ManualClock } from './manual-clock';
import type { TestStack } from './stack';

/** A seeded jitter, so the in-invocation backoff is the same on every run. */
export function seeded(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

export interface Run {
  incident?: Incident;
  /** Delays the shares asked for (the trigger queues the next share that much later). */
  waits: number[];
  /** Shares that threw: each would have spent one of the message's five deliveries. */
  failures: unknown[];
  /** The incident as the first share that asked for a delay left it. */
  firstWait?: Incident;
  /** The longest a share ran, on the manual clock (only waits move it: the time its retries slept). */
  longestShareMs: number;
}

/** `stackOf`: the test's stack, once started (the rig is made before it is). */
export function containmentRig(stackOf: () => TestStack, clock: ManualClock, hubs: string[]) {
  /** The worker's dependencies on the manual clock. */
  function depsOf(extra: Partial<IncidentDeps> = {}): IncidentDeps {
    const lazy = lazyServices(stackOf().env);
    return {
      ...lazy,
      ...incidentRepositories(lazy),
      clock,
      retry: { sleep: async (ms) => clock.advance(ms), random: seeded(11) },
      jobPollMs: 20,
      ...extra,
    };
  }

  /** Shares of the incident's work until it needs no more, as the queue trigger runs them, on the manual clock. */
  async function runShares(deps: IncidentDeps, id: string): Promise<Run> {
    const run: Run = { waits: [], failures: [], longestShareMs: 0 };
    for (let share = 0; share < 400; share++) {
      let advanced;
      const started = clock.millis();
      try {
        advanced = await advanceIncident(deps, id);
      } catch (err) {
        run.failures.push(err);
        if (run.failures.length >= 5) throw err; // the poison queue
        continue;
      } finally {
        run.longestShareMs = Math.max(run.longestShareMs, clock.millis() - started);
      }
      if (!advanced.more) return { ...run, incident: advanced.incident };
      // A wait of 0 is a wait too: a step found its dependency down, and the other steps' retries, moving the clock,
      // used up its delay before the share ended (how much depends on how the hubs' calls interleaved).
      if (advanced.retryAfterMs !== undefined) {
        run.firstWait ??= advanced.incident;
        run.waits.push(advanced.retryAfterMs);
        clock.advance(advanced.retryAfterMs);
      }
    }
    throw new Error(`incident ${id} never finished`);
  }

  function seedDevice(registrationId: string, hub: string, enrollmentGroupId?: string) {
    const at = new Date(clock.millis()).toISOString();
    storeDevice(
      stackOf().simulator.state.hubs.get(hub) as HubData,
      { deviceId: registrationId, authentication: { type: 'sas' } },
      undefined,
    );
    stackOf().simulator.state.registrations.set(registrationId, {
      registrationId,
      deviceId: registrationId,
      assignedHub: hub,
      status: 'assigned',
      substatus: 'initialAssignment',
      createdDateTimeUtc: at,
      lastUpdatedDateTimeUtc: at,
      etag: newEtag(),
      ...(enrollmentGroupId ? { enrollmentGroupId } : {}),
    });
  }

  /** A symmetric-key group with `perHub[h]` devices registered on hub h. */
  async function seedGroup(groupId: string, prefix: string, perHub: number[]) {
    await stackOf().services.enrollments.putGroup({
      enrollmentGroupId: groupId,
      attestation: { type: 'symmetricKey' },
      allocationPolicy: 'hashed',
    });
    const devices: Array<{ hub: string; deviceId: string }> = [];
    perHub.forEach((n, h) => {
      for (let i = 0; i < n; i++) devices.push({ hub: hubs[h], deviceId: `${prefix}-${h}-${i}` });
    });
    for (const d of devices) seedDevice(d.deviceId, d.hub, groupId);
    return devices;
  }

  /** Individual enrollments of a maker's lot, created through DPS's bulk API, each registered on a hub. */
  async function seedLot(lot: string, prefix: string, perHub: number) {
    const devices = hubs.flatMap((hub, h) =>
      Array.from({ length: perHub }, (_, i) => ({ hub, deviceId: `${prefix}-${h}-${i}` })),
    );
    const key = () => Buffer.from(`${Math.random()}`.padEnd(32, 'k')).toString('base64');
    for (let i = 0; i < devices.length; i += 10)
      await stackOf().services.enrollments.bulkEnrollments(
        'create',
        devices.slice(i, i + 10).map((d) => ({
          registrationId: d.deviceId,
          attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key(), secondaryKey: key() } },
          initialTwin: { tags: { manufacturer: 'acme-tpm', lot } },
        })),
      );
    for (const d of devices) seedDevice(d.deviceId, d.hub);
    return devices;
  }

  const hold = async (id: string) => stackOf().services.store.container(CONTAINERS.holds.name).read(id, id);
  async function holdsOf(incidentId: string) {
    const page = await stackOf()
      .services.store.container<{ id: string; holders: string[]; restore?: { type: string } }>(CONTAINERS.holds.name)
      .query('SELECT * FROM c', {}, { maxItems: 5000 });
    return page.items.filter((h) => h.holders.includes(incidentId));
  }

  return { depsOf, runShares, seedGroup, seedLot, hold, holdsOf };
}

export const stepOf = (incident: Incident | undefined, hub: string) =>
  (incident?.steps as StepState[]).find((s) => s.kind === 'hub' && s.hub === hub) as Extract<
    StepState,
    { kind: 'hub' }
  >;
export const stepOfKind = <K extends StepState['kind']>(incident: Incident | undefined, kind: K) =>
  (incident?.steps as StepState[]).find((s) => s.kind === kind) as Extract<StepState, { kind: K }>;
