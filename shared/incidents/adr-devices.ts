/**
 * Containment in Azure Device Registry, device by device: each target's registry device in the namespace DPS is
 * linked to — there when DPS issued the device a certificate through one of its policies — is disabled, so the
 * device cannot provision again for a new certificate ("a disabled device cannot … reprovision",
 * RegistryDevicePropertiesBase). Each is a hold the incident owns, lifted on release by the last holder (enabled
 * again only if it was enabled when the first holder found it). A registry device whose `externalDeviceId` names
 * another device (registry names are derived, and may collide) is left alone and recorded as an error. A batch done again after a crash or a lost answer
 * re-reads each device first, and each change is audited once (under an id of its own).
 */
import { audit } from '../audit';
import { registryDeviceName } from '../certificates';
import { NotFoundError, ServiceError, ThrottledError, TransientError } from '../errors';
import { actorOf, dateOf, type IncidentDeps, lower, millis, onceFor, withRetry } from './deps';
import { settledEach, untilDeadline } from './early-end';
import { walkPages } from './page-walker';
import { holdId } from './repositories';
import type { Incident } from './rules/model';
import type { Target } from './rules/resolution';
import type { StepState } from './rules/step-state';

/** Registry devices read and changed at once (each a separate ARM call). */
const BATCH = 20;

/** ARM names compare without case. */
const auditOnce = (deps: IncidentDeps, incidentId: string, ns: string, name: string, what: 'disabled' | 'enabled') =>
  onceFor(deps, incidentId, 'adr', lower(ns), lower(name), what);

export function registryOf(deps: IncidentDeps) {
  if (!deps.deviceRegistry) throw new Error('Azure Device Registry is not configured (ADR_NAMESPACE)');
  return deps.deviceRegistry();
}

/** One device: its registry device held and disabled; answers an error to record, if ADR refused. */
async function disableOne(deps: IncidentDeps, incidentId: string, ns: string, deviceId: string) {
  const registry = await registryOf(deps);
  const r = withRetry(deps);
  const name = registryDeviceName(deviceId);
  try {
    const device = await r(() => registry.registryDevice(ns, name));
    if (!device) return undefined; // DPS issued it no certificate through this namespace: nothing in ADR
    // The name is derived from the device ID (refused characters made '-', padded, cut): another device's may answer
    // to it (`line_7` and `line-7`). The registry device says whose it is: never disable another device's.
    if (device.externalDeviceId !== undefined && device.externalDeviceId !== deviceId)
      return `${ns}/${name}: not disabled — this registry device is ${device.externalDeviceId}'s, not ${deviceId}'s (their registry names collide)`;
    const enabled = device.enablementState === 'Enabled';
    const hold = await (
      await deps.holds()
    ).acquire(
      holdId.registryDevice(ns, name),
      incidentId,
      enabled ? { type: 'enableRegistryDevice', namespaceName: ns, deviceName: name } : undefined,
      millis(deps),
    );
    // Disabled already, and this incident found it enabled: its own earlier try, whose answer or audit was lost.
    const ours = hold.holders[0] === incidentId && !!hold.restore;
    if (enabled) await r(() => registry.setDeviceEnablement(ns, name, 'Disabled'));
    if (enabled || ours)
      await audit(
        await deps.store(),
        {
          actor: actorOf(incidentId),
          action: 'disableRegistryDevice',
          target: { kind: 'registryDevice', id: `${ns}/${name}` },
          before: { enablementState: 'Enabled' },
          after: { enablementState: 'Disabled' },
        },
        dateOf(deps),
        auditOnce(deps, incidentId, ns, name, 'disabled'),
      );
    return undefined;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined; // deleted meanwhile: nothing left to disable
    // Throttled or transient beyond the retries: the share fails and is run again. Any other refusal is recorded.
    if (err instanceof ThrottledError || err instanceof TransientError || !(err instanceof ServiceError)) throw err;
    return `${ns}/${name}: ${err.message}`;
  }
}

export async function runAdrDevices(
  deps: IncidentDeps,
  incident: Incident,
  index: number,
  deadline: number,
): Promise<boolean> {
  const step = (incident.steps as StepState[])[index] as Extract<StepState, { kind: 'adrDevices' }>;
  return walkPages(
    deps,
    incident,
    index,
    {
      matches: (t) => !!t.deviceId,
      batch: BATCH,
      act: async (targets) => {
        // All of the batch at once; a failure lets those in flight finish before the share hears of it (early-end.ts).
        const errors: Array<string | undefined> = [];
        await settledEach([...targets.keys()], BATCH, untilDeadline(deps, deadline), async (i) => {
          errors[i] = await disableOne(deps, incident.id, step.namespaceName, targets[i].deviceId as string);
        });
        return errors.filter((e): e is string => !!e);
      },
    },
    deadline,
  );
}

/**
 * Release: each target's registry-device hold let go; the last holder enables it again, if it found it enabled — in
 * two phases (holds.ts): the hold stays a pending restore until the device is enabled, so a release that stopped in
 * between enables it when run again. `claimUntil`: the end of the releasing share's lease.
 */
export async function releaseRegistryDevices(
  deps: IncidentDeps,
  incident: Incident,
  targets: Target[],
  by: string,
  claimUntil: number,
) {
  const ns = (incident.steps ?? []).find((s) => s.kind === 'adrDevices')?.namespaceName;
  if (!ns) return;
  const holds = await deps.holds();
  for (const t of targets) {
    if (!t.deviceId) continue;
    const name = registryDeviceName(t.deviceId);
    const id = holdId.registryDevice(ns, name);
    const pending = await holds.release(id, incident.id, claimUntil);
    if (pending?.restore?.type !== 'enableRegistryDevice') continue;
    await enableAgain(deps, incident.id, ns, name, by);
    await holds.restored(id, incident.id);
  }
}

async function enableAgain(deps: IncidentDeps, incidentId: string, ns: string, name: string, by: string) {
  const registry = await registryOf(deps);
  const r = withRetry(deps);
  const device = await r(() => registry.registryDevice(ns, name));
  if (!device || device.enablementState === 'Enabled') return;
  await r(() => registry.setDeviceEnablement(ns, name, 'Enabled'));
  await audit(
    await deps.store(),
    {
      actor: `release:${incidentId} by ${by}`,
      action: 'enableRegistryDevice',
      target: { kind: 'registryDevice', id: `${ns}/${name}` },
      before: { enablementState: 'Disabled' },
      after: { enablementState: 'Enabled' },
    },
    dateOf(deps),
    auditOnce(deps, incidentId, ns, name, 'enabled'),
  );
}
