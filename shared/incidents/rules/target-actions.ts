/**
 * What containment does to each thing it reaches (pure): a target's DPS action, the groups disabled whole, the group
 * that disallows a CA, the way a hub's devices go.
 */
import type { IncidentRequest } from './incident';
import type { HubPath } from './plan-summary';
import type { CompromisedGroup, Target } from './resolution';

const lower = (s: string) => s.toLowerCase();

export type DpsAction =
  { type: 'disableEnrollment'; registrationId: string } | { type: 'blockGroupDevice'; registrationId: string };

/** Groups disabled whole: the compromised CA's, and the one the scope names (unless DPS has no such group). */
export function groupsToDisable(
  request: IncidentRequest,
  caGroups: CompromisedGroup[],
  missingGroups: readonly string[] = [],
): string[] {
  const ids = new Map<string, string>();
  for (const g of caGroups) ids.set(lower(g.enrollmentGroupId), g.enrollmentGroupId);
  if (request.scope.enrollmentGroupId) ids.set(lower(request.scope.enrollmentGroupId), request.scope.enrollmentGroupId);
  for (const missing of missingGroups) ids.delete(lower(missing));
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

/** The group that disallows a CA in DPS: disabled, holding the CA's certificate; one per CA, whoever needs it. */
export const disallowGroupId = (sha256Thumbprint: string) => `disallow-ca-${sha256Thumbprint.toLowerCase()}`;
