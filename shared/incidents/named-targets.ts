/**
 * One ID the scope names, looked up as a target: by its registration, by its device ID, or on the hubs when no
 * enrollment gives it.
 */
import type { EnrollmentsPort, HubDirectory } from '../ports';
import { type IncidentDeps, lower, withRetry } from './deps';
import type { Target } from './rules/resolution';

/** A device named by its device ID, when a registration under the same ID gives exactly that device. */
export async function byDeviceId(dps: EnrollmentsPort, deps: IncidentDeps, id: string): Promise<Target | undefined> {
  const r = withRetry(deps);
  const [state, individual] = await Promise.all([
    r(() => dps.getRegistrationState(id)),
    r(() => dps.getEnrollment(id)),
  ]);
  if (!state || lower(state.deviceId ?? state.registrationId) !== lower(id)) return undefined;
  return {
    registrationId: state.registrationId,
    deviceId: id,
    hub: state.assignedHub,
    via: individual ? 'individual' : 'group',
  };
}

/** A device no enrollment gives: whichever hub holds it (registered outside DPS), else nothing but its deny entry. */
export async function onHubs(hubs: HubDirectory, deps: IncidentDeps, id: string): Promise<Target> {
  for (const hub of hubs.hostNames()) {
    const device = await withRetry(deps)(() => hubs.hub(hub).getDevice(id));
    if (device) return { registrationId: id, deviceId: device.deviceId, hub, via: 'none' };
  }
  return { registrationId: id, deviceId: id, via: 'none' };
}

export async function byRegistrationId(dps: EnrollmentsPort, deps: IncidentDeps, id: string): Promise<Target> {
  const r = withRetry(deps);
  const [state, individual] = await Promise.all([
    r(() => dps.getRegistrationState(id)),
    r(() => dps.getEnrollment(id)),
  ]);
  return {
    registrationId: state?.registrationId ?? id,
    deviceId: state?.deviceId,
    hub: state?.assignedHub,
    via: individual ? 'individual' : state ? 'group' : 'none',
  };
}
