/**
 * Lifting a hold. Each thing an incident disables is held by every incident that needs it (dps-holds.ts,
 * hub-devices.ts): the first records what lifting will put back (nothing, when it was disabled before any incident
 * touched it), and only the last holder to let go puts it back — in two phases: the hold becomes a pending restore
 * (claimed until the releasing share's lease ends), the thing is put back, then the hold goes. A release stopped in
 * between finishes the restore when run again; a holder arriving meanwhile waits for it (HoldBusyError). Every
 * change is audited with what it was before, under an id of its own (the releasing incident, the change, the thing),
 * so a release run again records it once.
 */
import { audit, type AuditRecord } from '../audit';
import type { EnrollmentGroup, IndividualEnrollment } from '../dps-types';
import { NotFoundError } from '../errors';
import { dateOf, type IncidentDeps, lower, onceFor, withRetry } from './deps';
import { writeUnderEtag } from './etag-writes';
import { type Restore } from './repositories';

/**
 * Lets go of one hold; if no other incident holds the thing, puts back what the first holder changed. `claimUntil`
 * (ms): how long the pending restore is this release's — the end of its share's lease.
 */
export async function releaseHold(deps: IncidentDeps, incidentId: string, id: string, by: string, claimUntil: number) {
  const holds = await deps.holds();
  const pending = await holds.release(id, incidentId, claimUntil);
  if (!pending?.restore) return;
  await restore(deps, pending.restore, incidentId, by);
  await holds.restored(id, incidentId);
}

/** What a restore changes, named for its audit id (each part apart; case kept only where the service keeps it). */
const thingOf = (what: Restore): string[] =>
  'registrationId' in what
    ? [lower(what.registrationId)]
    : 'enrollmentGroupId' in what
      ? [lower(what.enrollmentGroupId)]
      : 'hub' in what
        ? [lower(what.hub), what.deviceId]
        : [lower(what.namespaceName), lower(what.deviceName)];

/** A delete sent again after a lost answer finds nothing: the first try deleted it. */
const goneIsDone = (err: unknown) => {
  if (!(err instanceof NotFoundError)) throw err;
};

async function restore(deps: IncidentDeps, what: Restore, incidentId: string, by: string): Promise<void> {
  const dps = await deps.enrollments();
  const r = withRetry(deps);
  const store = await deps.store();
  const actor = `release:${incidentId} by ${by}`;
  const record = (entry: Omit<AuditRecord, 'actor'>) =>
    audit(store, { actor, ...entry }, dateOf(deps), onceFor(deps, incidentId, 'restored', what.type, ...thingOf(what)));
  switch (what.type) {
    case 'enableEnrollment': {
      const e = await r(() => dps.getEnrollment(what.registrationId));
      if (!e || e.provisioningStatus !== 'disabled') return;
      const enabled = (x: IndividualEnrollment) => x.provisioningStatus === 'enabled';
      const read = () => dps.getEnrollment(what.registrationId);
      await writeUnderEtag(r, e, (x) => dps.putEnrollment({ ...x, provisioningStatus: 'enabled' }), read, enabled);
      return record({
        action: 'enableEnrollment',
        target: { kind: 'enrollment', id: e.registrationId },
        before: { provisioningStatus: 'disabled' },
        after: { provisioningStatus: 'enabled' },
      });
    }
    case 'deleteBlock': {
      const e = await r(() => dps.getEnrollment(what.registrationId));
      if (!e?.initialTwin?.tags?.blockedByIncident) return; // not our block: leave it
      await r(() => dps.deleteEnrollment(what.registrationId)).catch(goneIsDone);
      return record({
        action: 'deleteBlock',
        target: { kind: 'enrollment', id: what.registrationId },
        before: { provisioningStatus: e.provisioningStatus },
        after: null,
      });
    }
    case 'enableGroup': {
      const g = await r(() => dps.getGroup(what.enrollmentGroupId));
      if (!g || g.provisioningStatus !== 'disabled') return;
      const enabled = (x: EnrollmentGroup) => x.provisioningStatus === 'enabled';
      const read = () => dps.getGroup(what.enrollmentGroupId);
      await writeUnderEtag(r, g, (x) => dps.putGroup({ ...x, provisioningStatus: 'enabled' }), read, enabled);
      return record({
        action: 'enableEnrollmentGroup',
        target: { kind: 'enrollmentGroup', id: g.enrollmentGroupId },
        before: { provisioningStatus: 'disabled' },
        after: { provisioningStatus: 'enabled' },
      });
    }
    case 'deleteDisallowGroup': {
      const g = await r(() => dps.getGroup(what.enrollmentGroupId));
      if (!g?.initialTwin?.tags?.disallowedByIncident) return; // not our disallow: leave it
      await r(() => dps.deleteGroup(what.enrollmentGroupId)).catch(goneIsDone);
      return record({
        action: 'allowCa',
        target: { kind: 'enrollmentGroup', id: what.enrollmentGroupId },
        before: { provisioningStatus: g.provisioningStatus },
        after: null,
      });
    }
    case 'enableDevice': {
      const hub = (await deps.hubs()).hub(what.hub);
      const d = await r(() => hub.getDevice(what.deviceId));
      if (!d || d.status !== 'disabled') return;
      await r(() => hub.putDevice({ ...d, status: 'enabled', statusReason: undefined }));
      return record({
        action: 'enableDevice',
        target: { kind: 'device', id: d.deviceId, hub: what.hub },
        before: { status: 'disabled' },
        after: { status: 'enabled' },
      });
    }
  }
}
