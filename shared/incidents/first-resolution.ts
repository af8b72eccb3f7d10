import { compromisedCa } from './compromised-ca';
import { type IncidentDeps, lower, withRetry } from './deps';
import type { Incident } from './rules/model';
import type { ResolutionCursor } from './rules/resolution';

/**
 * The first, small part of resolution, done while the incident is accepted: the compromised CA (what is known of
 * it, denied at once) and the groups taken whole because of it, and the groups whose members the incident reaches.
 */
export async function firstResolution(
  deps: IncidentDeps,
  incident: Incident,
): Promise<{ resolution: ResolutionCursor; notes: string[] }> {
  const { scope } = incident.request;
  const { ca, groups: caGroups, notes } = await compromisedCa(deps, scope);
  const missingGroups: string[] = [];
  if (scope.enrollmentGroupId) {
    const dps = await deps.enrollments();
    if (!(await withRetry(deps)(() => dps.getGroup(scope.enrollmentGroupId as string)))) {
      notes.push(`enrollment group ${scope.enrollmentGroupId} not found: nothing to disable for it`);
      missingGroups.push(scope.enrollmentGroupId);
    }
  }
  const memberGroups = [
    ...(scope.enrollmentGroupId && !missingGroups.length ? [scope.enrollmentGroupId] : []),
    ...caGroups.map((g) => g.enrollmentGroupId).filter((g) => lower(g) !== lower(scope.enrollmentGroupId ?? '')),
  ];
  return {
    resolution: { ...incident.resolution, phase: 'ids', index: 0, memberGroups, caGroups, ca, missingGroups },
    notes,
  };
}
