/**
 * From a resolved incident to its ordered steps (pure). The order keeps the identities out at every moment: refuse
 * first (deny list: the webhook stops admitting at once), then shut the identities out of DPS, then remove (contain)
 * or disable (quarantine) their hub registrations, hub by hub in bulk, then — when containing — delete their DPS
 * registration records, which would otherwise count against the DPS quota.
 */
import type { DenyEntry } from '../allocation/deny-list';
import type { IncidentRequest } from './incident';

/** A device the incident reaches, as resolution found it. */
export interface Target {
  registrationId: string;
  deviceId?: string;
  hub?: string;
  /** How the device attests: through its own individual enrollment, or through a group. */
  via: 'individual' | 'group';
  enrollmentGroupId?: string;
}

/** A compromised CA's enrollment group, and the certificate slot that holds it. */
export interface CompromisedGroup {
  enrollmentGroupId: string;
  caSubject: string;
}

export type DpsAction =
  | { type: 'disableEnrollment'; registrationId: string }
  | { type: 'blockGroupDevice'; registrationId: string }
  | { type: 'disableGroup'; enrollmentGroupId: string };

export type Step =
  | { name: 'deny'; entries: DenyEntry[] }
  | { name: 'dps'; actions: DpsAction[] }
  | { name: 'hub'; hub: string; deviceIds: string[]; action: 'delete' | 'disable' }
  | { name: 'registrations'; registrationIds: string[] };

export interface Resolution {
  targets: Target[];
  groups: CompromisedGroup[];
  /** What resolution could not do, said in the incident (e.g. an unknown registration ID). */
  notes: string[];
}

export function denyEntries(incident: IncidentRequest, resolution: Resolution): DenyEntry[] {
  const common = { reason: incident.reason, incidentId: incident.id };
  const entries: DenyEntry[] = [];
  const seen = new Set<string>();
  const add = (kind: DenyEntry['kind'], value: string) => {
    const key = `${kind}:${value.toLowerCase()}`;
    if (!seen.has(key)) {
      seen.add(key);
      entries.push({ kind, value, ...common });
    }
  };
  for (const t of incident.scope.certificateThumbprints ?? []) add('thumbprint', t);
  for (const g of resolution.groups) add('issuer', g.caSubject);
  if (incident.scope.enrollmentGroupId) add('enrollmentGroupId', incident.scope.enrollmentGroupId);
  for (const t of resolution.targets) add('registrationId', t.registrationId);
  return entries;
}

export function planIncident(incident: IncidentRequest, resolution: Resolution): Step[] {
  const steps: Step[] = [{ name: 'deny', entries: denyEntries(incident, resolution) }];
  const groupsDisabled = new Set(resolution.groups.map((g) => g.enrollmentGroupId.toLowerCase()));
  if (incident.scope.enrollmentGroupId) groupsDisabled.add(incident.scope.enrollmentGroupId.toLowerCase());
  const actions: DpsAction[] = [...groupsDisabled].map((enrollmentGroupId) => ({
    type: 'disableGroup',
    enrollmentGroupId,
  }));
  for (const t of resolution.targets) {
    if (t.via === 'individual') actions.push({ type: 'disableEnrollment', registrationId: t.registrationId });
    else if (!(t.enrollmentGroupId && groupsDisabled.has(t.enrollmentGroupId.toLowerCase())))
      actions.push({ type: 'blockGroupDevice', registrationId: t.registrationId });
  }
  if (actions.length) steps.push({ name: 'dps', actions });

  const byHub = new Map<string, string[]>();
  for (const t of resolution.targets) {
    if (!t.hub || !t.deviceId) continue;
    byHub.set(t.hub, [...(byHub.get(t.hub) ?? []), t.deviceId]);
  }
  for (const [hub, deviceIds] of [...byHub].sort(([a], [b]) => a.localeCompare(b))) {
    steps.push({ name: 'hub', hub, deviceIds, action: incident.mode === 'contain' ? 'delete' : 'disable' });
  }
  if (incident.mode === 'contain') {
    const ids = resolution.targets.filter((t) => t.hub).map((t) => t.registrationId);
    if (ids.length) steps.push({ name: 'registrations', registrationIds: ids });
  }
  return steps;
}

/** How a hub step runs: bulk registry calls (≤ 100 devices each, within the registry throttle), or an import job. */
export type HubPath = 'bulk' | 'importJob';

/**
 * The documented path for deleting far more devices than the registry throttle allows in minutes is an IoT Hub
 * import job in delete mode (one job at a time per hub). Above `threshold` devices on one hub, containment takes it;
 * disabling (quarantine) always goes in bulk, since an import job would need each device's whole identity.
 */
export function hubPath(step: Extract<Step, { name: 'hub' }>, threshold: number): HubPath {
  return step.action === 'delete' && step.deviceIds.length > threshold ? 'importJob' : 'bulk';
}

export const DEFAULT_IMPORT_JOB_THRESHOLD = 1000;
