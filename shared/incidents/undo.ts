/**
 * Undoing an incident — cancelled before approval, or released after its run — a bounded share at a time: for every
 * page of targets, its holds let go (what no other incident holds is put back: enrollments and hub devices enabled,
 * blocks deleted) and its deny entries released; then the groups; then what the scope named directly, and the CA's
 * disallow group in DPS (deleted once no incident holds it). A release stopped anywhere goes on from its cursor, and
 * finishes a restore it had begun (holds.ts). Deleted hub
 * registrations are not restored: the devices come back when they provision again. ADR registry devices are enabled
 * again like hub devices; a revoked and rotated CA is not (ADR cannot undo it: adr-rotate.ts says so on release).
 */
import { releaseRegistryDevices } from './adr-devices';
import { releaseRotation } from './adr-rotate';
import { emit, type IncidentDeps, millis, now, releaseDeny } from './deps';
import { releaseHold } from './holds';
import { holdId } from './repositories';
import { directDenyEntries, targetDenyEntries } from './rules/deny-entries';
import type { Incident } from './rules/model';
import type { UndoCursor } from './rules/step-state';
import { groupsToDisable } from './rules/target-actions';

export async function undoIncident(deps: IncidentDeps, incident: Incident, deadline: number) {
  const repo = await deps.incidents();
  const by = (incident.status === 'cancelling' ? incident.cancelledBy : incident.releasedBy) ?? 'unknown';
  let cursor: UndoCursor = incident.undo ?? { page: 0, phase: 'targets' };
  // A restore this share starts is its own until its lease ends (holds.ts): a holder arriving meanwhile waits.
  const claimUntil = incident.lease?.until ?? deadline;
  const release = (id: string) => releaseHold(deps, incident.id, id, by, claimUntil);
  const save = async (next: UndoCursor) => {
    cursor = next;
    return (await repo.update(incident.id, (i) => ({ ...i, undo: next }))) as Incident;
  };
  while (cursor.phase !== 'done') {
    if (millis(deps) >= deadline) return { incident: (await repo.get(incident.id)) as Incident, more: true };
    if (cursor.phase === 'targets') {
      if (cursor.page >= incident.resolution.pages) {
        await save({ page: 0, phase: 'groups' });
        continue;
      }
      const targets = (await repo.targets(incident.id, cursor.page)) ?? [];
      for (const t of targets) {
        await release(holdId.enrollment(t.registrationId));
        await release(holdId.block(t.registrationId));
        if (t.hub && t.deviceId) await release(holdId.device(t.hub, t.deviceId));
      }
      await releaseRegistryDevices(deps, incident, targets, by, claimUntil);
      await releaseDeny(deps, incident.id, targetDenyEntries(incident.request, targets), by);
      await save({ page: cursor.page + 1, phase: 'targets' });
    } else if (cursor.phase === 'groups') {
      for (const g of groupsToDisable(incident.request, incident.resolution.caGroups)) await release(holdId.group(g));
      await save({ page: 0, phase: 'direct' });
    } else {
      const { caGroups, ca } = incident.resolution;
      await releaseDeny(deps, incident.id, directDenyEntries(incident.request, caGroups, ca), by);
      if (ca?.sha256Thumbprint) await release(holdId.disallow(ca.sha256Thumbprint));
      await releaseRotation(deps, incident, by);
      await save({ page: 0, phase: 'done' });
    }
  }
  const status = incident.status === 'cancelling' ? 'cancelled' : 'released';
  const done = (await repo.update(incident.id, (i) => ({
    ...i,
    status,
    ...(status === 'cancelled' ? { cancelledAt: now(deps) } : { releasedAt: now(deps) }),
  }))) as Incident;
  await emit(deps, `incident.${status}`, incident.id, { by });
  return { incident: done, more: false };
}
