/**
 * From a resolved incident to its plan and its steps (pure). The order keeps the identities out at every moment:
 * refuse first (deny list: the webhook stops admitting at once, written before any plan), then shut the identities
 * out of DPS, then disable (quarantine) or delete (contain) their hub registrations, hub by hub, then — when
 * containing — delete their DPS registration records, which would otherwise count against the DPS quota.
 */
import type { DenyEntry } from '../allocation/deny-list';
import type { IncidentRequest } from './incident';
import type { CompromisedGroup, HubPath, PlanSummary, StepState, Target } from './model';

export const DEFAULT_IMPORT_JOB_THRESHOLD = 1000;
const SAMPLE = 20;

const lower = (s: string) => s.toLowerCase();

function entry(request: IncidentRequest, kind: DenyEntry['kind'], value: string): DenyEntry {
  return { kind, value, reason: request.reason, incidentId: request.id };
}

/** What the incident refuses from its scope alone, and the subject of every compromised CA's group. */
export function directDenyEntries(request: IncidentRequest, caGroups: CompromisedGroup[]): DenyEntry[] {
  const { scope } = request;
  const entries = [
    ...(scope.certificateThumbprints ?? []).map((t) => entry(request, 'thumbprint', t)),
    ...caGroups.filter((g) => g.caSubject).map((g) => entry(request, 'issuer', g.caSubject)),
    ...(scope.enrollmentGroupId ? [entry(request, 'enrollmentGroupId', scope.enrollmentGroupId)] : []),
    // A device's ID is its registration ID unless its enrollment says otherwise: refuse it under both names.
    ...[...(scope.registrationIds ?? []), ...(scope.deviceIds ?? [])].map((id) => entry(request, 'registrationId', id)),
  ];
  return dedupe(entries);
}

/** What the incident refuses for the devices resolution found. */
export function targetDenyEntries(request: IncidentRequest, targets: Target[]): DenyEntry[] {
  return dedupe(targets.map((t) => entry(request, 'registrationId', t.registrationId)));
}

function dedupe(entries: DenyEntry[]): DenyEntry[] {
  const seen = new Map<string, DenyEntry>();
  for (const e of entries) seen.set(`${e.kind}:${lower(e.value)}`, seen.get(`${e.kind}:${lower(e.value)}`) ?? e);
  return [...seen.values()];
}

export type DpsAction =
  { type: 'disableEnrollment'; registrationId: string } | { type: 'blockGroupDevice'; registrationId: string };

/** Groups disabled whole: the compromised CA's, and the one the scope names. */
export function groupsToDisable(request: IncidentRequest, caGroups: CompromisedGroup[]): string[] {
  const ids = new Map<string, string>();
  for (const g of caGroups) ids.set(lower(g.enrollmentGroupId), g.enrollmentGroupId);
  if (request.scope.enrollmentGroupId) ids.set(lower(request.scope.enrollmentGroupId), request.scope.enrollmentGroupId);
  return [...ids.values()];
}

/** One device's DPS action: its individual enrollment disabled, or — in a group left enabled — a block of its own. */
export function dpsActionFor(target: Target, disabledGroups: ReadonlySet<string>): DpsAction | undefined {
  if (target.via === 'individual') return { type: 'disableEnrollment', registrationId: target.registrationId };
  if (target.via === 'group' && !(target.enrollmentGroupId && disabledGroups.has(lower(target.enrollmentGroupId))))
    return { type: 'blockGroupDevice', registrationId: target.registrationId };
  return undefined;
}

/**
 * The documented path for deleting far more devices than the registry throttle allows in minutes is an IoT Hub
 * import job in delete mode. Above `threshold` devices on one hub, containment takes it; disabling (quarantine)
 * always goes in bulk, since an import job would need each device's whole identity.
 */
export function hubPath(action: 'disable' | 'delete', devices: number, threshold: number): HubPath {
  return action === 'delete' && devices > threshold ? 'importJob' : 'bulk';
}

const progress = (total: number) => ({ state: 'pending' as const, done: 0, total, page: 0, offset: 0, errors: [] });

/** The plan an operator approves, and the steps that carry it out, from every page of targets. */
export function planIncident(
  request: IncidentRequest,
  caGroups: CompromisedGroup[],
  pages: Iterable<Target[]>,
  importJobThreshold = DEFAULT_IMPORT_JOB_THRESHOLD,
): { plan: PlanSummary; steps: StepState[] } {
  const groups = groupsToDisable(request, caGroups);
  const disabled = new Set(groups.map(lower));
  const action = request.mode === 'contain' ? 'delete' : 'disable';
  const devices = new Set<string>();
  const perHub = new Map<string, Set<string>>();
  const hubItems = new Map<string, number>();
  const sample: string[] = [];
  let withoutHub = 0;
  let enrollments = 0;
  let blocks = 0;
  let dpsItems = 0;
  let records = 0;
  for (const page of pages) {
    for (const t of page) {
      const act = dpsActionFor(t, disabled);
      if (act) dpsItems++;
      if (t.hub && t.deviceId) {
        hubItems.set(t.hub, (hubItems.get(t.hub) ?? 0) + 1);
        records++;
      }
      const key = lower(t.registrationId);
      if (devices.has(key)) continue;
      devices.add(key);
      if (sample.length < SAMPLE) sample.push(t.registrationId);
      if (act?.type === 'disableEnrollment') enrollments++;
      if (act?.type === 'blockGroupDevice') blocks++;
      if (t.hub && t.deviceId) {
        const onHub = perHub.get(t.hub) ?? new Set<string>();
        perHub.set(t.hub, onHub.add(lower(t.deviceId)));
      } else withoutHub++;
    }
  }
  const hubs = [...perHub.keys()].sort();
  const hubActions = hubs.map((hub) => {
    const count = (perHub.get(hub) as Set<string>).size;
    return { hub, action, devices: count, path: hubPath(action, count, importJobThreshold) } as const;
  });
  const steps: StepState[] = [];
  if (dpsItems || groups.length)
    steps.push({ kind: 'dps', groupsToDisable: groups, groupsDone: 0, ...progress(dpsItems + groups.length) });
  for (const h of hubActions)
    steps.push({ kind: 'hub', hub: h.hub, action, path: h.path, ...progress(hubItems.get(h.hub) ?? 0) });
  if (request.mode === 'contain' && records) steps.push({ kind: 'registrations', ...progress(records) });
  const plan: PlanSummary = {
    devices: devices.size,
    perHub: Object.fromEntries(hubs.map((h) => [h, (perHub.get(h) as Set<string>).size])),
    withoutHub,
    enrollmentsToDisable: enrollments,
    groupDevicesToBlock: blocks,
    groupsToDisable: groups,
    hubActions,
    deleteRegistrationRecords: request.mode === 'contain' ? devices.size - withoutHub : 0,
    sample,
  };
  return { plan, steps };
}
